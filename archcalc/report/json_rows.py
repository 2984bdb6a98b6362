"""Report rows written straight as compact JSON: the text Python's C encoder gives, without its dicts.

``summary --format json`` of a deep spec is mostly rows (100,000 of them for a 100,000-layer chain):
building a dict per row and walking it in the encoder cost about as much as everything else in the
report. A row whose values are all of the plain kinds (str, int, bool, None, whole-number fields) is
written here by one f-string; any other row (a float in a field behind upsampling, a value a caller
put in by hand) returns None and goes through the encoder. A test holds the two to the same bytes.

Deep specs repeat their layers (ResNet-1202's 200 identical blocks, a chain's 50,000 identical units):
rows that differ only in name, field and location share the text of everything between (``memo``, one
per document, keyed on the checked values, so ``1``, ``1.0`` and ``true`` never meet).

A report whose rows were never built (:meth:`archcalc.report.model.Report.unbuilt_rows`) is written from
what they would be built from (:class:`LeafWriter`): each case's, field's and location's text once, then a
name per row. The text is :func:`row_json`'s of the row that would have been built (a test holds the two
ways to the same bytes over the zoo).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from json.encoder import encode_basestring
from typing import Any

from archcalc.analysis import RF
from archcalc.report.model import Leaves, RFData, Row, Subtotals, rf_data, row_dict

#: the C encoder's own string writer when ``ensure_ascii`` is off (as archcalc's compact JSON has it)
_quote = encode_basestring

#: the text of a row's fields from ``type`` to ``memory_bytes`` by their values (see :func:`row_json`)
Memo = dict[tuple[object, ...], str]


def _ints(values: Sequence[int | float]) -> str | None:
    for v in values:
        if type(v) is not int:
            return None
    return "[" + ",".join(map(str, values)) + "]"


def _rf_text(f: RF | RFData, memo: Memo) -> str | None:
    """A layer's field as :func:`_rf` writes its report data, taken from the analysis' field where its values
    are whole (the usual case: no lists made), else from its data (:func:`rf_data`)."""
    if isinstance(f, RFData):
        return _rf(f, memo)
    h, w = f.h, f.w
    if (type(h.size) is int and type(w.size) is int and type(h.jump) is int and type(w.jump) is int
            and type(h.start) is int and type(w.start) is int):  # (rf_data's short way: the same values)
        # no memo by value: the caller keeps each field's text by identity, and distinct fields are rarely
        # equal (a deep network's grow layer by layer)
        return _field((h.size, w.size), (h.jump, w.jump), (h.start, w.start), f.aligned, f.envelope)
    return _rf(rf_data(f), memo)


def _rf(rf: RFData | None, memo: Memo) -> str | None:
    """A row's field: from ``memo`` when an earlier row had the same one (a layer that keeps its input's
    field, as a ReLU or a BN does, has its input's: ResNet-1202's 4,209 rows hold 1,806 fields)."""
    if rf is None:
        return "null"
    return _field(rf.size, rf.jump, rf.start, rf.aligned, rf.envelope, memo)


def _field(size: Sequence[int | float], jump: Sequence[int | float], start: Sequence[int | float], aligned: object,
           envelope: object, memo: Memo | None = None) -> str | None:
    """A receptive field's JSON object (a row's ``rf``, a group's), or None where a value is not plain; the
    usual (h, w) of ints from ``memo`` where given and an earlier field had the same values."""
    if type(aligned) is not bool or type(envelope) is not bool:
        return None
    if len(size) == 2 and len(jump) == 2 and len(start) == 2:  # the usual (h, w): no loops, one f-string
        s0, s1 = size
        j0, j1 = jump
        t0, t1 = start
        if (type(s0) is int and type(s1) is int and type(j0) is int and type(j1) is int and type(t0) is int
                and type(t1) is int):
            # every value of one exact kind (int or bool): equal keys mean equal text
            key = ("rf", s0, s1, j0, j1, t0, t1, aligned, envelope)
            text = None if memo is None else memo.get(key)
            if text is None:
                text = (f'{{"size":[{s0},{s1}],"jump":[{j0},{j1}],"start":[{t0},{t1}],'
                        f'"aligned":{"true" if aligned else "false"},"envelope":{"true" if envelope else "false"}}}')
                if memo is not None:
                    memo[key] = text
            return text
        return None
    sizes, jumps, starts = _ints(size), _ints(jump), _ints(start)
    if sizes is None or jumps is None or starts is None:
        return None
    return (f'{{"size":{sizes},"jump":{jumps},"start":{starts},"aligned":{"true" if aligned else "false"},'
            f'"envelope":{"true" if envelope else "false"}}}')


def _middle(r: Row, memo: Memo) -> str | None:
    """The text of ``"type"`` … ``"memory_bytes"``: from ``memo`` when an earlier row had the same values."""
    kind, family, depth, shape, trainable = r.type, r.family, r.depth, r.shape, r.trainable
    ints = (depth, r.params, r.weights, r.biases, r.macs, r.ops, r.flops, r.bwd_macs, r.activations,
            r.memory_bytes)
    for v in ints:
        if type(v) is not int:
            return None
    for v in shape:
        if type(v) is not int:
            return None
    if type(kind) is not str or type(family) is not str or type(trainable) is not bool:
        return None
    # every value is now of one exact kind (str, int or bool), so equal keys mean equal text
    key = (kind, family, trainable, *ints, len(shape), *shape)
    text = memo.get(key)
    if text is None:
        _, params, weights, biases, macs, ops, flops, bwd_macs, activations, memory_bytes = ints
        text = (f'"type":{_quote(kind)},"family":{_quote(family)},"depth":{depth},'
                f'"shape":[{",".join(map(str, shape))}],"params":{params},"weights":{weights},"biases":{biases},'
                f'"trainable":{"true" if trainable else "false"},"macs":{macs},"ops":{ops},"flops":{flops},'
                f'"bwd_macs":{bwd_macs},"activations":{activations},"memory_bytes":{memory_bytes}')
        memo[key] = text
    return text


def row_json(r: Row, memo: Memo | None = None) -> str | None:
    """One row as compact JSON, key for key as :func:`archcalc.report.model.row_dict` orders them; None
    where a value is not of the plain kinds (the caller encodes ``row_dict(r)`` instead). Pass one
    ``memo`` to every row of a document: repeated rows then reuse their common text."""
    name, layers, group = r.name, r.layers, r.group
    if type(name) is not str or type(layers) is not int or type(group) is not bool:
        return None
    if memo is None:
        memo = {}
    middle = _middle(r, memo)
    if middle is None:
        return None
    rf = _rf(r.rf, memo)
    if rf is None:
        return None
    note, loc = r.rf_note, r.location
    note_text = "null" if note is None else _quote(note) if type(note) is str else None
    loc_text = "null" if loc is None else _quote(loc) if type(loc) is str else None
    if note_text is None or loc_text is None:
        return None
    return (f'{{"name":{_quote(name)},{middle},"rf":{rf},"rf_note":{note_text},"location":{loc_text},'
            f'"group":{"true" if group else "false"},"layers":{layers}}}')


class LeafWriter:
    """The rows of :class:`Leaves` as JSON text, without building them: per row the text :func:`row_json` gives
    for the row :meth:`Leaves.row` would build (or, where a value is not of the plain kinds, the encoder's for
    that row, built). A case's figures, a field and a location are each turned into text once (looked up by
    the identity of the template and the field the leaves share, and by the location's text)."""

    def __init__(self, leaves: Leaves, memo: Memo, encode: Callable[[Any], str],
                 field_texts: dict[int, str] | None = None) -> None:
        self.leaves, self.memo, self.encode = leaves, memo, encode
        self.middles: dict[int, str] = {}  # id(template) → its middle text ("": not plain)
        #: id(field) → its text ("": not plain), for the groups' writer too
        self.fields: dict[int, str] = {} if field_texts is None else field_texts
        self.places: dict[str | None, str] = {}  # location → its text

    def chunk(self, start: int, stop: int) -> str:
        """Rows ``start`` to ``stop`` (excluded), joined by commas."""
        leaves, memo = self.leaves, self.memo
        middles, fields, places = self.middles, self.fields, self.places
        out: list[str] = []
        add = out.append
        for name, r, t, f, where in zip(leaves.names[start:stop], leaves.results[start:stop],
                                        leaves.templates[start:stop], leaves.fields[start:stop],
                                        leaves.locations[start:stop], strict=True):
            middle = middles.get(id(t))
            if middle is None:
                middle = middles[id(t)] = _middle(t, memo) or ""
            if f is None:
                field = "null"
            else:
                field = fields.get(id(f))  # type: ignore[assignment]
                if field is None:
                    field = fields[id(f)] = _rf_text(f, memo) or ""
            place = places.get(where)
            if place is None:
                place = places[where] = "null" if where is None else _quote(where) if type(where) is str else ""
            note = r.rf_note
            if middle and field and place and type(name) is str and (note is None or type(note) is str):
                note_text = "null" if note is None else _quote(note)
                add(f'{{"name":{_quote(name)},{middle},"rf":{field},"rf_note":{note_text},"location":{place},'
                    f'"group":false,"layers":1}}')
            else:
                add(self.encode(row_dict(Leaves.row(name, r, t, f, where))))
        return ",".join(out)


