"""Two models side by side on the same input: the reference first, keeping the outputs of its paired modules,
then the spec-built model, whose paired layers are compared the moment they are computed (before an in-place
layer can overwrite them). Dropout can draw the same masks in both; a loss that counts every output element.

Used by ``archcalc.backends.torch.parity`` (the checks) and ``parity_hints`` (which re-runs both to look at a
layer's input).
"""

from __future__ import annotations

import contextlib
import math
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from archcalc.backends.torch.correspond import Pair
from archcalc.backends.torch.parity_report import Diff
from archcalc.errors import BackendError
from archcalc.ir import Graph


class SideBySide:
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

    def source(self, name: str) -> str:
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
                t = single_tensor(out)
                stored[name] = t.detach().clone() if t is not None and calls[name] == 1 else None
            return hook

        by_source: dict[str, list[Pair]] = defaultdict(list)
        for p in self.pairs:
            by_source[self.source(p.exit)].append(p)
        found: dict[Pair, Diff] = {}

        def check(name: str) -> Callable[..., None]:
            def hook(_m: nn.Module, _args: Any, out: Any) -> None:
                t = single_tensor(out)
                for p in by_source[name]:
                    if p not in found and calls[p.reference] == 1:
                        found[p] = tensor_diff(p.spec, p.reference, t, stored.pop(p.reference, None), self.rtol, p.firm)
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
                    found[p] = tensor_diff(p.spec, p.reference, self.x, stored.pop(p.reference, None), self.rtol,
                                           p.firm)
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
                diffs.append(Diff(p.spec, p.reference, None, shape_of(stored.get(p.reference)), ok=False,
                                  note="runs in the reference, not in the spec", firm=p.firm))
        return spec_out, ref_out, diffs

    def inputs_agree(self, pair: Pair, train: bool) -> bool | None:
        """Whether the two modules of ``pair`` received the same input (None: not a single tensor each)."""
        got: dict[str, Tensor | None] = {}

        def grab(key: str) -> Callable[..., None]:
            def pre(_m: nn.Module, args: Any) -> None:
                if key not in got:
                    t = single_tensor(args[0]) if args else None
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
        return tensor_diff(pair.spec, pair.reference, a, b, self.rtol).ok

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


# ---- dropout, loss ---------------------------------------------------------------------------------------

def dropout_kind(m: nn.Module) -> str | None:
    """"element" (nn.Dropout, archcalc's), "channel" (Dropout1d/2d/3d), "other" (alpha dropout), or None."""
    if isinstance(m, nn.Dropout1d | nn.Dropout2d | nn.Dropout3d):
        return "channel"
    if isinstance(m, nn.AlphaDropout | nn.FeatureAlphaDropout):
        return "other"
    if isinstance(m, nn.Dropout) or (type(m).__name__ == "Dropout" and isinstance(getattr(m, "p", None), float | int)):
        return "element"
    return None


def same_dropout(a: nn.Module, b: nn.Module) -> bool:
    kind = dropout_kind(a)
    return kind is not None and kind == dropout_kind(b)


@contextlib.contextmanager
def fixed_dropout(model: nn.Module, seed: int) -> Iterator[None]:
    """Dropout with masks seeded by (shape, rate): the same in any two models, so they can be compared."""
    changed: list[nn.Module] = []
    handles = []
    for m in model.modules():
        kind = dropout_kind(m)
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


def probe_loss(outputs: Any, seed: int) -> Tensor:
    """Σ over outputs of ⟨output, R⟩ / batch, R a fixed random tensor per shape: every output element counts,
    and the sum does not depend on the order in which a model returns its outputs."""
    total: Tensor | None = None
    for o in tensors(outputs):
        if not o.is_floating_point():
            continue
        gen = torch.Generator().manual_seed(seed + zlib.crc32(repr(tuple(o.shape)).encode()))
        r = torch.randn(tuple(o.shape), generator=gen, dtype=torch.float64).to(o.dtype)
        term = (o * r).sum() / max(1, o.shape[0] if o.dim() else 1)
        total = term if total is None else total + term
    return total if total is not None else torch.zeros(())


# ---- comparing tensors ------------------------------------------------------------------------------------

def tensors(out: Any) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, tuple | list):
        return [t for o in out for t in tensors(o)]
    if isinstance(out, Mapping):
        return [t for o in out.values() for t in tensors(o)]
    return []


def single_tensor(out: Any) -> Tensor | None:
    found = tensors(out) if not isinstance(out, Mapping) else []
    return found[0] if len(found) == 1 else None


def shape_of(t: Tensor | None) -> tuple[int, ...] | None:
    return tuple(t.shape) if t is not None else None


def tensor_diff(spec: str, ref: str, a: Tensor | None, b: Tensor | None, rtol: float, firm: bool = True) -> Diff:
    """``a`` held against ``b``: max |a − b| and that relative to max |b|."""
    if a is None or b is None:
        return Diff(spec, ref, shape_of(a), shape_of(b), ok=False,
                    note="no tensor from the " + ("spec" if a is None else "reference"), firm=firm)
    if a.shape != b.shape:
        return Diff(spec, ref, shape_of(a), shape_of(b), ok=False, note="shapes differ", firm=firm)
    a, b = a.detach(), b.detach()
    if a.dtype == b.dtype and torch.equal(a, b):  # the usual case: the same kernels on the same numbers
        return Diff(spec, ref, shape_of(a), shape_of(b), 0.0, 0.0, True, firm=firm)
    work = torch.float64 if torch.float64 in (a.dtype, b.dtype) else torch.float32
    da, db = a.to(work), b.to(work)
    max_abs = float((da - db).abs().max()) if da.numel() else 0.0
    if not math.isfinite(max_abs):  # infinities or NaNs: they must sit in the same places
        fa, fb = da.isfinite(), db.isfinite()
        if not torch.equal(fa, fb) or not torch.equal(da[~fa].nan_to_num(), db[~fb].nan_to_num()):
            return Diff(spec, ref, shape_of(a), shape_of(b), ok=False, note="non-finite values differ", firm=firm)
        da, db = da[fa], db[fb]
        max_abs = float((da - db).abs().max()) if da.numel() else 0.0
    scale = float(db.abs().max()) if db.numel() else 0.0
    rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    return Diff(spec, ref, shape_of(a), shape_of(b), max_abs, rel, rel <= rtol, firm=firm)


def fmt_shape(shape: tuple[int, ...] | None) -> str:
    return "×".join(str(d) for d in shape) if shape else "—"
