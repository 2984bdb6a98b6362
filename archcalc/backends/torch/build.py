"""Graph IR → ``torch.nn.Module``: one builder per catalogue key, one generated forward.

The model's forward is generated Python source (as ``torch.fx`` does): one straight-line statement
per layer, ``del`` after a value's last use, in-place ReLU / add where no other reader or autograd
needs the overwritten tensor. It is therefore exactly as fast as a hand-written ``nn.Module`` and
scriptable (``torch.jit.script``), traceable and compilable. Module names are the spec's dotted
layer names, so ``state_dict()`` reads ``inception_3a.b2.conv1.weight``.
"""

from __future__ import annotations

import itertools
import keyword
import linecache
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archcalc.analysis import Analysis
from archcalc.backends.torch.fits import check_fits
from archcalc.errors import BackendError
from archcalc.ir import Graph, Node
from archcalc.layers import Family, Geometry, Resolved
from archcalc.layers.activation import PReLUConfig
from archcalc.layers.channels import Crop as CropRule
from archcalc.layers.channels import CropConfig
from archcalc.layers.channels import SplitPart as SplitPartRule
from archcalc.layers.conv import AvgPoolConfig, ConvConfig
from archcalc.layers.dense import FCConfig
from archcalc.layers.norm import BatchNormConfig, GroupNormConfig, LayerNormConfig, LayerScaleConfig, LRNConfig
from archcalc.layers.resample import ConvTransposeConfig, UpsampleConfig
from archcalc.layers.shortcut import PadChannels as PadChannelsRule
from archcalc.layers.shortcut import PadChannelsConfig
from archcalc.vocab import INIT_SCHEMES

# ---- modules that torch.nn lacks ----------------------------------------------------------------


class PadConv2d(nn.Conv2d):
    """A conv behind an explicit F.pad: asymmetric or 'same' padding, or a non-zero padding mode."""

    def __init__(self, *args: Any, pad: tuple[int, int, int, int] = (0, 0, 0, 0), pad_mode: str = "constant",
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pad = pad  # (left, right, top, bottom), F.pad's order
        self.pad_mode = pad_mode
        self.explicit_pad = any(pad)

    def forward(self, x: Tensor) -> Tensor:
        if self.explicit_pad:
            x = F.pad(x, self.pad, mode=self.pad_mode)
        return self._conv_forward(x, self.weight, self.bias)  # type: ignore[no-any-return]


class MaskedConv2d(PadConv2d):
    """A conv with a LeNet-5 connection table: the weight is multiplied by a fixed 0/1 mask buffer."""

    def __init__(self, *args: Any, table: Sequence[Sequence[int]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        mask = torch.zeros_like(self.weight)
        for out_map, row in enumerate(table):
            mask[out_map, list(row)] = 1.0
        self.register_buffer("mask", mask)

    def forward(self, x: Tensor) -> Tensor:
        if self.explicit_pad:
            x = F.pad(x, self.pad, mode=self.pad_mode)
        return self._conv_forward(x, self.weight * self.mask, self.bias)  # type: ignore[no-any-return, operator]

    @torch.no_grad()
    def archcalc_init(self, scheme: str, gen: torch.Generator) -> None:
        """A conv's initialisation, then the table's absent connections set to zero."""
        init_weight(self.weight, self.bias, Family.CONV, scheme, gen)
        self.weight.mul_(self.mask)  # type: ignore[arg-type]


class PadPool(nn.Module):
    """A pooling layer behind an explicit F.pad (asymmetric or 'same' padding)."""

    def __init__(self, pool: nn.Module, pad: tuple[int, int, int, int], value: float):
        super().__init__()
        self.pool = pool
        self.pad = pad
        self.value = value

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(F.pad(x, self.pad, mode="constant", value=self.value))  # type: ignore[no-any-return]


class Subsample(nn.Module):
    """LeNet-5's S2/S4: window sum × a learned coefficient + a learned bias, per map."""

    def __init__(self, channels: int, k: tuple[int, int], s: tuple[int, int],
                 pad: tuple[int, int, int, int], ceil: bool, explicit: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), 1.0 / (k[0] * k[1])))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.k, self.s, self.ceil = k, s, ceil
        self.sym = pad[0] == pad[1] and pad[2] == pad[3] and not explicit
        self.padding = (pad[0], pad[2]) if self.sym else (0, 0)
        self.pad = (pad[2], pad[3], pad[0], pad[1])

    def forward(self, x: Tensor) -> Tensor:
        if not self.sym:
            x = F.pad(x, self.pad)
        pooled = F.avg_pool2d(x, self.k, self.s, self.padding, self.ceil, True, 1)
        return pooled * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class ScaledTanh(nn.Module):
    """A·tanh(S·x) (LeNet-5)."""

    def __init__(self, a: float, s: float):
        super().__init__()
        self.a, self.s = a, s

    def forward(self, x: Tensor) -> Tensor:
        return self.a * torch.tanh(self.s * x)


class RBF(nn.Module):
    """LeNet-5's Euclidean RBF output: y_i = Σ_j (x_j − w_ij)²; prototypes frozen unless trainable."""

    def __init__(self, features: int, out: int, trainable: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out, features), requires_grad=trainable)

    def forward(self, x: Tensor) -> Tensor:
        return (x.unsqueeze(1) - self.weight).pow(2).sum(-1)

    @torch.no_grad()
    def archcalc_init(self, scheme: str, gen: torch.Generator) -> None:
        """LeNet-5's prototypes are ±1 bitmaps, whatever the scheme."""
        bits = torch.randint(0, 2, self.weight.shape, generator=gen)
        self.weight.copy_(bits.to(self.weight.dtype) * 2 - 1)


