"""``verify --against``: prove that a spec computes its reference's function, and name where it does not.

The spec-built model receives the reference's weights and buffers (``archcalc.backends.torch.weights``);
both run on the same seeded inputs, and three things are compared:

* the outputs in eval mode;
* every corresponding intermediate (``archcalc.backends.torch.correspond``), so that the **first divergent
  layer** in the spec's topological order is named, as a diff names the first differing line, with a hint
  where the cause can be told (a shape, the layer's type or hyper-parameters, an input that already differs);
* one training step: the loss, the gradient of every parameter, and the batch-norm statistics it updates.

Counts can agree while functions differ; this check is what tells them apart. Before comparing, tensors of
the reference whose elements are all equal (a fresh initialisation's zero biases, batch-norm statistics and
affine parameters) get seeded random values, so that a misplaced one shows. In the training step each
dropout draws its mask from a generator seeded by the tensor's shape and rate, the same in both models:
equal rates give equal masks, different rates differ.
"""

from __future__ import annotations

import contextlib
import math
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from archcalc.backends.torch.correspond import Pair, correspond
from archcalc.backends.torch.parity_report import Check, Diff, Divergence, ParityReport
from archcalc.backends.torch.reference import build_reference, parse_reference
from archcalc.backends.torch.weights import (
    StateMap,
    StateMismatch,
    build_with_weights,
    load_weights,
    match_state,
    transplant,
)
from archcalc.errors import BackendError, OptionError
from archcalc.ir import Graph

DTYPES = {"fp64": torch.float64, "fp32": torch.float32, "bf16": torch.bfloat16}
#: Largest difference allowed, relative to the reference tensor's largest magnitude.
TOLERANCES = {torch.float64: 1e-12, torch.float32: 1e-5, torch.bfloat16: 2e-2, torch.float16: 2e-3}
#: Gradients are sums over every path back to a parameter; where a network branches, the order of that sum is
#: the framework's choice, and a bias's gradient cancels to a small total (measured on GoogLeNet with its
#: auxiliary heads, fp32: 1.2e-5). Ten times the forward tolerance.
GRAD_TOLERANCES = {dtype: 10 * tol for dtype, tol in TOLERANCES.items()}
_HINT_NODES = 6


def check_against(graph: Graph, against: str, *, batch: int = 2, seed: int = 0, dtype: str = "fp32",
                  weights: str | Path | None = None) -> ParityReport:
    """Build the spec and the reference ``against`` names (with ``weights`` loaded into it) and compare them."""
    ref = parse_reference(against)
    reference = build_reference(ref, seed)
    notes = []
    if weights is not None:
        smap = load_weights(reference, weights, into=f"the reference {ref}")
        notes.append(f"reference weights from {weights} ({smap.describe()})")
    model, _ = build_with_weights(graph, None, seed=seed)
    report = compare(graph, model, reference, str(ref), batch=batch, seed=seed, dtype=dtype)
    report.notes[:0] = notes
    return report


def compare(graph: Graph, model: nn.Module, reference: nn.Module, label: str, *, batch: int = 2, seed: int = 0,
            dtype: str = "fp32") -> ParityReport:
    """Transplant ``reference``'s state into ``model`` (built from ``graph``) and hold the two against each other."""
    if dtype not in DTYPES:
        raise OptionError(f"unknown dtype '{dtype}' (choose from {', '.join(DTYPES)})")
    dt = DTYPES[dtype]
    report = ParityReport(graph.meta.name, label, dtype, batch, seed)
    model.to(dt)
    reference.to(dt)
    randomise_constants(reference, seed)
    own, theirs = model.state_dict(), reference.state_dict()
    try:
        smap = match_state(own, theirs, source_label="reference")
    except StateMismatch as exc:
        report.checks.append(Check("weights", f"{len(own)} tensors", f"{len(theirs)} tensors", False,
                                   note=f"cannot transplant: {exc.detail}"))
        return report
    transplant(model, theirs, smap)
    report.mapping = smap.describe()
    report.checks.append(Check("weights", f"{len(own)} tensors", f"{len(theirs)} tensors", True,
                               note="transplanted " + smap.describe()))
    modules = _node_modules(model, graph)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, *graph.input_shape, generator=gen, dtype=torch.float64).to(dt)
    runner = _Runner(graph, model, modules, reference, correspond(graph, modules, reference, smap), x,
                     TOLERANCES[dt], seed)
    _eval_pass(report, runner)
    _train_step(report, runner, smap, GRAD_TOLERANCES[dt])
    report.notes.extend(runner.notes())
    return report


