"""The Report: plain, JSON-able data built from an Analysis; every renderer reads only this.

Rows can be folded to a display depth (a block instance becomes one row); totals never depend on the
depth, since they are computed from the leaf rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from archcalc.analysis import RF, Analysis, NodeResult
from archcalc.gc_pause import gc_paused
from archcalc.report.fmt import json_number
from archcalc.slotted import Slotted

SCHEMA_VERSION = 1

CONVENTIONS = {
    "macs": "multiply-accumulates: one fused multiply-add counts 1 (conv, fc, LRN window sums)."
            " The papers' 'FLOPs' (ResNet, VGG) and GoogLeNet's 'ops' are MACs.",
    "ops": "other element-wise FLOPs: bias adds, batch norm (2/element), activations (1/element,"
           " softmax 3), pooling (k·k − 1 comparisons or adds), residual adds (1/element per extra input)",
    "flops": "2·MACs + ops",
    "bwd_macs": "backward MACs: gradient w.r.t. weights (same as forward) plus w.r.t. the input (same"
                " as forward), the latter skipped where no gradient flows (layers reading the image)",
    "activations": "elements each layer newly allocates; in-place activations, views and inference"
                   " dropout add none; the total includes the input (CS231n convention)",
    "peak_activation": "liveness walk: largest sum of tensors alive at once in inference",
    "training_memory": "parameters + gradients + optimizer state + activations autograd saves for"
                       " backward (per distinct storage) × batch; no workspace or allocator slack",
    "receptive_field": "size: input pixels one output unit sees (dilated kernels count their extent);"
                       " jump: input distance between adjacent units; start: first input index seen by"
                       " unit 0 (negative = padding). Merged paths take the union.",
}


class RFData(Slotted):
    __slots__ = ("aligned", "envelope", "jump", "size", "start")

    size: list[int | float]
    jump: list[int | float]
    start: list[int | float]
    aligned: bool
    #: behind upsampling: the envelope of the units' fields (each sees the pixels inside it, some fewer)
    envelope: bool

    def __init__(self, size: list[int | float], jump: list[int | float], start: list[int | float], aligned: bool,
                 envelope: bool = False) -> None:
        self.size, self.jump, self.start, self.aligned, self.envelope = size, jump, start, aligned, envelope


class Row(Slotted):
    """One layer (or folded group) of the report; its fields in order are the JSON row's keys."""

    __slots__ = (
        "activations",
        "biases",
        "bwd_macs",
        "depth",
        "family",
        "flops",
        "group",
        "layers",
        "location",
        "macs",
        "memory_bytes",
        "name",
        "ops",
        "params",
        "rf",
        "rf_note",
        "shape",
        "trainable",
        "type",
        "weights",
    )

    name: str
    type: str
    family: str
    depth: int
    shape: list[int]
    params: int
    weights: int
    biases: int
    trainable: bool
    macs: int
    ops: int
    flops: int
    bwd_macs: int
    activations: int
    memory_bytes: int
    rf: RFData | None
    rf_note: str | None
    location: str | None
    group: bool
    layers: int

    def __init__(self, name: str, type: str, family: str, depth: int, shape: list[int], params: int,
                 weights: int, biases: int, trainable: bool, macs: int, ops: int, flops: int, bwd_macs: int,
                 activations: int, memory_bytes: int, rf: RFData | None, rf_note: str | None,
                 location: str | None, group: bool = False, layers: int = 1) -> None:
        self.name, self.type, self.family, self.depth, self.shape = name, type, family, depth, shape
        self.params, self.weights, self.biases, self.trainable = params, weights, biases, trainable
        self.macs, self.ops, self.flops, self.bwd_macs = macs, ops, flops, bwd_macs
        self.activations, self.memory_bytes, self.rf, self.rf_note = activations, memory_bytes, rf, rf_note
        self.location, self.group, self.layers = location, group, layers