#: a group's keys as :func:`archcalc.report.model.group_subtotals` writes them, and its field's
GROUP_KEYS = ("path", "kind", "layers", "params", "macs", "ops", "activations", "shape", "rf")
RF_KEYS = ("size", "jump", "start", "aligned", "envelope")


def group_json(g: dict[str, object], memo: Memo) -> str | None:
    """One group of the report's ``groups`` as compact JSON, or None where it is not a subtotalled group
    of plain values, keys in :data:`GROUP_KEYS` order (the caller encodes it instead). Groups alike but
    for their path and field (a chain's 50,000 units) share the text of the rest through ``memo``."""
    if type(g) is not dict or tuple(g) != GROUP_KEYS:
        return None
    path, kind, layers, params, macs, ops, acts, shape, rf = g.values()
    if type(path) is not str:
        return None
    middle = _group_middle(kind, layers, params, macs, ops, acts, shape, memo)
    if middle is None:
        return None
    field: str | None = "null"
    if rf is not None:
        if type(rf) is not dict or tuple(rf) != RF_KEYS:
            return None
        size, jump, start, aligned, envelope = rf.values()
        if type(size) is not list or type(jump) is not list or type(start) is not list:
            return None
        field = _field(size, jump, start, aligned, envelope)
        if field is None:
            return None
    return f'{{"path":{_quote(path)},{middle},"rf":{field}}}'