def _eval_pass(report: ParityReport, runner: _Runner) -> None:
    """Outputs and every paired layer in eval mode."""
    runner.model.eval()
    runner.reference.eval()
    with torch.no_grad():
        spec_out, ref_out, diffs = runner.run(train=False)
    output = _outputs("eval output", spec_out, ref_out, runner.rtol)
    report.checks.append(output)
    _layers(report, runner, "eval", diffs, failed=output.ok is False)


def _train_step(report: ParityReport, runner: _Runner, smap: StateMap, grad_rtol: float) -> None:
    """One training-mode forward and backward: every paired layer, the loss, gradients, updated buffers."""
    model, reference, rtol = runner.model, runner.reference, runner.rtol
    model.train()
    reference.train()
    model.zero_grad(set_to_none=True)
    reference.zero_grad(set_to_none=True)
    spec_out, ref_out, diffs = runner.run(train=True)
    spec_loss, ref_loss = _loss(spec_out, runner.seed), _loss(ref_out, runner.seed)
    counts = (len(_tensors(spec_out)), len(_tensors(ref_out)))
    loss = _diff("loss", "loss", spec_loss.detach(), ref_loss.detach(), rtol)
    report.checks.append(Check("train loss", _num(spec_loss), _num(ref_loss), loss.ok, loss.max_abs, loss.rel, rtol,
                               note="" if counts[0] == counts[1] else
                               f"the spec returns {counts[0]} outputs in training, the reference {counts[1]}"))
    for value in (spec_loss, ref_loss):
        if value.requires_grad:
            value.backward()  # type: ignore[no-untyped-call]
    report.gradients = _gradients(model, reference, smap, grad_rtol)
    grads = _summary("gradients", report.gradients, "parameters", grad_rtol)
    buffers = _summary("buffers after the step", _buffers(model, reference, smap, rtol), "buffers", rtol)
    _layers(report, runner, "train", diffs, failed=any(c.ok is False for c in (report.checks[-1], grads, buffers)))
    report.checks.extend([grads, buffers])
    model.eval()
    reference.eval()


def _node_modules(model: nn.Module, graph: Graph) -> dict[str, nn.Module]:
    from archcalc.backends.torch.build import node_modules

    return node_modules(model, graph)


# ---- preparing the reference ----------------------------------------------------------------------------

@torch.no_grad()
def randomise_constants(model: nn.Module, seed: int) -> None:
    """Give every floating tensor whose elements are all equal seeded random values of the same sign.

    A fresh initialisation sets biases to 0 and batch norm's statistics and affine parameters to 0 and 1:
    a bias or a running mean in the wrong place would go unseen. Positive constants (scales, variances)
    become ×U(0.5, 1.5), zeros N(0, 0.1²).
    """
    gen = torch.Generator().manual_seed(seed + 1)
    for _, t in [*model.named_parameters(), *model.named_buffers()]:
        if not t.is_floating_point() or t.numel() < 2 or not bool((t == t.flatten()[0]).all()):
            continue
        c = float(t.flatten()[0])
        noise = torch.rand(t.shape, generator=gen, dtype=torch.float64)
        t.copy_(c * (0.5 + noise) if c > 0 else c + 0.1 * torch.randn(t.shape, generator=gen, dtype=torch.float64))


# ---- running both, comparing as we go -------------------------------------------------------------------