class Report(Slotted):
    """The report of one analysis. Built without folding (``depth`` None), its rows are built on first use
    (:class:`Leaves`), and its groups' dicts too (:class:`Subtotals`): a JSON document is written straight
    from what they are built from, without them. Until its rows are built, a report keeps the analysis's
    per-node results alive (about what the rows would have taken)."""

    __slots__ = (
        "_leaves",
        "_subtotals",
        "batch",
        "conventions",
        "dtype",
        "figures",
        "groups",
        "rows",
        "schema_version",
        "spec",
        "totals",
        "warnings",
    )

    schema_version: int
    spec: dict[str, Any]
    dtype: str
    batch: int
    rows: list[Row]
    totals: dict[str, Any]
    conventions: dict[str, str]
    warnings: list[str]
    #: the spec's groups (blocks, branches, side outputs) in order: {"path": dotted path, "kind": "block:<name>",
    #: "branch", "side" or "group"}; rows under a group have names starting with its path (the report page's tree).
    #: Each also carries its subtotals over every layer under it: "layers", "params", "macs", "ops",
    #: "activations", and its output's "shape" and "rf" (the last layer's; the text tables' group rows)
    groups: list[dict[str, Any]]
    #: the spec's published figures beside archcalc's values and verdicts (archcalc.analysis.published)
    figures: list[dict[str, Any]]

    def __init__(self, schema_version: int, spec: dict[str, Any], dtype: str, batch: int, rows: list[Row] | Leaves,
                 totals: dict[str, Any], conventions: dict[str, str] | None = None, warnings: list[str] | None = None,
                 groups: list[dict[str, Any]] | Subtotals | None = None,
                 figures: list[dict[str, Any]] | None = None) -> None:
        self.schema_version, self.spec, self.dtype, self.batch = schema_version, spec, dtype, batch
        #: the rows not built yet (see :meth:`unbuilt_rows`): ``rows`` stays unset until first read
        self._leaves: Leaves | None = None
        if isinstance(rows, Leaves):
            self._leaves = rows
        else:
            self.rows = rows
        self.totals = totals
        self.conventions = dict(CONVENTIONS) if conventions is None else conventions
        self.warnings = [] if warnings is None else warnings
        #: the groups not made yet (see :meth:`unbuilt_groups`): ``groups`` stays unset until first read
        self._subtotals: Subtotals | None = None
        if isinstance(groups, Subtotals):
            self._subtotals = groups
        else:
            self.groups = [] if groups is None else groups
        self.figures = [] if figures is None else figures

    if not TYPE_CHECKING:  # (hidden from mypy, which would take any attribute of a Report for this one)
        def __getattr__(self, name: str) -> Any:
            """Reached only for an unset slot: ``rows`` or ``groups`` not built yet, built now (once)."""
            if name == "rows":
                leaves = self._leaves
                if leaves is not None:
                    self.rows = rows = leaves.rows()
                    return rows
            elif name == "groups":
                subtotals = self._subtotals
                if subtotals is not None:
                    self.groups = groups = subtotals.groups()
                    return groups
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        # rows or groups set, by the builder or a caller: the unbuilt ones are forgotten
        if name == "rows":
            object.__setattr__(self, "_leaves", None)
        elif name == "groups":
            object.__setattr__(self, "_subtotals", None)
        object.__setattr__(self, name, value)

    def unbuilt_rows(self) -> Leaves | None:
        """What the rows will be built from, while no one has read or set them (the JSON writer writes them
        from it directly); None once they exist."""
        return self._leaves

    def unbuilt_groups(self) -> Subtotals | None:
        """What the groups' dicts will be made from, while no one has read or set them; None once they exist."""
        return self._subtotals

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (the document ``summary --format json`` prints)."""
        data = self.head()
        data["rows"] = [row_dict(r) for r in self.rows]
        return data

    def head(self) -> dict[str, Any]:
        """:meth:`to_dict` with ``rows`` still None (in its place): the JSON renderer encodes rows one by one.

        Every value is a fresh copy (plain lists and dicts, built directly: ``copy.deepcopy`` of a report
        costs more than the rest of ``to_dict``), so the caller may change it without touching the Report.
        """
        skip = ("rows", "groups", "figures")
        data = {name: _plain(getattr(self, name)) for name in self._fields if name not in skip}
        data["rows"] = None
        data["groups"] = [{**g, "shape": list(g["shape"]), "rf": dict(g["rf"]) if g.get("rf") else g.get("rf")}
                          if "shape" in g else dict(g) for g in self.groups]
        data["figures"] = [_plain(f) for f in self.figures]
        return data

    def records(self) -> list[dict[str, Any]]:
        """One flat dict per row, numbers as numbers (shape and field split per axis): the CSV's rows."""
        return [_record(r) for r in self.rows]

    def to_dataframe(self) -> Any:
        """The rows as a pandas DataFrame (pandas is not a dependency of archcalc: install it to use this)."""
        try:
            import pandas as pd
        except ImportError:
            from archcalc.errors import OptionError

            raise OptionError("to_dataframe() needs pandas, which is not installed (pip install pandas)") from None
        return pd.DataFrame.from_records(self.records(), columns=list(RECORD_COLUMNS))

    def _repr_html_(self) -> str:
        """Jupyter's view: the layer table and the totals."""
        from archcalc.report.render import to_html

        return to_html(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """The Report a JSON document describes (older documents without groups or figures included)."""
        rows = []
        for raw in data["rows"]:
            row = dict(raw)
            row["rf"] = RFData(**row["rf"]) if row["rf"] is not None else None
            rows.append(Row(**row))
        return cls(**{**data, "rows": rows})


RECORD_COLUMNS = ("name", "type", "family", "depth", "group", "layers", "out_c", "out_h", "out_w", "params",
                  "weights", "biases", "trainable", "macs", "ops", "flops", "bwd_macs", "activations",
                  "memory_bytes", "rf_h", "rf_w", "jump_h", "jump_w", "start_h", "start_w", "rf_aligned",
                  "location")


def row_dict(r: Row) -> dict[str, Any]:
    """One row as JSON data (a fresh dict; its keys in the order of Row's fields, which a test holds)."""
    return {"name": r.name, "type": r.type, "family": r.family, "depth": r.depth, "shape": list(r.shape),
            "params": r.params, "weights": r.weights, "biases": r.biases, "trainable": r.trainable, "macs": r.macs,
            "ops": r.ops, "flops": r.flops, "bwd_macs": r.bwd_macs, "activations": r.activations,
            "memory_bytes": r.memory_bytes, "rf": _rf_dict(r.rf), "rf_note": r.rf_note, "location": r.location,
            "group": r.group, "layers": r.layers}


def _plain(value: Any) -> Any:
    """A copy of JSON-like data: dicts, lists and tuples are copied (tuples become lists), the rest shared."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _rf_dict(rf: RFData | None) -> dict[str, Any] | None:
    return None if rf is None else {"size": list(rf.size), "jump": list(rf.jump), "start": list(rf.start),
                                    "aligned": rf.aligned, "envelope": rf.envelope}


def _record(r: Row) -> dict[str, Any]:
    return dict(zip(RECORD_COLUMNS, record_values(r), strict=True))


def record_values(r: Row) -> tuple[Any, ...]:
    """A row's :data:`RECORD_COLUMNS` values in order (the CSV writes these without a dict per row)."""
    shape = list(r.shape) + [None] * (3 - len(r.shape))
    rf: list[Any] = [None] * 7
    if r.rf is not None:
        rf = [r.rf.size[0], r.rf.size[-1], r.rf.jump[0], r.rf.jump[-1], r.rf.start[0], r.rf.start[-1], r.rf.aligned]
    return (r.name, r.type, r.family, r.depth, r.group, r.layers, *shape[:3], r.params, r.weights, r.biases,
            r.trainable, r.macs, r.ops, r.flops, r.bwd_macs, r.activations, r.memory_bytes, *rf, r.location)


def weight_depth(analysis: Analysis) -> int:
    """Weight layers on the longest path (how papers count depth: VGG16 16, GoogLeNet 22, ResNet-34 34)."""
    graph = analysis.graph
    depth: list[int] = []  # by position (Graph.wiring)
    keep = depth.append
    for r, ins in zip(analysis.results.values(), graph.wiring, strict=True):
        # most nodes read one input: no max() over a list for them
        here = depth[ins[0]] if len(ins) == 1 else max([depth[i] for i in ins], default=0)
        keep(here + 1 if r.rec.counts_depth else here)
    positions = graph.positions
    return max(depth[positions[o]] for o in graph.outputs[:1])


def _row(r: NodeResult, itemsize: int) -> Row:
    rec, node = r.rec, r.node
    p, c = rec.params, rec.cost
    alloc = r.alloc_elems
    loc = node.loc
    return Row(node.name, rec.op, rec.family.value, len(node.scope), list(rec.out), p.weights + p.biases, p.weights,
               p.biases, p.trainable, c.macs, c.ops, 2 * c.macs + c.ops, r.bwd_macs, alloc, alloc * itemsize,
               None if r.rf is None else rf_data(r.rf), r.rf_note, str(loc) if loc else None)


class Leaves:
    """Every node's row before it is built: per node its result, its case's template row, its field and its
    location's text, each shared by the nodes that have the same.

    Deep specs repeat a few records (ResNet-1202: 21 for 4,209 nodes; a chain: 3): a row's figures depend
    only on its record, its in-place plan, whether a gradient flows and its depth, so each distinct case is
    worked out once (:func:`_row`), and a location shared by many nodes is converted once, looked up by
    identity (the analysis keeps every one alive meanwhile). A field stays the analysis' own (:class:`RF`)
    until a row is built from it (:func:`rf_data`) or written (the JSON writer turns each into text once).
    A row differs from its template only in its name, field, note and location: :meth:`row` builds it, with
    lists of its own.
    """

    __slots__ = ("fields", "locations", "names", "results", "templates")

    def __init__(self, analysis: Analysis) -> None:
        itemsize = analysis.itemsize
        self.results: list[NodeResult] = list(analysis.results.values())
        self.names: list[str] = list(analysis.results)  # (the results are keyed by their nodes' names)
        self.templates: list[Row] = []
        self.fields: list[RF | None] = [r.rf for r in self.results]
        self.locations: list[str | None] = []
        templates, locations = self.templates.append, self.locations.append
        cases: dict[tuple[int, int | None, bool, int], Row] = {}
        texts: dict[int, str | None] = {}
        for r in self.results:
            node = r.node
            key = (id(r.rec), r.inplace, r.needs_input_grad, len(node.scope))
            t = cases.get(key)
            if t is None:
                t = cases[key] = _row(r, itemsize)
            templates(t)
            loc = node.loc
            where = texts.get(id(loc), "")
            if where == "":
                where = texts[id(loc)] = str(loc) if loc else None
            locations(where)

    @staticmethod
    def row(name: str, r: NodeResult, t: Row, f: RF | None, where: str | None) -> Row:
        """Node ``r``'s row (``name``) from its case's template ``t``, its field ``f`` and its location's text."""
        data = None if f is None else rf_data(f)
        return Row(name, t.type, t.family, t.depth, t.shape[:], t.params, t.weights, t.biases, t.trainable,
                   t.macs, t.ops, t.flops, t.bwd_macs, t.activations, t.memory_bytes, data, r.rf_note, where)

    def rows(self) -> list[Row]:
        """Every node's row, as :func:`_row` would build it."""
        row = self.row
        return [row(name, r, t, f, where) for name, r, t, f, where
                in zip(self.names, self.results, self.templates, self.fields, self.locations, strict=True)]


def rf_data(rf: RF) -> RFData:
    """A field as report data (lists of its own); whole numbers (all but fields behind upsampling) take the
    short way."""
    h, w = rf.h, rf.w
    if (type(h.size) is int and type(w.size) is int and type(h.jump) is int and type(w.jump) is int
            and type(h.start) is int and type(w.start) is int):
        return RFData([h.size, w.size], [h.jump, w.jump], [h.start, w.start], rf.aligned, rf.envelope)
    return RFData(envelope=rf.fractional, size=[json_number(v) for v in rf.size],
                  jump=[json_number(v) for v in rf.jump], start=[json_number(v) for v in rf.start],
                  aligned=rf.aligned)


def as_data(field: RF | RFData | None) -> RFData | None:
    """A layer's field as report data (a field from the analysis converted; report data as it is)."""
    return field if field is None or isinstance(field, RFData) else rf_data(field)


def fold(rows: list[Row], depth: int | None, group_kinds: dict[str, str]) -> list[Row]:
    """Collapse rows nested deeper than ``depth`` into one row per enclosing group."""
    if depth is None:
        return rows
    out: list[Row] = []
    index: dict[str, int] = {}
    for row in rows:
        parts = row.name.split(".")
        if len(parts) - 1 <= depth:
            out.append(row)
            continue
        gname = ".".join(parts[:depth + 1]) if depth >= 0 else parts[0]
        if gname not in index:
            index[gname] = len(out)
            kind = group_kinds.get(gname, "group").removeprefix("block:")
            out.append(Row(name=gname, type=kind, family="block", depth=depth, shape=row.shape, params=0,
                           weights=0, biases=0, trainable=True, macs=0, ops=0, flops=0, bwd_macs=0, activations=0,
                           memory_bytes=0, rf=row.rf, rf_note=row.rf_note, location=row.location, group=True, layers=0))
        g = out[index[gname]]
        g.params += row.params
        g.weights += row.weights
        g.biases += row.biases
        g.macs += row.macs
        g.ops += row.ops
        g.flops += row.flops
        g.bwd_macs += row.bwd_macs
        g.activations += row.activations
        g.memory_bytes += row.memory_bytes
        g.layers += 1
        g.trainable = g.trainable and row.trainable
        g.shape, g.rf, g.rf_note = row.shape, row.rf, row.rf_note  # the group's output is its last row's
    return out


def group_subtotals(names: list[str], figures: list[Row], fields: Sequence[RF | RFData | None],
                    kinds: dict[str, str]) -> list[dict[str, Any]]:
    """Each group with the sums of every layer under it and its output (its last layer's): the layers'
    ``names``, a row with each one's figures (its own or its case's template: no row need be built) and
    each one's field."""
    return Subtotals(group_sums(names, figures, kinds), figures, fields).groups()


#: a group's sums (:func:`group_sums`): its path, its kind, and [layers, params, macs, ops, activations, the
#: index of its last layer] or None for a group with no layer
GroupSums = tuple[str, str, list[Any] | None]


def group_sums(names: list[str], figures: list[Row], kinds: dict[str, str]) -> list[GroupSums]:
    """Each group's sums over every layer under it (see :func:`group_subtotals`), in ``kinds``' order.

    Linear: the rows are summed per parent path first (one update per row), then each parent's sums are
    added to the groups enclosing it (one per parent and level).
    """
    # parent path → [layers, params, macs, ops, activations, its last layer's index], in order of first appearance
    per_parent: dict[str, list[Any]] = {}
    for i, (name, row) in enumerate(zip(names, figures, strict=True)):
        parent = name.rpartition(".")[0]
        if not parent:
            continue
        sums = per_parent.get(parent)
        if sums is None:
            per_parent[parent] = [1, row.params, row.macs, row.ops, row.activations, i]
            continue
        sums[0] += 1
        sums[1] += row.params
        sums[2] += row.macs
        sums[3] += row.ops
        sums[4] += row.activations
        sums[5] = i
    # group path → the same, summed over the parents under it (its last row: the latest of theirs)
    acc: dict[str, list[Any]] = {}
    for parent, sums in per_parent.items():
        if "." not in parent:  # one level: the parent itself is the only candidate group
            if parent in kinds:
                _add(acc, parent, sums)
            continue
        prefix = ""
        for part in parent.split("."):
            prefix = f"{prefix}.{part}" if prefix else part
            if prefix in kinds:
                _add(acc, prefix, sums)
    return [(path, kind, acc.get(path)) for path, kind in kinds.items()]


class Subtotals:
    """The groups' sums and what their outputs are read from (the layers' figures and fields), before each
    group's dict is made: the report makes them on first read, the JSON writer writes them without."""

    __slots__ = ("fields", "figures", "sums")

    def __init__(self, sums: list[GroupSums], figures: list[Row], fields: Sequence[RF | RFData | None]) -> None:
        self.sums, self.figures, self.fields = sums, figures, fields

    def group(self, path: str, kind: str, g: list[Any] | None) -> dict[str, Any]:
        """One group's dict: its sums, and its output's shape and field (its last layer's)."""
        if g is None:
            return {"path": path, "kind": kind, "layers": 0, "params": 0, "macs": 0, "ops": 0, "activations": 0,
                    "shape": [], "rf": None}
        last = g[5]
        return {"path": path, "kind": kind, "layers": g[0], "params": g[1], "macs": g[2], "ops": g[3],
                "activations": g[4], "shape": list(self.figures[last].shape),
                "rf": _rf_dict(as_data(self.fields[last]))}

    def groups(self) -> list[dict[str, Any]]:
        group = self.group
        return [group(path, kind, g) for path, kind, g in self.sums]


def _add(acc: dict[str, list[Any]], path: str, sums: list[Any]) -> None:
    g = acc.get(path)
    if g is None:
        acc[path] = sums.copy()
    else:
        g[0] += sums[0]
        g[1] += sums[1]
        g[2] += sums[2]
        g[3] += sums[3]
        g[4] += sums[4]
        g[5] = max(g[5], sums[5])  # the group's last layer: the latest of its parents' last layers


def build_report(analysis: Analysis, depth: int | None = None, batch: int = 1, optimizer: str = "momentum",
                 memory_budget: int | None = None) -> Report:
    """Turn an analysis into a Report (rows nested deeper than ``depth`` folded, 0: top level only;
    None shows every layer). The CLI's ``--depth N`` counts levels shown, i.e. passes N − 1."""
    with gc_paused():  # one row and a few lists per layer, no cycles: see archcalc.gc_pause
        return _build_report(analysis, depth, batch, optimizer, memory_budget)


def _build_report(analysis: Analysis, depth: int | None, batch: int, optimizer: str,
                  memory_budget: int | None) -> Report:
    itemsize = analysis.itemsize
    leaves = Leaves(analysis)
    kinds = analysis.group_kinds
    t = analysis.totals
    last = analysis.last_spatial
    tm = analysis.training_memory(batch, optimizer)
    totals: dict[str, Any] = {
        "params": t.params, "trainable_params": t.trainable_params,
        "non_trainable_params": t.params - t.trainable_params,
        "weights": t.weights, "biases": t.biases, "buffers": t.buffers,
        "param_bytes": t.params * 4,
        "macs": t.macs, "ops": t.ops, "flops": t.flops, "bwd_macs": t.bwd_macs, "bwd_ops": t.bwd_ops,
        "train_flops": t.train_flops,
        "activations": t.activation_elems, "activation_bytes": t.activation_elems * itemsize,
        "activation_bytes_batch": t.activation_elems * itemsize * batch,
        "peak_activation_bytes": t.peak_elems * itemsize * batch, "peak_at": t.peak_at,
        "training_memory": {"batch": tm.batch, "optimizer": tm.optimizer, "params": tm.params,
                            "grads": tm.grads, "optimizer_state": tm.optimizer_state,
                            "activations": tm.activations, "total": tm.total},
        "depth": weight_depth(analysis), "layers": len(leaves.results) - 1,
        "rf": {"layer": last.node.name if last else None,
               "size": [json_number(v) for v in last.rf.size] if last and last.rf else None,
               "jump": [json_number(v) for v in last.rf.jump] if last and last.rf else None,
               "start": [json_number(v) for v in last.rf.start] if last and last.rf else None},
        "partial": list(t.partial),
    }
    if memory_budget is not None:
        totals["memory_budget"] = memory_budget
        totals["max_batch"] = analysis.max_batch(memory_budget, optimizer)
    meta = analysis.graph.meta
    spec = {"name": meta.name, "description": meta.description, "source": dict(meta.source),
            "published": dict(meta.published), "file": meta.file, "input": list(analysis.graph.input_shape),
            "variables": dict(meta.variables), "outputs": list(analysis.graph.outputs)}
    return Report(schema_version=SCHEMA_VERSION, spec=spec, dtype=analysis.dtype, batch=batch,
                  rows=leaves if depth is None else fold(leaves.rows(), depth, kinds), totals=totals,
                  warnings=[w.format() for w in analysis.warnings],
                  groups=Subtotals(group_sums(leaves.names, leaves.templates, kinds), leaves.templates, leaves.fields))
