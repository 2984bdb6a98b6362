"""The receptive-field probe: a one-channel network with the spec's spatial geometry, run by torch.

Each spatial node becomes one probe step chosen by its layer's receptive-field rule (an exhaustive
match, so a new rule kind is a type error here, not a node silently skipped):

* a **window** is a one-channel convolution with the layer's resolved geometry (kernel, stride,
  dilation, padding with ``same`` resolved and the ceil-mode room), positive weights summing to one;
* an **identity** passes its input on;
* a **union** (a join) averages the channel means of its inputs (a broadcast gate's context left out);
* an **unavailable** field is not probed, and neither is anything fed by it: verify reports those
  nodes as unavailable, with the reason, never as skipped.

The support of one output unit's input gradient is then the input region it sees: with all weights
positive nothing cancels, and with every gradient binarised on the way back nothing underflows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archcalc.analysis import Analysis, NodeResult
from archcalc.backends.torch.build import BUILDERS, Site
from archcalc.layers import Geometry, Identity, Unavailable, Union, Window, unreachable


class WindowProbe(nn.Module):
    """Channel mean, then a one-channel summing window: explicit zero pad and a floor-mode conv.

    A zero stride (adaptive pooling to a larger size: every unit reads the same window) repeats the
    first window ``out`` times along that axis.
    """

    def __init__(self, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int],
                 pad: tuple[int, int, int, int], out: tuple[int, int]):
        super().__init__()
        self.pad = pad  # F.pad order: left, right, top, bottom
        self.repeat = (out[0] if stride[0] == 0 else 0, out[1] if stride[1] == 0 else 0)
        self.conv = nn.Conv2d(1, 1, kernel, stride=(max(stride[0], 1), max(stride[1], 1)), dilation=dilation,
                              bias=False)

    def forward(self, xs: list[Tensor]) -> Tensor:
        x = xs[0].mean(1, keepdim=True)
        if any(self.pad):
            x = F.pad(x, self.pad)
        y: Tensor = self.conv(x)
        if self.repeat[0]:
            y = y[:, :, :1].expand(-1, -1, self.repeat[0], -1)
        if self.repeat[1]:
            y = y[:, :, :, :1].expand(-1, -1, -1, self.repeat[1])
        return y


class TransposedProbe(nn.Module):
    """Channel mean, then a one-channel transposed convolution with the layer's geometry, weights summing to one."""

    def __init__(self, g: Geometry):
        super().__init__()
        self.conv = nn.ConvTranspose2d(1, 1, g.kernel, stride=g.stride, padding=(g.pad[0], g.pad[2]),
                                       output_padding=g.output_padding, dilation=g.dilation, bias=False)

    def forward(self, xs: list[Tensor]) -> Tensor:
        y: Tensor = self.conv(xs[0].mean(1, keepdim=True))
        return y


class OwnOpProbe(nn.Module):
    """The layer's own torch module (upsampling: the interpolation itself), fed the probe's value on every
    input channel; its output channels averaged back into one."""

    def __init__(self, module: nn.Module, channels: int):
        super().__init__()
        self.module = module
        self.channels = channels

    def forward(self, xs: list[Tensor]) -> Tensor:
        x = xs[0].mean(1, keepdim=True).expand(-1, self.channels, -1, -1)
        y: Tensor = self.module(x)
        return y.mean(1, keepdim=True)


class JoinProbe(nn.Module):
    """A join: the mean of its inputs' channel means, so the weights still sum to one.

    Inputs broadcast over space as context (a squeeze-excitation gate) are left out: the rule's field is
    the local one, and that is what the probe measures.
    """

    def __init__(self, context: tuple[int, ...] = ()):
        super().__init__()
        self.context = context

    def forward(self, xs: list[Tensor]) -> Tensor:
        local = [t for i, t in enumerate(xs) if i not in self.context]
        out = local[0].mean(1, keepdim=True)
        for t in local[1:]:
            out = out + t.mean(1, keepdim=True)
        return out / len(local)


@dataclass
class Step:
    name: str
    module: nn.Module | None  # None: the identity
    inputs: tuple[str, ...]