class _Runner:
    """Runs the reference (keeping the outputs of its paired modules), then the spec-built model (comparing
    each paired layer's output the moment it is computed, before any in-place layer can overwrite it)."""

    def __init__(self, graph: Graph, model: nn.Module, modules: Mapping[str, nn.Module], reference: nn.Module,
                 pairs: list[Pair], x: Tensor, rtol: float, seed: int):
        self.graph, self.model, self.modules, self.reference = graph, model, modules, reference
        self.pairs, self.x, self.rtol, self.seed = pairs, x, rtol, seed
        self.ref_modules = dict(reference.named_modules())
        self.nodes = {n.name: n for n in graph.nodes}
        self.repeated: set[str] = set()
        self.order: dict[bool, list[str]] = {}  # the reference's modules in the order they finished, per mode

    def _source(self, name: str) -> str:
        """The node whose module computes ``name``'s value (identity layers pass their input on)."""
        while name not in self.modules and name in self.nodes and self.nodes[name].inputs:
            name = self.nodes[name].inputs[0]
        return name

    @contextlib.contextmanager
    def _mode(self, train: bool) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            if train:
                stack.enter_context(fixed_dropout(self.model, self.seed))
                stack.enter_context(fixed_dropout(self.reference, self.seed))
            yield

    def run(self, train: bool) -> tuple[Any, Any, list[Diff]]:
        stored: dict[str, Tensor | None] = {}
        calls: Counter[str] = Counter()

        def keep(name: str) -> Callable[..., None]:
            def hook(_m: nn.Module, _args: Any, out: Any) -> None:
                calls[name] += 1
                t = _tensor(out)
                stored[name] = t.detach().clone() if t is not None and calls[name] == 1 else None
            return hook

        by_source: dict[str, list[Pair]] = defaultdict(list)
        for p in self.pairs:
            by_source[self._source(p.exit)].append(p)
        found: dict[Pair, Diff] = {}

        def check(name: str) -> Callable[..., None]:
            def hook(_m: nn.Module, _args: Any, out: Any) -> None:
                t = _tensor(out)
                for p in by_source[name]:
                    if p not in found and calls[p.reference] == 1:
                        found[p] = _diff(p.spec, p.reference, t, stored.pop(p.reference, None), self.rtol, p.firm)
            return hook

        order: list[str] = []
        self.order[train] = order

        def note(name: str) -> Callable[..., None]:
            def hook(_m: nn.Module, _args: Any, _out: Any) -> None:
                order.append(name)
            return hook

        with self._mode(train):
            handles = [m.register_forward_hook(note(n)) for n, m in self.ref_modules.items() if n]
            handles += [self.ref_modules[p.reference].register_forward_hook(keep(p.reference)) for p in self.pairs]
            try:
                torch.manual_seed(self.seed)
                ref_out = _forward(self.reference, self.x, "the reference", train)
            finally:
                for h in handles:
                    h.remove()
            handles = [self.modules[s].register_forward_hook(check(s)) for s in by_source if s in self.modules]
            for p in by_source.get("input", []):
                if calls[p.reference] == 1:
                    found[p] = _diff(p.spec, p.reference, self.x, stored.pop(p.reference, None), self.rtol, p.firm)
            try:
                torch.manual_seed(self.seed)
                spec_out = _forward(self.model, self.x, "the spec-built model", train)
            finally:
                for h in handles:
                    h.remove()
        diffs = []
        for p in self.pairs:
            if calls[p.reference] > 1:
                self.repeated.add(p.reference)
            elif p in found:
                diffs.append(found[p])
            elif calls[p.reference] == 1:
                diffs.append(Diff(p.spec, p.reference, None, _shape(stored.get(p.reference)), ok=False,
                                  note="runs in the reference, not in the spec", firm=p.firm))
        return spec_out, ref_out, diffs

    def inputs_agree(self, pair: Pair, train: bool) -> bool | None:
        """Whether the two modules of ``pair`` received the same input (None: not a single tensor each)."""
        got: dict[str, Tensor | None] = {}

        def grab(key: str) -> Callable[..., None]:
            def pre(_m: nn.Module, args: Any) -> None:
                if key not in got:
                    t = _tensor(args[0]) if args else None
                    got[key] = t.detach().clone() if t is not None else None
            return pre

        spec_module = self.modules.get(pair.spec)
        if spec_module is None:
            return None
        with self._mode(train), torch.no_grad():
            for key, model, module in (("ref", self.reference, self.ref_modules[pair.reference]),
                                       ("spec", self.model, spec_module)):
                handle = module.register_forward_pre_hook(grab(key))
                try:
                    torch.manual_seed(self.seed)
                    model(self.x)
                finally:
                    handle.remove()
        a, b = got.get("spec"), got.get("ref")
        if a is None or b is None:
            return None
        return _diff(pair.spec, pair.reference, a, b, self.rtol).ok

    def notes(self) -> list[str]:
        if not self.repeated:
            return []
        return ["not compared, since the reference calls them more than once: " + ", ".join(sorted(self.repeated))]