class Dropout(nn.Module):
    """Dropout that keeps a 1-byte bool mask for backward on every device.

    ``nn.Dropout`` on CPU keeps a float mask (4 bytes an element) where CUDA keeps a bool mask;
    ``native_dropout`` keeps the bool mask everywhere, so memory is the same on both and as modelled.
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return x
        return torch.native_dropout(x, self.p, True)[0]

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Concat(nn.Module):
    """Channel concatenation of parallel branches."""

    def forward(self, xs: list[Tensor]) -> Tensor:
        return torch.cat(xs, 1)


class Add(nn.Module):
    """Element-wise sum; with ``inplace`` it accumulates into the first input (known to be free)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, xs: list[Tensor]) -> Tensor:
        if self.inplace:
            out = xs[0]
            for t in xs[1:]:
                out = out.add_(t)
            return out
        out = xs[0] + xs[1] if len(xs) > 1 else xs[0].clone()
        for t in xs[2:]:
            out = out.add_(t)
        return out


class PadChannels(nn.Module):
    """Option A shortcut (He et al. 2016, CIFAR): subsample by the stride, zero-pad the channels."""

    def __init__(self, stride: int, before: int, after: int):
        super().__init__()
        self.stride, self.before, self.after = stride, before, after

    def forward(self, x: Tensor) -> Tensor:
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        return F.pad(x, (0, 0, 0, 0, self.before, self.after))