def _group_middle(kind: object, layers: object, params: object, macs: object, ops: object, acts: object,
                  shape: object, memo: Memo) -> str | None:
    """The text of a group's ``"kind"`` … ``"shape"`` (from ``memo`` when an earlier group had the same), or
    None where a value is not of the plain kinds."""
    if (type(kind) is not str or type(layers) is not int or type(params) is not int or type(macs) is not int
            or type(ops) is not int or type(acts) is not int or type(shape) is not list):
        return None
    for v in shape:
        if type(v) is not int:
            return None
    key = ("group", kind, layers, params, macs, ops, acts, len(shape), *shape)
    middle = memo.get(key)
    if middle is None:
        middle = memo[key] = (f'"kind":{_quote(kind)},"layers":{layers},"params":{params},"macs":{macs},'
                              f'"ops":{ops},"activations":{acts},"shape":[{",".join(map(str, shape))}]')
    return middle


class SubtotalWriter:
    """The groups of :class:`Subtotals` as JSON text without making their dicts: per group the text
    :func:`group_json` gives for the dict :meth:`Subtotals.group` would make (or, where a value is not of the
    plain kinds, that dict made and encoded). A field's text is made once, looked up by the identity of the
    field the layers share (``field_texts``: the rows' writer's, where it wrote them)."""

    def __init__(self, subtotals: Subtotals, memo: Memo, field_texts: dict[int, str], encode: Callable[[Any], str],
                 field_memo: Memo | None = None) -> None:
        self.subtotals, self.memo, self.field_texts, self.encode = subtotals, memo, field_texts, encode
        self.field_memo: Memo = {} if field_memo is None else field_memo

    def chunk(self, start: int, stop: int) -> str:
        """Groups ``start`` to ``stop`` (excluded), joined by commas."""
        sub, memo, texts = self.subtotals, self.memo, self.field_texts
        figures, fields = sub.figures, sub.fields
        out: list[str] = []
        add = out.append
        for path, kind, g in sub.sums[start:stop]:
            text = None
            if g is not None and type(path) is str:
                last = g[5]
                middle = _group_middle(kind, g[0], g[1], g[2], g[3], g[4], figures[last].shape, memo)
                if middle is not None:
                    f = fields[last]
                    if f is None:
                        field: str | None = "null"
                    else:
                        field = texts.get(id(f))
                        if field is None:
                            field = texts[id(f)] = _rf_text(f, self.field_memo) or ""
                    if field:
                        text = f'{{"path":{_quote(path)},{middle},"rf":{field}}}'
            if text is None:
                made = sub.group(path, kind, g)
                text = group_json(made, memo) or self.encode(made)
            add(text)
        return ",".join(out)