def _forward(model: nn.Module, x: Tensor, who: str, train: bool) -> Any:
    """``model(x)``, with a one-line error when it cannot run (batch norm on one value per channel, …)."""
    try:
        return model(x)
    except (RuntimeError, ValueError) as exc:
        text = str(exc).strip().splitlines()
        raise BackendError(f"{who} fails in {'training' if train else 'eval'} mode on a batch of {x.shape[0]}:"
                           f" {text[0][:200] if text else type(exc).__name__}",
                           hint="a larger --batch helps when batch norm sees one value per channel") from None


def _layers(report: ParityReport, runner: _Runner, where: str, diffs: list[Diff], failed: bool) -> None:
    """The per-layer row of one pass, and, where the pass differs anywhere, its first divergence with a hint.

    Groups paired by structure alone (``Pair.firm`` false) never fail the row: they only help name the place.
    """
    report.layers[where] = diffs
    firm = [d for d in diffs if d.firm]
    bad = [d for d in firm if not d.ok]
    if not diffs:
        report.checks.append(Check(f"{where} layers", "—", "—", None, note="no layer pairs with the reference"))
        return
    soft = [d for d in diffs if not d.ok and not d.firm]
    first = next((d for d in diffs if not d.ok), None)
    report.checks.append(Check(f"{where} layers", f"{len(firm) - len(bad)}/{len(firm)} agree",
                               f"{len(firm)} compared", not bad,
                               max_abs=max((d.max_abs or 0.0 for d in firm), default=None),
                               rel=max((d.rel or 0.0 for d in firm), default=None), tol=runner.rtol,
                               note=f"first divergent: {first.spec}" if first is not None and (bad or failed) else ""))
    if first is not None and (bad or failed):
        pair = next(p for p in runner.pairs if p.spec == first.spec)
        report.divergences.append(Divergence(where, first, _hint(runner, pair, first, diffs, where == "train")))
    elif soft:
        report.notes.append(f"{where}: groups paired by structure alone end elsewhere than the reference's modules"
                            " (not a difference): " + ", ".join(f"{d.spec} ≠ {d.reference}" for d in soft[:4]))


# ---- explaining the first divergence --------------------------------------------------------------------

def _hint(runner: _Runner, pair: Pair, diff: Diff, diffs: list[Diff], train: bool) -> str:
    """What can be told about why ``pair`` differs: shapes, type, hyper-parameters, or what lies before it."""
    parts = []
    if diff.spec_shape is not None and diff.ref_shape is not None and diff.spec_shape != diff.ref_shape:
        parts.append(f"shape {_fmt(diff.spec_shape[1:])} here, {_fmt(diff.ref_shape[1:])} in the reference")
    mine = runner.modules.get(pair.spec)
    theirs = runner.ref_modules[pair.reference]
    index = {p.spec: p for p in runner.pairs}
    agreeing = {index[d.spec] for d in diffs if d.ok}
    if mine is not None and pair.spec == pair.exit and not list(theirs.children()):
        if type(mine) is not type(theirs) and not _dropouts(mine, theirs):
            parts.append(f"{type(mine).__name__} here, {type(theirs).__name__} in the reference")
        else:
            parts.extend(_attribute_diffs(mine, theirs))
        if len(parts) == 0 or (len(parts) == 1 and parts[0].startswith("shape")):
            same = runner.inputs_agree(pair, train)
            if same is False:
                parts.append("its input already differs: "
                             + _between(runner, list(runner.nodes[pair.spec].inputs), agreeing, pair, train))
            elif same is True and not parts:
                parts.append("same input, different output")
    elif runner._source(pair.exit) in {runner._source(p.exit) for p in agreeing}:
        parts.append(f"the spec's {pair.spec} ends with {pair.exit}, which agrees: the reference's"
                     f" {pair.reference} computes more after it"
                     + _extra(runner, pair, [p for p in agreeing if p.exit == pair.exit], train, " (", ")"))
    else:
        parts.append(_between(runner, [pair.exit], agreeing, pair, train))
    return "; ".join(parts)