class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels at each position of an N×C×H×W map (ConvNeXt's): on the channels-last
    view, so the output is channels-last in memory, as torchvision's."""

    def forward(self, x: Tensor) -> Tensor:
        y = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


class PositionwiseLinear(nn.Linear):
    """A Linear over the channels at each position (ConvNeXt's MLP on its channels-last view)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x.permute(0, 2, 3, 1), self.weight, self.bias).permute(0, 3, 1, 2)


class StochasticDepth(nn.Module):
    """Stochastic depth as torchvision computes it: identity at inference or with p = 0; in training
    input × Bernoulli(1 − p) noise (one value per sample, or one for the batch) / (1 − p)."""

    def __init__(self, p: float, mode: str):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.dim() - 1) if self.mode == "row" else [1] * x.dim()
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"


class Mul(nn.Module):
    """Element-wise product of its inputs, in order, broadcasting (squeeze-excitation: gate × map)."""

    def forward(self, xs: list[Tensor]) -> Tensor:
        out = xs[0]
        for t in xs[1:]:
            out = out * t
        return out


class ChannelRange(nn.Module):
    """Channels [start, stop) of the input: one part of a split (a view)."""

    def __init__(self, start: int, stop: int):
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x: Tensor) -> Tensor:
        return x[:, self.start:self.stop]


class CentreCrop(nn.Module):
    """Rows [top, top + h) and columns [left, left + w) of the map (a view)."""

    def __init__(self, top: int, left: int, size: tuple[int, int]):
        super().__init__()
        self.top, self.left, self.h, self.w = top, left, size[0], size[1]

    def forward(self, x: Tensor) -> Tensor:
        return x[:, :, self.top:self.top + self.h, self.left:self.left + self.w]


class Group(nn.ModuleDict):
    """A container that only names its children (a block instance, a branch; '0', '1' as torchvision's)."""


# ---- the builder table --------------------------------------------------------------------------

@dataclass(frozen=True)
class Site:
    """What a builder knows about its node: its name, its resolved record, whether to work in place."""

    name: str
    rec: Resolved
    inplace: bool

    @property
    def cin(self) -> int:
        return self.rec.ins[0][0]


#: A builder returns the node's module, a bare parameter (the node multiplies its input by it), or None
#: (the node passes its input on).
Builder = Callable[[Site], "nn.Module | nn.Parameter | None"]

_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def _geometry(site: Site) -> Geometry:
    g = site.rec.geometry
    if g is None:  # a builder registered for a windowed type whose record has no geometry: a bug
        raise BackendError(f"{site.name}: '{site.rec.op}' has no resolved window geometry")
    return g


def _conv(site: Site) -> nn.Module:
    """Native padding where torch has it (zeros, symmetric); an explicit F.pad otherwise."""
    a: ConvConfig = site.rec.config
    g = _geometry(site)
    common: dict[str, Any] = {"stride": g.stride, "dilation": g.dilation, "bias": a.bias}
    padding = (g.pad[0], g.pad[2]) if g.native else (0, 0)
    pad = (0, 0, 0, 0) if g.native else g.explicit_pad
    mode = _PAD_MODES[g.pad_mode]
    if a.table is not None:
        return MaskedConv2d(site.cin, a.out, g.kernel, padding=padding, table=a.table, pad=pad, pad_mode=mode,
                            **common)
    if g.native:
        return nn.Conv2d(site.cin, a.out, g.kernel, padding=padding, groups=a.groups, **common)
    return PadConv2d(site.cin, a.out, g.kernel, groups=a.groups, pad=pad, pad_mode=mode, **common)


def _pool(site: Site, make: Callable[[tuple[int, int], bool], nn.Module], fill: float) -> nn.Module:
    """torch's pool where it pads natively; otherwise an explicit pad (with the ceil room) in floor mode."""
    g = _geometry(site)
    if g.native:
        return make((g.pad[0], g.pad[2]), g.ceil)
    return PadPool(make((0, 0), False), g.explicit_pad, fill)


def _maxpool(site: Site) -> nn.Module:
    g = _geometry(site)
    return _pool(site, lambda p, ceil: nn.MaxPool2d(g.kernel, g.stride, p, g.dilation, ceil_mode=ceil), -math.inf)


def _avgpool(site: Site) -> nn.Module:
    a: AvgPoolConfig = site.rec.config
    g = _geometry(site)
    return _pool(site, lambda p, ceil: nn.AvgPool2d(g.kernel, g.stride, p, ceil, a.count_include_pad), 0.0)


def _subsample(site: Site) -> nn.Module:
    g = _geometry(site)
    if g.native:
        return Subsample(site.cin, g.kernel, g.stride, g.pad, g.ceil)
    left, right, top, bottom = g.explicit_pad
    return Subsample(site.cin, g.kernel, g.stride, (top, bottom, left, right), False, explicit=True)


def _bn(site: Site) -> nn.Module:
    a: BatchNormConfig = site.rec.config
    cls = nn.BatchNorm2d if len(site.rec.ins[0]) == 3 else nn.BatchNorm1d
    return cls(site.cin, eps=a.eps, momentum=a.momentum, affine=a.affine)


def _lrn(site: Site) -> nn.Module:
    a: LRNConfig = site.rec.config
    return nn.LocalResponseNorm(a.size, a.alpha, a.beta, a.k)


def _prelu(site: Site) -> nn.Module:
    a: PReLUConfig = site.rec.config
    return nn.PReLU(site.cin if a.per_channel else 1)


def _conv_transpose(site: Site) -> nn.Module:
    a: ConvTransposeConfig = site.rec.config
    return nn.ConvTranspose2d(site.cin, a.out, a.k, stride=a.s, padding=a.pad, output_padding=a.output_padding,
                              groups=a.groups, bias=a.bias, dilation=a.dilation)


def _upsample(site: Site) -> nn.Module:
    a: UpsampleConfig = site.rec.config
    return nn.Upsample(size=a.size, scale_factor=a.scale, mode=a.mode,
                       align_corners=a.align_corners if a.mode == "bilinear" else None)


def _layer_norm(site: Site) -> nn.Module:
    a: LayerNormConfig = site.rec.config
    cls = LayerNorm2d if len(site.rec.ins[0]) == 3 else nn.LayerNorm
    return cls(site.cin, eps=a.eps, elementwise_affine=a.affine)


def _group_norm(site: Site) -> nn.Module:
    a: GroupNormConfig = site.rec.config
    return nn.GroupNorm(a.groups, site.cin, eps=a.eps, affine=a.affine)


def _layer_scale(site: Site) -> nn.Parameter:
    a: LayerScaleConfig = site.rec.config
    shape = (site.cin, 1, 1) if len(site.rec.ins[0]) == 3 else (site.cin,)
    return nn.Parameter(torch.full(shape, a.init))


def _fc(site: Site) -> nn.Module:
    a: FCConfig = site.rec.config
    cls = PositionwiseLinear if a.per_position else nn.Linear
    return cls(site.cin, a.out, bias=a.bias)


def _split_part(site: Site) -> nn.Module:
    start, stop = SplitPartRule().channels(site.rec.config, site.rec.ins)
    return ChannelRange(start, stop)


def _crop(site: Site) -> nn.Module:
    a: CropConfig = site.rec.config
    top, left = CropRule().offsets(a, site.rec.ins)
    return CentreCrop(top, left, a.size)


def _opaque(site: Site) -> nn.Module:
    """An op archcalc has no rules for (``import --allow-opaque``): its function is not in the spec."""
    raise BackendError(f"{site.name}: {site.rec.config.op} is opaque (imported with --allow-opaque):"
                       " archcalc can analyse around it but cannot build it")


def _pad_channels(site: Site) -> nn.Module:
    a: PadChannelsConfig = site.rec.config
    before, after = PadChannelsRule.padding(a, site.rec.ins)
    return PadChannels(a.s, before, after)


BUILDERS: dict[str, Builder] = {
    "input": lambda site: None,
    "conv": _conv,
    "maxpool": _maxpool,
    "avgpool": _avgpool,
    "subsample": _subsample,
    "gap": lambda site: nn.AdaptiveAvgPool2d(1),
    "adaptive_avgpool": lambda site: nn.AdaptiveAvgPool2d(site.rec.config.out),
    "bn": _bn,
    "lrn": _lrn,
    "relu": lambda site: nn.ReLU(inplace=site.inplace),
    "relu6": lambda site: nn.ReLU6(inplace=site.inplace),
    "leaky_relu": lambda site: nn.LeakyReLU(site.rec.config.slope, inplace=site.inplace),
    "elu": lambda site: nn.ELU(site.rec.config.alpha, inplace=site.inplace),
    "prelu": _prelu,
    "sigmoid": lambda site: nn.Sigmoid(),
    "tanh": lambda site: nn.Tanh(),
    "scaled_tanh": lambda site: ScaledTanh(site.rec.config.A, site.rec.config.S),
    "gelu": lambda site: nn.GELU(approximate=site.rec.config.approximate),
    "hardsigmoid": lambda site: nn.Hardsigmoid(inplace=site.inplace),
    "silu": lambda site: nn.SiLU(inplace=site.inplace),
    "hardswish": lambda site: nn.Hardswish(inplace=site.inplace),
    "softplus": lambda site: nn.Softplus(),
    "softmax": lambda site: nn.Softmax(dim=1),
    "log_softmax": lambda site: nn.LogSoftmax(dim=1),
    "dropout": lambda site: Dropout(site.rec.config.p),
    "stochastic_depth": lambda site: StochasticDepth(site.rec.config.p, site.rec.config.mode),
    "flatten": lambda site: nn.Flatten(1),
    "fc": _fc,
    "rbf": lambda site: RBF(site.cin, site.rec.config.out, site.rec.config.trainable),
    "concat": lambda site: Concat(),
    "add": lambda site: Add(inplace=site.inplace),
    "mul": lambda site: Mul(),
    "identity": lambda site: None,
    "pad_channels": _pad_channels,
    "conv_transpose": _conv_transpose,
    "upsample": _upsample,
    "pixel_shuffle": lambda site: nn.PixelShuffle(site.rec.config.r),
    "layer_norm": _layer_norm,
    "group_norm": _group_norm,
    "layer_scale": _layer_scale,
    "channel_shuffle": lambda site: nn.ChannelShuffle(site.rec.config.groups),
    "split_part": _split_part,
    "crop": _crop,
    "opaque": _opaque,
}


# ---- the model ----------------------------------------------------------------------------------

class ArchNet(nn.ModuleDict):
    """A network built from a spec; ``forward`` is generated per instance (see the module doc).

    A module dictionary, as every group inside it, so that layer names may be digits ('features.0.1',
    torchvision's keys): the generated forward reaches each layer by indexing, which TorchScript and
    ``torch.export`` accept.
    """

    def __init__(self, spec_name: str = "", side_outputs: int = 0):
        super().__init__()
        self.spec_name = spec_name
        self.side_outputs = side_outputs

    def extra_repr(self) -> str:
        return f"spec={self.spec_name!r}"


_counter = itertools.count()
_RESERVED = frozenset(dir(nn.ModuleDict())) | {"forward", "spec_name", "side_outputs"}


def _attach(root: nn.Module, path: str, module: nn.Module | nn.Parameter) -> None:
    """Put a node's module (or bare parameter) at its dotted path, creating the groups on the way."""
    parts = path.split(".")
    for seg in parts:
        if seg in _RESERVED:
            raise BackendError(f"layer name '{path}': '{seg}' is a torch.nn.ModuleDict attribute;"
                               " rename the layer or group")
    parent = root
    for seg in parts[:-1]:
        child = parent._modules.get(seg)
        if child is None:
            if seg in parent._parameters:
                raise BackendError(f"layer name '{path}': '{seg}' is a layer, not a group")
            child = Group()
            parent.add_module(seg, child)
        parent = child
    leaf = parts[-1]
    if leaf in parent._modules or leaf in parent._parameters:
        raise BackendError(f"layer name '{path}' is also the name of a group")
    if isinstance(module, nn.Parameter):
        if not leaf.isidentifier() or keyword.iskeyword(leaf):
            raise BackendError(f"layer name '{path}': a layer that is one parameter needs a Python name")
        parent.register_parameter(leaf, module)
    else:
        parent.add_module(leaf, module)


def _access(path: str, parameter: bool = False) -> str:
    """Source reaching a node's module by indexing the groups (names may be digits); a bare parameter
    is the last group's attribute."""
    parts = path.split(".")
    if parameter:
        return "self" + "".join(f"[{p!r}]" for p in parts[:-1]) + f".{parts[-1]}"
    return "self" + "".join(f"[{p!r}]" for p in parts)


def _generate(analysis: Analysis, modules: dict[str, nn.Module | nn.Parameter]) -> str:
    """Source of ``forward``: main path first, side outputs (aux classifiers) only in training.

    A join is called with the list of its inputs; a node built as one bare parameter multiplies its
    input by it (a layer scale, kept as a parameter of its group so its state_dict key is torchvision's);
    a node without a module passes its input on.
    """
    graph, plan, results = analysis.graph, analysis.inplace_plan, analysis.results
    nodes = list(graph.nodes)
    var = {n.name: ("x" if not n.inputs else f"v{i}") for i, n in enumerate(nodes)}
    main = graph.outputs[0]
    needed: set[str] = set()
    stack = [main]
    by_name = {n.name: n for n in nodes}
    while stack:
        cur = stack.pop()
        if cur not in needed:
            needed.add(cur)
            stack.extend(by_name[cur].inputs)
    main_nodes = [n for n in nodes if n.name in needed and n.inputs]
    side_nodes = [n for n in nodes if n.name not in needed]
    order = main_nodes + side_nodes
    last: dict[str, int] = {}
    for idx, n in enumerate(order):
        for i in n.inputs:
            last[i] = idx
    keep = set(graph.outputs)
    # values read by side branches stay alive through the main section
    side_reads = {i for n in side_nodes for i in n.inputs}

    lines = ["def forward(self, x):"]

    def emit(idx: int, n: Node, indent: str, in_side: bool) -> None:
        built = modules.get(n.name)
        if results[n.name].rec.join is not None:  # a join takes the list of its inputs
            ins = list(n.inputs)
            choice = plan.get(n.name)
            if choice:
                ins.insert(0, ins.pop(choice))
            call = f"{_access(n.name)}([{', '.join(var[i] for i in ins)}])"
        elif isinstance(built, nn.Parameter):
            call = f"{_access(n.name, parameter=True)} * {var[n.inputs[0]]}"
        elif built is not None:
            call = f"{_access(n.name)}({var[n.inputs[0]]})"
        else:
            call = var[n.inputs[0]]
        lines.append(f"{indent}{var[n.name]} = {call}")
        dead = [i for i in dict.fromkeys(n.inputs)
                if last.get(i) == idx and i not in keep and (in_side or i not in side_reads)
                and var[i] != var[n.name]]
        if dead:
            lines.append(f"{indent}del {', '.join(var[i] for i in dead)}")

    for idx, n in enumerate(main_nodes):
        emit(idx, n, "    ", False)
    if not graph.outputs[1:]:
        lines.append(f"    return {var[main]}")
        return "\n".join(lines) + "\n"
    lines.append("    if torch.jit.is_scripting():")
    lines.append(f"        return {var[main]}")
    lines.append("    if not self.training:")
    lines.append(f"        return {var[main]}")
    for j, n in enumerate(side_nodes):
        emit(len(main_nodes) + j, n, "    ", True)
    lines.append(f"    return ({', '.join(var[o] for o in graph.outputs)},)")
    return "\n".join(lines) + "\n"


def _forward_from_source(source: str) -> Callable[..., Any]:
    """Compile generated source with a linecache entry so TorchScript and tracebacks can read it."""
    filename = f"<archcalc-forward-{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"torch": torch}
    exec(compile(source, filename, "exec"), namespace)  # generated from the validated graph only
    return namespace["forward"]  # type: ignore[no-any-return]


def build_model(source: Analysis | Graph, *, init: str | None = None, seed: int = 0) -> nn.Module:
    """Build the analysed network as an ``nn.Module`` (a Graph is analysed first).

    ``init`` defaults to the spec's recipe, else torch's own. Each node's module comes from its type's
    builder, given the node's resolved record and whether the in-place plan lets it overwrite its input.
    """
    analysis = source if isinstance(source, Analysis) else Analysis(source)
    check_fits(analysis)  # a one-line refusal, not torch's allocator traceback after seconds of work
    graph = analysis.graph
    scheme = init if init is not None else recipe_init(graph)
    if scheme not in INIT_SCHEMES:
        raise BackendError(f"unknown init '{scheme}' (choose from {', '.join(INIT_SCHEMES)})")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        modules: dict[str, nn.Module | nn.Parameter] = {}
        for name, res in analysis.results.items():
            module = BUILDERS[res.rec.op](Site(name, res.rec, res.inplace is not None))
            if module is not None:
                modules[name] = module
        forward = _forward_from_source(_generate(analysis, modules))
        cls = type(f"ArchNet_{_class_suffix(graph.meta.name)}", (ArchNet,), {"forward": forward})
        model: ArchNet = cls(graph.meta.name, len(graph.outputs) - 1)
        for name, module in modules.items():
            _attach(model, name, module)
        initialize(model, analysis, scheme, seed)
    return model


def _class_suffix(name: str) -> str:
    cleaned = "".join(c if c.isalnum() else "_" for c in name)
    return cleaned or "spec"


def recipe_init(graph: Graph) -> str:
    """The spec's recipe's initialisation scheme (``init: kaiming`` or ``init: {scheme: ...}``), else torch's."""
    value = graph.meta.recipe.get("init")
    if value is None:
        return "default"
    if isinstance(value, dict):
        value = value.get("scheme") or value.get("name") or value.get("type")
    return str(value) if value else "default"


@torch.no_grad()
def init_weight(weight: Tensor, bias: Tensor | None, family: Family, scheme: str, gen: torch.Generator) -> None:
    """Initialise one conv or fc weight by ``scheme`` (biases to zero unless torch's default is kept)."""
    if scheme == "gaussian":
        weight.normal_(0.0, 0.01, generator=gen)  # Krizhevsky et al. 2012, section 5
    elif scheme == "kaiming":
        if family is Family.CONV:  # He et al. 2015, as torchvision's ResNet
            nn.init.kaiming_normal_(weight, mode="fan_out", nonlinearity="relu", generator=gen)
        else:
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=gen)
    elif scheme == "xavier":
        nn.init.xavier_uniform_(weight, generator=gen)  # Glorot & Bengio 2010
    if scheme != "default" and bias is not None:
        bias.zero_()


@torch.no_grad()
def initialize(model: nn.Module, analysis: Analysis, scheme: str, seed: int = 0) -> None:
    """Re-initialise weights as the papers did; seeded, so two calls give identical models.

    Every conv- and fc-family layer with weights gets the scheme (whatever module builds it); a module
    with an initialisation of its own (LeNet-5's RBF bitmaps, a connection table's mask) says so with
    an ``archcalc_init(scheme, generator)`` method. Other layers keep torch's initialisation.
    """
    gen = torch.Generator().manual_seed(seed)
    owners = {id(m): analysis.results[name].rec for name, m in node_modules(model, analysis.graph).items()}
    for module in model.modules():  # registration order: the same draws for the same spec and seed
        rec = owners.get(id(module))
        if rec is None:
            continue
        own = getattr(module, "archcalc_init", None)
        if own is not None:
            own(scheme, gen)
        elif rec.family in (Family.CONV, Family.FC) and rec.params.weights:
            weight = module.weight
            bias = getattr(module, "bias", None)
            assert isinstance(weight, Tensor)
            init_weight(weight, bias if isinstance(bias, Tensor) else None, rec.family, scheme, gen)


# ---- helpers for verify, bench and export -------------------------------------------------------

def node_modules(model: nn.Module, network: Analysis | Graph) -> dict[str, nn.Module]:
    """The module that computes each node (nodes whose builder made none, the input and identities, are
    left out: their value is their input's)."""
    graph = network.graph if isinstance(network, Analysis) else network
    out: dict[str, nn.Module] = {}
    for node in graph.nodes:
        if not node.inputs:
            continue  # the input
        try:
            out[node.name] = model.get_submodule(node.name)
        except AttributeError:
            continue
    return out


def parameter_counts(module: nn.Module) -> tuple[int, int, int]:
    """(weights, biases, buffers) held directly by one node's module; a masked weight counts its ones."""
    weights = biases = buffers = 0
    mask = getattr(module, "mask", None)
    for pname, p in module.named_parameters():
        n = p.numel()
        if pname == "weight" and isinstance(mask, Tensor):
            n = int(mask.count_nonzero())
        if pname.rsplit(".", 1)[-1] == "bias":
            biases += n
        else:
            weights += n
    for _, b in module.named_buffers():
        buffers += b.numel()
    return weights, biases, buffers
