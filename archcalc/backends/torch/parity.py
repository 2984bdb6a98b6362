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

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from archcalc.backends.torch.correspond import correspond
from archcalc.backends.torch.parity_hints import hint
from archcalc.backends.torch.parity_report import Check, Diff, Divergence, ParityReport
from archcalc.backends.torch.reference import build_reference, parse_reference
from archcalc.backends.torch.side_by_side import SideBySide, fmt_shape, probe_loss, shape_of, tensor_diff, tensors
from archcalc.backends.torch.weights import (
    StateMap,
    StateMismatch,
    build_with_weights,
    load_weights,
    match_state,
    transplant,
)
from archcalc.errors import OptionError
from archcalc.ir import Graph

DTYPES = {"fp64": torch.float64, "fp32": torch.float32, "bf16": torch.bfloat16}
#: Largest difference allowed, relative to the reference tensor's largest magnitude.
TOLERANCES = {torch.float64: 1e-12, torch.float32: 1e-5, torch.bfloat16: 2e-2, torch.float16: 2e-3}
#: Gradients are sums over every path back to a parameter; where a network branches, the order of that sum is
#: the framework's choice, and a bias's gradient cancels to a small total (measured on GoogLeNet with its
#: auxiliary heads, fp32: 1.2e-5). Ten times the forward tolerance.
GRAD_TOLERANCES = {dtype: 10 * tol for dtype, tol in TOLERANCES.items()}


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
    runner = SideBySide(graph, model, modules, reference, correspond(graph, modules, reference, smap), x,
                     TOLERANCES[dt], seed)
    _eval_pass(report, runner)
    _train_step(report, runner, smap, GRAD_TOLERANCES[dt])
    report.notes.extend(runner.notes())
    return report


def _eval_pass(report: ParityReport, runner: SideBySide) -> None:
    """Outputs and every paired layer in eval mode."""
    runner.model.eval()
    runner.reference.eval()
    with torch.no_grad():
        spec_out, ref_out, diffs = runner.run(train=False)
    output = _outputs("eval output", spec_out, ref_out, runner.rtol)
    report.checks.append(output)
    _layers(report, runner, "eval", diffs, failed=output.ok is False)


def _train_step(report: ParityReport, runner: SideBySide, smap: StateMap, grad_rtol: float) -> None:
    """One training-mode forward and backward: every paired layer, the loss, gradients, updated buffers."""
    model, reference, rtol = runner.model, runner.reference, runner.rtol
    model.train()
    reference.train()
    model.zero_grad(set_to_none=True)
    reference.zero_grad(set_to_none=True)
    spec_out, ref_out, diffs = runner.run(train=True)
    spec_loss, ref_loss = probe_loss(spec_out, runner.seed), probe_loss(ref_out, runner.seed)
    counts = (len(tensors(spec_out)), len(tensors(ref_out)))
    loss = tensor_diff("loss", "loss", spec_loss.detach(), ref_loss.detach(), rtol)
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


# ---- the checks -------------------------------------------------------------------------------------------

def _layers(report: ParityReport, runner: SideBySide, where: str, diffs: list[Diff], failed: bool) -> None:
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
        report.divergences.append(Divergence(where, first, hint(runner, pair, first, diffs, where == "train")))
    elif soft:
        report.notes.append(f"{where}: groups paired by structure alone end elsewhere than the reference's modules"
                            " (not a difference): " + ", ".join(f"{d.spec} ≠ {d.reference}" for d in soft[:4]))


def _outputs(name: str, spec_out: Any, ref_out: Any, rtol: float) -> Check:
    mine, theirs = tensors(spec_out), tensors(ref_out)
    if len(mine) != len(theirs):
        return Check(name, f"{len(mine)} outputs", f"{len(theirs)} outputs", False)
    diffs = [tensor_diff(f"output {i}", f"output {i}", a, b, rtol)
             for i, (a, b) in enumerate(zip(mine, theirs, strict=True))]
    shapes = " + ".join(fmt_shape(shape_of(t)) for t in mine)
    ref_shapes = " + ".join(fmt_shape(shape_of(t)) for t in theirs)
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
            out.append(tensor_diff(t, s, a if a is not None else torch.zeros_like(mine[t]),
                             b if b is not None else torch.zeros_like(theirs[s]), rtol))
    return out


def _buffers(model: nn.Module, reference: nn.Module, smap: StateMap, rtol: float) -> list[Diff]:
    params = {k for k, _ in model.named_parameters()}
    mine, theirs = model.state_dict(), reference.state_dict()
    return [tensor_diff(t, s, mine[t], theirs[s], rtol) for t, s in smap.pairs.items() if t not in params]


def _summary(name: str, diffs: list[Diff], what: str, rtol: float) -> Check:
    bad = [d for d in diffs if not d.ok]
    worst = max(diffs, key=lambda d: d.rel or 0.0, default=None)
    note = (f"{len(bad)} differ, first {bad[0].spec}" + (f" (reference {bad[0].reference})"
                                                         if bad[0].reference != bad[0].spec else "")
            if bad else (f"largest relative difference at {worst.spec}" if worst is not None and worst.rel else ""))
    return Check(name, f"{len(diffs) - len(bad)}/{len(diffs)} agree", f"{len(diffs)} {what}", not bad,
                 max((d.max_abs or 0.0 for d in diffs), default=None), max((d.rel or 0.0 for d in diffs), default=None),
                 rtol, note)



def _num(t: Tensor) -> str:
    return f"{float(t.detach()):.6g}"