def _between(runner: _Runner, start: list[str], agreeing: set[Pair], pair: Pair, train: bool) -> str:
    """The spec's layers between the last agreeing ones and ``start`` (walking the graph backwards), and the
    reference's modules that ran between their counterparts and ``pair``'s."""
    agreeing_at = {runner._source(p.exit): p for p in agreeing}
    seen: list[str] = []
    stops: list[Pair] = []
    todo = list(start)
    while todo:
        name = todo.pop(0)
        if name in seen or name == "input":
            continue
        stop = agreeing_at.get(runner._source(name))
        if stop is not None:
            if stop not in stops:
                stops.append(stop)
            continue
        seen.append(name)
        todo.extend(runner.nodes[name].inputs)
    agree = "which agree" if len(stops) > 1 else "which agrees"
    after = f"after {', '.join(p.spec for p in stops)} ({agree})" if stops else "from the input on"
    ref = _extra(runner, pair, stops, train, "", "")
    if not seen:
        fed = ", ".join(p.spec for p in stops) or "the input"
        spec = f"the spec feeds it {fed} directly"
        return spec + (f"; the reference runs {ref} in between" if ref else
                       "; the reference runs no module in between (functional code?)")
    shown = ", ".join(f"{n} ({runner.nodes[n].op})" for n in reversed(seen[:_HINT_NODES]))
    more = f" (+{len(seen) - _HINT_NODES} more)" if len(seen) > _HINT_NODES else ""
    return (f"{after} the spec computes {shown}{more}; the reference runs "
            + (ref if ref else "no module there (functional code?)"))


def _extra(runner: _Runner, pair: Pair, since: list[Pair], train: bool, before: str, after: str) -> str:
    """The reference's leaf modules, paired with nothing, that finished after ``since``'s and before ``pair``'s."""
    order = runner.order.get(train, [])
    paired = {p.reference for p in runner.pairs}
    positions = [i for i, n in enumerate(order) if n == pair.reference]
    if not positions:
        return ""
    end = positions[0]
    start = max((i for i, n in enumerate(order[:end]) if n in {p.reference for p in since}), default=-1)
    inside = pair.reference + "."
    names = [n for n in order[start + 1:end] if n not in paired and not list(runner.ref_modules[n].children())
             and (not list(runner.ref_modules[pair.reference].children()) or n.startswith(inside)
                  or not since)]
    if not names:
        return ""
    shown = ", ".join(f"{n} ({type(runner.ref_modules[n]).__name__})" for n in dict.fromkeys(names[:_HINT_NODES]))
    return before + shown + (f" (+{len(names) - _HINT_NODES} more)" if len(names) > _HINT_NODES else "") + after


_IGNORED_ATTRS = {"training", "inplace"}


def _attribute_diffs(mine: nn.Module, theirs: nn.Module) -> list[str]:
    """Hyper-parameters (stride, padding, eps, …) of two modules of the same kind that differ."""
    a, b = _attrs(mine), _attrs(theirs)
    return [f"{k} {_show(a[k])} here, {_show(b[k])} in the reference"
            for k in a if k in b and not _same_value(a[k], b[k])]


def _attrs(m: nn.Module) -> dict[str, Any]:
    return {k: v for k, v in vars(m).items() if not k.startswith("_") and k not in _IGNORED_ATTRS
            and isinstance(v, int | float | str | bool | tuple | type(None))}


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, int) and isinstance(b, tuple):
        a, b = b, a
    if isinstance(a, tuple) and isinstance(b, int) and not isinstance(b, bool):
        return all(v == b for v in a)
    return bool(a == b)


