"""``archcalc verify``: build the spec in torch, measure everything, hold it against the calculator.

Measurements, one per figure the calculator gives:

* **shapes** through forward hooks on every layer's module (a training-mode pass, so side outputs run);
* **parameters** per layer from the modules (a masked connection-table weight counts its ones);
* **MACs** as torch's own ``FlopCounterMode`` counts them per module (convolutions and matrix
  products), and fvcore's ``FlopCountAnalysis`` by module, both held against the multiply-adds each
  layer's record says frameworks count (conv, linear: one fused multiply-add = one flop); what only one
  side counts is listed, never silently compared;
* **saved activations**: every tensor autograd packs for backward (``saved_tensors_hooks``), distinct
  storages, parameters and buffers excluded — must equal ``Analysis.saved_bytes(batch)`` exactly;
* **receptive fields**: the support of the input gradient of one output unit on a probe network
  (``archcalc.backends.torch.probe``) with one channel, each layer's resolved window geometry,
  positive weights and every pointwise layer as the identity, so nothing cancels or underflows.
  Spatial support does not depend on the channel count when all weights are positive.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from archcalc.analysis import Analysis
from archcalc.arith import Num
from archcalc.backends.torch.bench_memory import saved_tensor_bytes
from archcalc.backends.torch.build import build_model, node_modules, parameter_counts
from archcalc.backends.torch.fits import check_fits, check_run_fits
from archcalc.backends.torch.probe import build_probe
from archcalc.ir import Graph, Shape
from archcalc.layers import Aliasing

OK, BAD, NA = "✓", "✗", "·"


@dataclass
class Check:
    """One figure: the calculator's value, torch's, optionally fvcore's, and the verdict."""

    symbolic: Any
    torch: Any
    ok: bool | None  # None: not comparable
    fvcore: Any = None
    note: str = ""

    @property
    def mark(self) -> str:
        return NA if self.ok is None else (OK if self.ok else BAD)


@dataclass
class Row:
    name: str
    op: str
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok is not False for c in self.checks.values())


@dataclass
class VerifyReport:
    """Everything verify measured, as plain data (rendered by :func:`render`)."""

    spec: str
    batch: int
    rows: list[Row]
    totals: dict[str, Check]
    notes: list[str]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows) and all(c.ok is not False for c in self.totals.values())

    def failures(self) -> list[str]:
        out = [f"{r.name}: {k}" for r in self.rows for k, c in r.checks.items() if c.ok is False]
        return out + [f"total {k}" for k, c in self.totals.items() if c.ok is False]


# ---- measurements -------------------------------------------------------------------------------

def measure_training_pass(model: nn.Module, graph: Graph, x: Tensor) -> tuple[dict[str, Shape], int]:
    """One training-mode forward: each layer's output shape and the bytes autograd saves for backward.

    Shapes come from forward hooks (without the batch dimension); the saved bytes from the one
    saved-tensor measurement the bench uses too (distinct storages, parameters and buffers excluded).
    """
    shapes: dict[str, Shape] = {}
    handles = []
    for name, module in node_modules(model, graph).items():
        def hook(_m: nn.Module, _i: Any, out: Any, name: str = name) -> None:
            shapes[name] = tuple(out.shape[1:])
        handles.append(module.register_forward_hook(hook))
    try:
        saved = saved_tensor_bytes(model, x)
    finally:
        for h in handles:
            h.remove()
    return shapes, saved.nbytes


def torch_macs(model: nn.Module, graph: Graph, x: Tensor) -> dict[str, int]:
    """Fused multiply-adds per node and image, as torch's own ``FlopCounterMode`` counts them.

    It counts convolutions and matrix products (2 FLOPs per multiply-add) per module, in a training-mode
    forward so that side outputs run too; what it cannot see (LRN's window sums, LeNet's RBF) is what
    each layer's record says frameworks do not count.
    """
    from torch.utils.flop_counter import FlopCounterMode

    root = type(model).__name__
    model.train()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    counts = counter.get_flop_counts()
    out: dict[str, int] = {}
    for name in node_modules(model, graph):
        flops = sum(int(v) for v in counts.get(f"{root}.{name}", {}).values())
        out[name] = flops // 2 // x.shape[0]
    return out