def _window(name: str, res: NodeResult, rule: Window) -> nn.Module:
    """The probe of a window: the record's geometry where it has one, else the rule's own window, else (a
    fractional window: upsampling) the layer's own torch op."""
    g = res.rec.geometry
    if g is not None and g.transposed:
        return TransposedProbe(g)
    if g is not None:
        # floor mode over an explicit pad with the ceil room gives the ceil-mode size
        _, h, w = res.rec.ins[0]
        top, bottom, left, right = g.pad
        room_h = max(0, (res.shape[1] - 1) * g.stride[0] + g.extent[0] - (h + top + bottom))
        room_w = max(0, (res.shape[2] - 1) * g.stride[1] + g.extent[1] - (w + left + right))
        return WindowProbe(g.kernel, g.stride, g.dilation, (left, right + room_w, top, bottom + room_h),
                           (res.shape[1], res.shape[2]))
    values = (*rule.kernel, *rule.stride, *rule.pad_before)
    if not all(isinstance(v, int) for v in values) or 0 in rule.stride:  # fractional, or a broadcast
        module = BUILDERS[res.rec.op](Site(name, res.rec, False))
        assert isinstance(module, nn.Module), f"{name}: an upsampling layer builds a module"
        return OwnOpProbe(module, res.rec.ins[0][0])
    kh, kw, sh, sw, ph, pw = (int(v) for v in values)
    return WindowProbe((kh, kw), (sh, sw), (1, 1), (pw, pw, ph, ph), (res.shape[1], res.shape[2]))


class Probe(nn.Module):
    """One step per probed spatial node, run in topological order (no generated code)."""

    def __init__(self, steps: list[Step], source: str):
        super().__init__()
        self.steps = steps
        self.source = source
        self.mods = nn.ModuleList([s.module for s in steps if s.module is not None])

    def run(self, x: Tensor, upto: str | None = None, binarise: bool = False) -> dict[str, Tensor]:
        """Every probed layer's output, stopping after ``upto``.

        ``binarise``: each layer's incoming gradient is replaced by its support (1 where non-zero), so
        the backward pass stays exact in float32 however deep the network (nothing underflows).
        """
        values: dict[str, Tensor] = {self.source: x}
        for step in self.steps:
            args = [values[i] for i in step.inputs]
            value = args[0] if step.module is None else step.module(args)
            values[step.name] = value
            if binarise and value.requires_grad and value is not args[0]:
                value.register_hook(_support_only)
            if step.name == upto:
                break
        return values


def _support_only(grad: Tensor) -> Tensor:
    return (grad != 0).to(grad.dtype)


@dataclass
class ProbePlan:
    """The probe and what it covers: probed nodes, and those left out with the reason."""

    probe: Probe
    covered: list[str]
    #: spatial nodes not probed: their field (or an input's) is unavailable
    unavailable: dict[str, str]


def build_probe(analysis: Analysis) -> ProbePlan:
    """The one-channel, positive-weight probe of every spatial node whose field is defined."""
    results = analysis.results
    source = analysis.graph.nodes[0].name
    steps: list[Step] = []
    covered: list[str] = []
    unavailable: dict[str, str] = {}
    probed = {source}
    for name, res in results.items():
        if not res.node.inputs or len(res.shape) != 3:
            continue
        if any(i not in probed for i in res.node.inputs):
            if all(len(results[i].shape) == 3 for i in res.node.inputs):
                unavailable[name] = res.rf_note or "an input's receptive field is unavailable"
            continue
        rule = res.rec.rf
        module: nn.Module | None
        match rule:
            case Window():
                module = _window(name, res, rule)
            case Identity():
                module = None
            case Union(context=context):
                # inputs whose every unit sees the same field (a broadcast) are context, as the field says
                still = {i for i, src in enumerate(res.node.inputs)
                         if (f := results[src].rf) is not None and f.broadcast}
                module = JoinProbe(tuple(sorted(set(context) | still)) if len(still) < len(res.node.inputs)
                                   else context)
            case Unavailable(reason=reason):
                unavailable[name] = reason
                continue
            case _:
                unreachable(rule)
        steps.append(Step(name, module, res.node.inputs))
        covered.append(name)
        probed.add(name)
    probe = Probe(steps, source).double()
    with torch.no_grad():  # after the cast: weights summing to one in float64, so an all-ones input stays 1
        for module in probe.modules():
            if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
                module.weight.fill_(1.0 / module.weight.numel())
            elif isinstance(module, OwnOpProbe):
                for param in module.parameters():
                    param.fill_(1.0 / param.numel())
    probe.requires_grad_(False)  # only the input's gradient is wanted
    return ProbePlan(probe, covered, unavailable)