def _show(v: Any) -> str:
    return str(v)


# ---- dropout, loss ---------------------------------------------------------------------------------------

def _dropout_kind(m: nn.Module) -> str | None:
    """"element" (nn.Dropout, archcalc's), "channel" (Dropout1d/2d/3d), "other" (alpha dropout), or None."""
    if isinstance(m, nn.Dropout1d | nn.Dropout2d | nn.Dropout3d):
        return "channel"
    if isinstance(m, nn.AlphaDropout | nn.FeatureAlphaDropout):
        return "other"
    if isinstance(m, nn.Dropout) or (type(m).__name__ == "Dropout" and isinstance(getattr(m, "p", None), float | int)):
        return "element"
    return None


def _dropouts(a: nn.Module, b: nn.Module) -> bool:
    kind = _dropout_kind(a)
    return kind is not None and kind == _dropout_kind(b)


@contextlib.contextmanager
def fixed_dropout(model: nn.Module, seed: int) -> Iterator[None]:
    """Dropout with masks seeded by (shape, rate): the same in any two models, so they can be compared."""
    changed: list[nn.Module] = []
    handles = []
    for m in model.modules():
        kind = _dropout_kind(m)
        if kind is None or not m.training:
            continue
        m.train(False)  # the module itself becomes the identity; the hook applies the mask
        changed.append(m)
        if kind != "other":
            handles.append(m.register_forward_hook(_mask_hook(float(m.p), kind == "channel", seed)))  # type: ignore[arg-type]
    try:
        yield
    finally:
        for h in handles:
            h.remove()
        for m in changed:
            m.train(True)


def _mask_hook(p: float, channel: bool, seed: int) -> Callable[..., Tensor]:
    def hook(_m: nn.Module, args: Any, _out: Any) -> Tensor:
        x: Tensor = args[0]
        shape = tuple(x.shape[:2]) + (1,) * (x.dim() - 2) if channel else tuple(x.shape)
        gen = torch.Generator().manual_seed(seed + zlib.crc32(repr((shape, p, channel)).encode()))
        keep = torch.rand(shape, generator=gen) >= p
        scale = 0.0 if p >= 1 else 1.0 / (1.0 - p)
        return x * (keep.to(x.dtype) * scale)
    return hook


def _loss(outputs: Any, seed: int) -> Tensor:
    """Σ over outputs of ⟨output, R⟩ / batch, R a fixed random tensor per shape: every output element counts,
    and the sum does not depend on the order in which a model returns its outputs."""
    total: Tensor | None = None
    for o in _tensors(outputs):
        if not o.is_floating_point():
            continue
        gen = torch.Generator().manual_seed(seed + zlib.crc32(repr(tuple(o.shape)).encode()))
        r = torch.randn(tuple(o.shape), generator=gen, dtype=torch.float64).to(o.dtype)
        term = (o * r).sum() / max(1, o.shape[0] if o.dim() else 1)
        total = term if total is None else total + term
    return total if total is not None else torch.zeros(())


# ---- comparisons -----------------------------------------------------------------------------------------

def _tensors(out: Any) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, tuple | list):
        return [t for o in out for t in _tensors(o)]
    if isinstance(out, Mapping):
        return [t for o in out.values() for t in _tensors(o)]
    return []


def _tensor(out: Any) -> Tensor | None:
    found = _tensors(out) if not isinstance(out, Mapping) else []
    return found[0] if len(found) == 1 else None


def _shape(t: Tensor | None) -> tuple[int, ...] | None:
    return tuple(t.shape) if t is not None else None