def fvcore_by_module(model: nn.Module, x: Tensor, training: bool = False
                     ) -> tuple[dict[str, int], dict[str, int]] | None:
    """fvcore's flop count per module path and its skipped ops, or None when fvcore is missing.

    ``training`` runs the side outputs (auxiliary classifiers) too; they do not run at inference.
    """
    try:
        from fvcore.nn import FlopCountAnalysis
    except ImportError:
        return None
    model.train(training)
    flops = FlopCountAnalysis(model, x)
    flops.unsupported_ops_warnings(False)
    flops.uncalled_modules_warnings(False)
    flops.tracer_warnings("none")
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with contextlib.redirect_stderr(io.StringIO()):
        by_module = dict(flops.by_module())
        skipped = dict(flops.unsupported_ops())
    return {k: int(v) for k, v in by_module.items()}, {k: int(v) for k, v in skipped.items()}


# ---- receptive fields ---------------------------------------------------------------------------

def _pick_units(interior: Tensor) -> tuple[list[tuple[int, int]], bool]:
    """Two diagonal neighbours whose fields hold no padding (else any two units), and whether found."""
    ho, wo = interior.shape
    interior = interior.clone()
    both = interior.clone()
    if ho > 1:
        both[:-1] &= interior[1:]
    if wo > 1:
        both[:, :-1] &= interior[:, 1:]
    for mask in (both, interior):
        found = torch.nonzero(mask)
        if found.numel():
            y, x = (int(v) for v in found[(found.shape[0] - 1) // 2])
            return [(y, x), (min(y + 1, ho - 1), min(x + 1, wo - 1))], bool(mask is both)
    return [((ho - 1) // 2, (wo - 1) // 2), (min((ho - 1) // 2 + 1, ho - 1), min((wo - 1) // 2 + 1, wo - 1))], False


def _span(mask: Tensor) -> tuple[int, int] | None:
    """First and last index where a 1-D bool mask is set."""
    nz = torch.nonzero(mask).flatten()
    if nz.numel() == 0:
        return None
    return int(nz.min()), int(nz.max())


def _within(got: tuple[int, int] | None, want: tuple[int, int]) -> bool:
    return got is None or (want[0] <= got[0] and got[1] <= want[1])


def measure_rf(analysis: Analysis, chunk: int = 32, max_layers: int = 100) -> dict[str, Check]:
    """Measured against symbolic receptive field, per spatial layer.

    Units are chosen where no padding enters the field (the probe's all-ones input gives exactly 1
    there, since every probe weight set sums to one): their support must equal the symbolic interval
    exactly, for two diagonal neighbours (size, jump and start). Where every unit sees padding, the
    support must lie within the symbolic interval (the rest of the field is padding).
    """
    graph = analysis.graph
    plan = build_probe(analysis)
    probe, covered = plan.probe, plan.covered
    results = analysis.results
    _, H, W = graph.input_shape
    checks: dict[str, Check] = {}
    todo = [n for n in covered if results[n].rf is not None]
    for n in covered:
        if results[n].rf is None:
            checks[n] = Check("unavailable", "—", None, note=results[n].rf_note or "")
    for n, reason in plan.unavailable.items():
        checks[n] = Check("unavailable", "not probed", None, note=reason)
    # Identity steps pass their input's support on: measured once, shared.
    has_step = {s.name for s in probe.steps if s.module is not None}
    windowed = [n for n in todo if n in has_step]
    if len(windowed) > max_layers:  # cost grows with layers × depth: sample evenly, keep the last
        step = len(windowed) / max_layers
        keep = {windowed[min(len(windowed) - 1, int(i * step))] for i in range(max_layers)} | {windowed[-1]}
        for n in windowed:
            if n not in keep:
                rf = results[n].rf
                assert rf is not None
                checks[n] = Check(f"{rf.h.size}×{rf.w.size} /{rf.h.jump},{rf.w.jump} @{rf.h.start},{rf.w.start}",
                                  "not measured", None,
                                  note=f"deep network: receptive fields measured at {len(keep)} sampled layers")
        windowed = [n for n in windowed if n in keep]
    with torch.no_grad():
        ones = probe.run(torch.ones(1, graph.input_shape[0], H, W, dtype=torch.float64))
        interior = {}
        for n in windowed:
            inside = ((ones[n][0] - 1.0).abs() < 1e-9).all(0)
            rf = results[n].rf
            assert rf is not None
            for y in range(inside.shape[0]):
                lo, hi = rf.h.interval(y)
                if lo < 0 or hi > H - 1:
                    inside[y] = False
            for x_ in range(inside.shape[1]):
                lo, hi = rf.w.interval(x_)
                if lo < 0 or hi > W - 1:
                    inside[:, x_] = False
            interior[n] = inside
    fast = copy.deepcopy(probe).float()  # binarised gradients: float32 is exact, and much faster
    for start in range(0, len(windowed), chunk):
        names = windowed[start:start + chunk]
        units = {name: _pick_units(interior[name]) for name in names}
        x = torch.ones(2 * len(names), graph.input_shape[0], H, W, requires_grad=True)
        values = fast.run(x, upto=names[-1], binarise=True)
        loss = x.new_zeros(())
        for j, name in enumerate(names):
            for u, (y, xx) in enumerate(units[name][0]):
                loss = loss + values[name][2 * j + u, :, y, xx].sum()
        (grad,) = torch.autograd.grad(loss, x)
        seen = grad.ne(0).any(1)  # (units, H, W)
        rows, cols = seen.any(2), seen.any(1)
        for j, name in enumerate(names):
            rf = results[name].rf
            assert rf is not None
            picked, exact = units[name]
            want = [(rf.h.interval(y), rf.w.interval(xx)) for y, xx in picked]
            got = [(_span(rows[2 * j + u]), _span(cols[2 * j + u])) for u in range(2)]
            label = rf_label(rf.h.size, rf.w.size, rf.h.jump, rf.w.jump, rf.h.start, rf.w.start)
            if rf.fractional:  # behind upsampling the field is an envelope: the units must lie within it
                ok = all(_within(g, w_) for gu, wu in zip(got, want, strict=True) for g, w_ in zip(gu, wu, strict=True))
                note = ("upsampling: the field is the envelope of the units' fields; checked that the measured"
                        " support lies within it")
                measured = f"within {label}" if ok else _describe(got, picked)
            elif exact:
                ok = got == want
                note = "" if ok else f"units {picked}: expected {want}, measured {got}"
                measured = label if ok else _describe(got, picked)
            else:
                ok = all(_within(g, w_) for gu, wu in zip(got, want, strict=True) for g, w_ in zip(gu, wu, strict=True))
                note = "every unit sees padding: checked that the measured support lies within the field"
                measured = f"within {label}" if ok else _describe(got, picked)
            checks[name] = Check(label, measured, ok, note=note)
    for n in todo:
        if n not in checks:  # a pointwise layer: its input's measurement, if its field is the same
            source = graph.node(n).inputs[0]
            if source in checks and results[source].rf == results[n].rf:
                checks[n] = checks[source]
    return checks


def _describe(got: list[tuple[tuple[int, int] | None, tuple[int, int] | None]],
              picked: list[tuple[int, int]]) -> str:
    """The measured field in the same notation: size, jump and the start extrapolated to unit 0."""
    (h0, w0), (h1, w1) = got
    if h0 is None or w0 is None:
        return "empty"
    (y0, x0), (y1, x1) = picked
    jh = (h1[0] - h0[0]) // (y1 - y0) if h1 and y1 != y0 else 0
    jw = (w1[0] - w0[0]) // (x1 - x0) if w1 and x1 != x0 else 0
    return rf_label(h0[1] - h0[0] + 1, w0[1] - w0[0] + 1, jh, jw, h0[0] - y0 * jh, w0[0] - x0 * jw)


def rf_label(sh: Num, sw: Num, jh: Num, jw: Num, th: Num, tw: Num) -> str:
    """'size /jump @start', one number per value when both axes agree: 7 /2 @-3, or 7×5 /2,1 @-3,-2."""
    def pair(a: Num, b: Num, sep: str) -> str:
        return str(a) if a == b else f"{a}{sep}{b}"

    return f"{pair(sh, sw, '×')} /{pair(jh, jw, ',')} @{pair(th, tw, ',')}"


# ---- the whole check ----------------------------------------------------------------------------

def verify(source: Analysis | Graph, *, batch: int = 2, seed: int = 0, rf: bool = True, use_fvcore: bool = True,
           model: nn.Module | None = None) -> VerifyReport:
    """Build (unless given) and measure the analysed network; every disagreement is a ✗ in the report."""
    analysis = source if isinstance(source, Analysis) else Analysis(source)
    analysis = analysis.with_dtype("fp32")
    graph = analysis.graph
    results = analysis.results
    check_fits(analysis)  # the weights, then the measured pass: before anything is allocated
    check_run_fits(analysis, batch)
    torch.manual_seed(seed)
    model = model if model is not None else build_model(analysis, seed=seed)
    model.float()
    x = torch.randn(batch, *graph.input_shape)
    shapes, saved_bytes = measure_training_pass(model, graph, x)
    measured_macs = torch_macs(model, graph, x)
    side = len(graph.outputs) > 1  # side outputs run only in training mode, where BN needs a batch
    fv_x = x if side else x[:1]
    fv = fvcore_by_module(model, fv_x, training=side) if use_fvcore else None
    if fv is not None:  # per image, as the calculator counts
        fv = ({k: v // fv_x.shape[0] for k, v in fv[0].items()}, fv[1])
    rfs = measure_rf(analysis) if rf and len(graph.input_shape) == 3 else {}
    modules = node_modules(model, graph)
    rows: list[Row] = []
    fv_only: dict[str, int] = {}
    ours_only: dict[str, int] = {}
    total_w = total_b = total_buf = 0
    for name, res in results.items():
        if not res.node.inputs:
            continue  # the input
        rec = res.rec
        row = Row(name, rec.op)
        module = modules.get(name)
        got = shapes.get(name)
        if module is None:  # no module: the generated forward passes its input on
            source_name = res.node.inputs[0]
            got = shapes.get(source_name, results[source_name].shape)
        row.checks["shape"] = Check(_fmt(res.shape), _fmt(got) if got else "not run", got == res.shape)
        w, b, buf = parameter_counts(module) if module is not None else _bare_parameter(model, name)
        total_w, total_b, total_buf = total_w + w, total_b + b, total_buf + buf
        sym_p = (res.params.weights, res.params.biases, res.params.buffers)
        row.checks["params"] = Check(res.params.total, w + b, sym_p == (w, b, buf),
                                     note="" if sym_p == (w, b, buf) else
                                     f"weights/biases/buffers: archcalc {sym_p}, torch {(w, b, buf)}")
        framework = rec.cost.framework_macs
        tm = measured_macs.get(name, 0)
        fv_value = fv[0].get(name, 0) if fv is not None else None
        mac = Check(res.cost.macs, tm, tm == framework, fvcore=fv_value)
        if tm != framework:
            mac.note = f"torch counts {tm:,} multiply-adds, the layer's rule says frameworks count {framework:,}"
        elif framework and framework != res.cost.macs:
            mac.note = f"frameworks count {framework:,} (the dense weight); archcalc counts the layer's own rule"
        if fv_value is not None:
            if framework and fv_value != framework:
                mac.ok = False
                mac.note = f"fvcore {fv_value} ≠ {framework}"
            elif fv_value and not framework:
                fv_only[rec.op] = fv_only.get(rec.op, 0) + fv_value
            elif res.cost.macs and not fv_value:
                ours_only[rec.op] = ours_only.get(rec.op, 0) + res.cost.macs
        row.checks["macs"] = mac
        if name in rfs:
            row.checks["rf"] = rfs[name]
        rows.append(row)
    sym_saved = analysis.saved_bytes(batch)
    t = analysis.totals
    framework_total = sum(r.cost.framework_macs for r in results.values())
    measured_total = sum(measured_macs.values())
    totals = {
        "params": Check(t.params, total_w + total_b, t.params == total_w + total_b),
        "buffers": Check(t.buffers, total_buf, t.buffers == total_buf),
        "macs": Check(t.macs, measured_total, measured_total == framework_total,
                      fvcore=(sum(v for k, v in fv[0].items() if k in results and results[k].cost.framework_macs)
                              if fv else None),
                      note="torch and fvcore columns: convolutions and matrix products"
                      + ("" if framework_total == t.macs else
                         f" ({framework_total:,} of archcalc's {t.macs:,}; the rest are MACs by archcalc's"
                         " stated rules that frameworks do not count)")),
        f"saved for backward (batch {batch}, fp32, bytes)": Check(sym_saved, saved_bytes, sym_saved == saved_bytes),
    }
    notes = []
    refused = [name for name, r in results.items()
               if r.rec.aliasing is Aliasing.OVERWRITES_INPUT and r.inplace is None]
    if refused:
        notes.append("run out of place, since overwriting their input would corrupt a tensor another layer"
                     " or autograd still needs (archcalc's memory model assumes in place): " + ", ".join(refused))
    if fv is None:
        if use_fvcore:
            notes.append("fvcore is not installed: its column is empty")
    else:
        if fv_only:
            notes.append("fvcore counts, archcalc reports as other ops (not MACs): "
                         + ", ".join(f"{k} {v:,}" for k, v in sorted(fv_only.items())))
        if ours_only:
            notes.append("archcalc counts MACs, fvcore skips: "
                         + ", ".join(f"{k} {v:,}" for k, v in sorted(ours_only.items())))
        if fv[1]:
            notes.append("fvcore skips these ops (archcalc counts them as other ops): "
                         + ", ".join(f"{k.removeprefix('aten::')}×{v}" for k, v in sorted(fv[1].items())))
    return VerifyReport(graph.meta.name, batch, rows, totals, notes)


def _bare_parameter(model: nn.Module, name: str) -> tuple[int, int, int]:
    """(weights, biases, buffers) of a node built as one parameter of its group (a layer scale), else none."""
    try:
        return model.get_parameter(name).numel(), 0, 0
    except AttributeError:
        return 0, 0, 0


def _fmt(shape: Shape | None) -> str:
    return "×".join(str(d) for d in shape) if shape else "—"


# ---- rendering ----------------------------------------------------------------------------------

def _num(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def _cell(c: Check | None) -> str:
    """One value when both sides agree, 'archcalc ≠ torch' when they differ, then the mark."""
    if c is None:
        return ""
    if c.symbolic == c.torch or (c.ok is None and c.torch in ("—", "not probed")):
        return f"{_num(c.symbolic)} {c.mark}"
    if c.ok and isinstance(c.torch, str):  # the measured field lies within the symbolic one
        return f"{_num(c.symbolic)} {c.mark}"
    if c.ok:  # agree by the layer's stated rule (frameworks count a different quantity)
        return f"{_num(c.symbolic)} (torch {_num(c.torch)}) {c.mark}"
    return f"{_num(c.symbolic)} ≠ {_num(c.torch)} {c.mark}"


def _fvcore_cell(c: Check | None) -> str:
    if c is None or c.fvcore is None:
        return ""
    return "= torch" if c.fvcore == c.torch else _num(c.fvcore)


def grouped_notes(report: VerifyReport) -> list[str]:
    """The report's notes, then each distinct per-layer note once with the layers it applies to."""
    by_note: dict[tuple[str, str], list[str]] = {}
    for r in report.rows:
        for k, c in r.checks.items():
            if c.note:
                by_note.setdefault((k, c.note), []).append(r.name)
    out = list(report.notes)
    for (k, note), names in by_note.items():
        if len(names) == 1:
            out.append(f"{names[0]}: {k}: {note}")
        else:
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            out.append(f"{k}: {note} ({len(names)} layers: {shown})")
    return out


def tables(report: VerifyReport, failures_only: bool = False) -> list[Any]:
    """The per-layer table (each cell: the value once when archcalc and torch agree) and the totals."""
    from archcalc.report.table import Column, Table

    rows = [r for r in report.rows if not failures_only or not r.ok]
    layer = Table(
        [Column("Layer", shrink=True, min_width=14), Column("Shape", drop=2),
         Column("Params", right=True), Column("MACs", right=True), Column("fvcore", right=True, drop=1),
         Column("RF", right=True, drop=3)],
        [[r.name, _cell(r.checks.get("shape")), _cell(r.checks.get("params")), _cell(r.checks.get("macs")),
          _fvcore_cell(r.checks.get("macs")), _cell(r.checks.get("rf"))] for r in rows],
        title=f"verify {report.spec}: archcalc against torch (✓ agree, · not comparable; a value shown once"
              " is both sides', 'a ≠ b' is archcalc's then torch's)",
        full=[r.name for r in rows])
    totals = Table(
        [Column("Total"), Column("archcalc", right=True), Column("torch", right=True),
         Column("fvcore", right=True, drop=1), Column(""), Column("Note", shrink=True, min_width=20, drop=2)],
        [[k, _num(c.symbolic), _num(c.torch), "" if c.fvcore is None else _num(c.fvcore), c.mark, c.note]
         for k, c in report.totals.items()])
    return [layer, totals]


def closing_lines(report: VerifyReport) -> list[str]:
    fails = report.failures()
    return [*(f"note: {n}" for n in grouped_notes(report)),
            f"{OK} all checks agree" if not fails else f"{BAD} {len(fails)} disagreement(s): " + ", ".join(fails)]


def render(report: VerifyReport, fmt: str = "text", failures_only: bool = False) -> str:
    """The report as text (any table format but rich) or JSON."""
    if fmt == "json":
        return json.dumps(to_json(report), indent=2, ensure_ascii=False) + "\n"
    from archcalc.report.table import render as render_tables

    return render_tables(tables(report, failures_only), fmt) + "\n".join(closing_lines(report)) + "\n"


def to_json(report: VerifyReport) -> dict[str, Any]:
    def check(c: Check) -> dict[str, Any]:
        return {"symbolic": c.symbolic, "torch": c.torch, "fvcore": c.fvcore, "ok": c.ok, "note": c.note}

    return {
        "schema_version": 1, "kind": "verify", "spec": report.spec, "batch": report.batch, "ok": report.ok,
        "layers": [{"name": r.name, "type": r.op, **{k: check(c) for k, c in r.checks.items()}}
                   for r in report.rows],
        "totals": {k: check(c) for k, c in report.totals.items()},
        "notes": report.notes, "failures": report.failures(),
    }


CSV_COLUMNS = ("name", "type", "ok", "shape", "shape_torch", "params", "params_torch", "macs", "macs_torch",
               "macs_fvcore", "rf", "rf_measured")


def records(report: VerifyReport) -> list[dict[str, Any]]:
    """One flat dict per layer (the CSV's rows)."""
    out = []
    for r in report.rows:
        rec: dict[str, Any] = {"name": r.name, "type": r.op, "ok": r.ok}
        for k in ("shape", "params", "macs", "rf"):
            c = r.checks.get(k)
            if c is not None:
                rec[k] = c.symbolic
                rec[f"{k}_measured" if k == "rf" else f"{k}_torch"] = c.torch
                if k == "macs":
                    rec["macs_fvcore"] = c.fvcore
        out.append(rec)
    return out