def _diff(spec: str, ref: str, a: Tensor | None, b: Tensor | None, rtol: float, firm: bool = True) -> Diff:
    """``a`` held against ``b``: max |a − b| and that relative to max |b|."""
    if a is None or b is None:
        return Diff(spec, ref, _shape(a), _shape(b), ok=False,
                    note="no tensor from the " + ("spec" if a is None else "reference"), firm=firm)
    if a.shape != b.shape:
        return Diff(spec, ref, _shape(a), _shape(b), ok=False, note="shapes differ", firm=firm)
    a, b = a.detach(), b.detach()
    if a.dtype == b.dtype and torch.equal(a, b):  # the usual case: the same kernels on the same numbers
        return Diff(spec, ref, _shape(a), _shape(b), 0.0, 0.0, True, firm=firm)
    work = torch.float64 if torch.float64 in (a.dtype, b.dtype) else torch.float32
    da, db = a.to(work), b.to(work)
    max_abs = float((da - db).abs().max()) if da.numel() else 0.0
    if not math.isfinite(max_abs):  # infinities or NaNs: they must sit in the same places
        fa, fb = da.isfinite(), db.isfinite()
        if not torch.equal(fa, fb) or not torch.equal(da[~fa].nan_to_num(), db[~fb].nan_to_num()):
            return Diff(spec, ref, _shape(a), _shape(b), ok=False, note="non-finite values differ", firm=firm)
        da, db = da[fa], db[fb]
        max_abs = float((da - db).abs().max()) if da.numel() else 0.0
    scale = float(db.abs().max()) if db.numel() else 0.0
    rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    return Diff(spec, ref, _shape(a), _shape(b), max_abs, rel, rel <= rtol, firm=firm)


def _outputs(name: str, spec_out: Any, ref_out: Any, rtol: float) -> Check:
    mine, theirs = _tensors(spec_out), _tensors(ref_out)
    if len(mine) != len(theirs):
        return Check(name, f"{len(mine)} outputs", f"{len(theirs)} outputs", False)
    diffs = [_diff(f"output {i}", f"output {i}", a, b, rtol) for i, (a, b) in enumerate(zip(mine, theirs, strict=True))]
    shapes = " + ".join(_fmt(_shape(t)) for t in mine)
    ref_shapes = " + ".join(_fmt(_shape(t)) for t in theirs)
    bad = [d for d in diffs if not d.ok]
    return Check(name, shapes, ref_shapes, not bad, max(d.max_abs or 0.0 for d in diffs) if diffs else None,
                 max(d.rel or 0.0 for d in diffs) if diffs else None, rtol,
                 note="; ".join(f"{d.spec}: {d.note}" for d in bad if d.note))


def _gradients(model: nn.Module, reference: nn.Module, smap: StateMap, rtol: float) -> list[Diff]:
    mine, theirs = dict(model.named_parameters()), dict(reference.named_parameters())
    out = []
    for t, s in smap.pairs.items():
        if t in mine and s in theirs:
            a, b = mine[t].grad, theirs[s].grad
            if a is None and b is None:
                continue
            out.append(_diff(t, s, a if a is not None else torch.zeros_like(mine[t]),
                             b if b is not None else torch.zeros_like(theirs[s]), rtol))
    return out


def _buffers(model: nn.Module, reference: nn.Module, smap: StateMap, rtol: float) -> list[Diff]:
    params = {k for k, _ in model.named_parameters()}
    mine, theirs = model.state_dict(), reference.state_dict()
    return [_diff(t, s, mine[t], theirs[s], rtol) for t, s in smap.pairs.items() if t not in params]


def _summary(name: str, diffs: list[Diff], what: str, rtol: float) -> Check:
    bad = [d for d in diffs if not d.ok]
    worst = max(diffs, key=lambda d: d.rel or 0.0, default=None)
    note = (f"{len(bad)} differ, first {bad[0].spec}" + (f" (reference {bad[0].reference})"
                                                         if bad[0].reference != bad[0].spec else "")
            if bad else (f"largest relative difference at {worst.spec}" if worst is not None and worst.rel else ""))
    return Check(name, f"{len(diffs) - len(bad)}/{len(diffs)} agree", f"{len(diffs)} {what}", not bad,
                 max((d.max_abs or 0.0 for d in diffs), default=None), max((d.rel or 0.0 for d in diffs), default=None),
                 rtol, note)


def _fmt(shape: tuple[int, ...] | None) -> str:
    return "×".join(str(d) for d in shape) if shape else "—"


def _num(t: Tensor) -> str:
    return f"{float(t.detach()):.6g}"
