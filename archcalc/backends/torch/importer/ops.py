"""The mapping: torch modules, functions and tensor methods → archcalc layer types, with their attributes.

One table per way a model can call an op — ``MODULES`` (a leaf ``nn.Module``, by exact class), ``FUNCTIONS``
(``torch.cat``, ``F.relu``, ``operator.add`` and the ATen ops ``torch.export`` leaves) and ``METHODS``
(``x.mean``, ``x.view``) — each entry a handler that reads the call and asks the emitter for archcalc layers.
Pure data movement (view, reshape, permute, flatten, chunk, slicing) is handed to the emitter as a
rearrangement (``values.py``). A handler raises :class:`NotExpressible` for a use archcalc cannot write; an op
missing from the tables is not in archcalc's vocabulary.

Functional ops that take parameters (``F.conv2d(x, self.weight, self.bias)``, ConvNeXt's ``F.layer_norm``)
become the layer named after the module that holds the parameters, when the parameters are called what the
torch builder calls them (``weight``, ``bias``, ``running_mean``, ``running_var``) and that module holds
nothing else: the state_dict keys are then the model's. Otherwise the layer is named after the parameter and
the weights load by structure (the importer says so).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from archcalc.backends.torch.importer.net import NotExpressible
from archcalc.backends.torch.importer.values import Kind, Param, Ref

aten = torch.ops.aten


@dataclass
class Call:
    """One op of the traced graph as a handler sees it: symbolic and real arguments, the real output."""

    op: str  # how the model calls it: nn.Conv2d, torch.cat, F.relu, Tensor.view, aten.add.Tensor
    scope: str  # the module path of the call (a module's own path for a module call)
    base: str  # the traced node's name (a functional layer's name is scope.base)
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    real_args: tuple[Any, ...]
    real_kwargs: dict[str, Any]
    out: Any
    module: nn.Module | None = None
    target: Any = None
    method: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def bind(self, names: Sequence[str], defaults: dict[str, Any] | None = None) -> tuple[dict[str, Any],
                                                                                        dict[str, Any]]:
        """The symbolic and the real arguments by parameter name (positional ones first, then keywords)."""
        sym: dict[str, Any] = dict(defaults or {})
        real: dict[str, Any] = dict(defaults or {})
        for name, s, r in zip(names, self.args, self.real_args, strict=False):
            sym[name], real[name] = s, r
        for key, value in self.kwargs.items():
            sym[key] = value
            real[key] = self.real_kwargs[key]
        return sym, real


class Emitter(Protocol):
    """What the interpreter offers handlers."""

    def emit(self, call: Call, key: str, attrs: dict[str, Any], inputs: Sequence[Ref], *,
             out: tuple[int, ...] | None = None, name: str | None = None, params: int = 0,
             channels_last: bool = False, base: str | None = None) -> Ref: ...

    def plain(self, value: Any, call: Call) -> str: ...

    def shape(self, ref: Ref) -> tuple[int, ...]: ...

    def rearrange(self, call: Call, ref: Ref, apply: Callable[[Tensor], Any]) -> Any: ...

    def owner(self, call: Call, params: dict[str, Param | None]) -> tuple[str, int]: ...


Handler = Callable[[Emitter, Call], Any]


# ---- attribute helpers -----------------------------------------------------------------------------------

def pair(value: Any) -> int | list[int]:
    """A spec pair: an integer when both axes agree."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    items = [int(v) for v in value]
    if len(items) == 1:
        return items[0]
    return items[0] if len(set(items)) == 1 else items


def _set(attrs: dict[str, Any], key: str, value: Any, default: Any) -> None:
    if value != default:
        attrs[key] = value


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters(recurse=False))


def _tensor_input(em: Emitter, call: Call) -> Ref:
    ref = call.args[0] if call.args else None
    if not isinstance(ref, Ref):
        raise NotExpressible(call.op, "on a value not computed from the image (a parameter or a constant)")
    return ref


def _rank(em: Emitter, ref: Ref) -> int:
    return len(em.shape(ref))


def _channels_last(ref: Ref) -> bool:
    return ref.view is not None and ref.view.kind is Kind.CHANNELS_LAST


# ---- convolutions and pooling --------------------------------------------------------------------------

def _conv_attrs(out: int, kernel: Any, stride: Any, padding: Any, dilation: Any, groups: int, bias: bool,
                padding_mode: str = "zeros") -> dict[str, Any]:
    attrs: dict[str, Any] = {"out": out, "k": pair(kernel)}
    _set(attrs, "s", pair(stride), 1)
    if isinstance(padding, str):
        if padding != "valid":
            attrs["pad"] = padding
    else:
        _set(attrs, "pad", pair(padding), 0)
    _set(attrs, "dilation", pair(dilation), 1)
    _set(attrs, "groups", int(groups), 1)
    _set(attrs, "bias", bias, True)
    _set(attrs, "padding_mode", padding_mode, "zeros")
    return attrs


def conv_module(em: Emitter, call: Call) -> Ref:
    m = call.module
    assert isinstance(m, nn.Conv2d)
    x = _tensor_input(em, call)
    attrs = _conv_attrs(m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups, m.bias is not None,
                        m.padding_mode)
    return em.emit(call, "conv", attrs, [x], params=_count(m))


def conv_function(em: Emitter, call: Call) -> Ref:
    sym, real = call.bind(["input", "weight", "bias", "stride", "padding", "dilation", "groups"],
                          {"bias": None, "stride": 1, "padding": 0, "dilation": 1, "groups": 1})
    weight = real["weight"]
    attrs = _conv_attrs(weight.shape[0], tuple(weight.shape[2:]), real["stride"], real["padding"], real["dilation"],
                        real["groups"], sym["bias"] is not None)
    name, params = em.owner(call, {"weight": sym["weight"], "bias": sym["bias"]})
    return em.emit(call, "conv", attrs, [_tensor_input(em, call)], name=name, params=params)


def _conv_transpose_attrs(out: int, kernel: Any, stride: Any, padding: Any, output_padding: Any, groups: int,
                          dilation: Any, bias: bool) -> dict[str, Any]:
    attrs: dict[str, Any] = {"out": out, "k": pair(kernel)}
    _set(attrs, "s", pair(stride), 1)
    _set(attrs, "pad", pair(padding), 0)
    _set(attrs, "output_padding", pair(output_padding), 0)
    _set(attrs, "dilation", pair(dilation), 1)
    _set(attrs, "groups", int(groups), 1)
    _set(attrs, "bias", bias, True)
    return attrs


def conv_transpose_module(em: Emitter, call: Call) -> Ref:
    m = call.module
    assert isinstance(m, nn.ConvTranspose2d)
    if len(call.args) > 1 or "output_size" in call.kwargs:
        raise NotExpressible(call.op, "with an output_size given at the call")
    if m.padding_mode != "zeros":
        raise NotExpressible(call.op, f"with padding_mode={m.padding_mode!r}")
    attrs = _conv_transpose_attrs(m.out_channels, m.kernel_size, m.stride, m.padding, m.output_padding, m.groups,
                                  m.dilation, m.bias is not None)
    return em.emit(call, "conv_transpose", attrs, [_tensor_input(em, call)], params=_count(m))


def conv_transpose_function(em: Emitter, call: Call) -> Ref:
    sym, real = call.bind(["input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"],
                          {"bias": None, "stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "dilation": 1})
    weight = real["weight"]
    groups = int(real["groups"])
    attrs = _conv_transpose_attrs(weight.shape[1] * groups, tuple(weight.shape[2:]), real["stride"], real["padding"],
                                  real["output_padding"], groups, real["dilation"], sym["bias"] is not None)
    name, params = em.owner(call, {"weight": sym["weight"], "bias": sym["bias"]})
    return em.emit(call, "conv_transpose", attrs, [_tensor_input(em, call)], name=name, params=params)


def _pool_attrs(kernel: Any, stride: Any, padding: Any, ceil: bool) -> dict[str, Any]:
    attrs: dict[str, Any] = {"k": pair(kernel)}
    if stride is not None and not (isinstance(stride, Sequence) and not stride):
        _set(attrs, "s", pair(stride), attrs["k"])
    _set(attrs, "pad", pair(padding), 0)
    _set(attrs, "ceil", bool(ceil), False)
    return attrs


def _maxpool(em: Emitter, call: Call, kernel: Any, stride: Any, padding: Any, dilation: Any, ceil: bool,
             indices: bool) -> Ref:
    if indices:
        raise NotExpressible(call.op, "with return_indices=True")
    attrs = _pool_attrs(kernel, stride, padding, ceil)
    _set(attrs, "dilation", pair(dilation), 1)
    return em.emit(call, "maxpool", attrs, [_tensor_input(em, call)])


def maxpool_module(em: Emitter, call: Call) -> Ref:
    m = call.module
    assert isinstance(m, nn.MaxPool2d)
    return _maxpool(em, call, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, m.return_indices)


def maxpool_function(em: Emitter, call: Call) -> Ref:
    _, r = call.bind(["input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"],
                     {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False})
    return _maxpool(em, call, r["kernel_size"], r["stride"], r["padding"], r["dilation"], r["ceil_mode"],
                    r["return_indices"])


def _avgpool(em: Emitter, call: Call, kernel: Any, stride: Any, padding: Any, ceil: bool, include_pad: bool,
             divisor: Any) -> Ref:
    if divisor is not None:
        raise NotExpressible(call.op, "with divisor_override")
    attrs = _pool_attrs(kernel, stride, padding, ceil)
    _set(attrs, "count_include_pad", bool(include_pad), True)
    return em.emit(call, "avgpool", attrs, [_tensor_input(em, call)])


def avgpool_module(em: Emitter, call: Call) -> Ref:
    m = call.module
    assert isinstance(m, nn.AvgPool2d)
    return _avgpool(em, call, m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad, m.divisor_override)


def avgpool_function(em: Emitter, call: Call) -> Ref:
    _, r = call.bind(["input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad",
                      "divisor_override"],
                     {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True,
                      "divisor_override": None})
    return _avgpool(em, call, r["kernel_size"], r["stride"], r["padding"], r["ceil_mode"], r["count_include_pad"],
                    r["divisor_override"])


def _adaptive(em: Emitter, call: Call) -> Ref:
    x = _tensor_input(em, call)
    if _rank(em, x) != 3:
        raise NotExpressible(call.op, "on a tensor that is not a C×H×W map")
    out = tuple(call.out.shape[2:])
    if out == (1, 1):
        return em.emit(call, "gap", {}, [x])
    return em.emit(call, "adaptive_avgpool", {"out": pair(out)}, [x])


def mean_call(em: Emitter, call: Call) -> Ref:
    """``x.mean((2, 3))``: global average pooling (and a flatten, unless keepdim)."""
    _sym, real = call.bind(["input", "dim", "keepdim"], {"dim": None, "keepdim": False})
    x = _tensor_input(em, call)
    dims = real["dim"]
    dims = [dims] if isinstance(dims, int) else list(dims or [])
    if _rank(em, x) != 3 or sorted(d % 4 for d in dims) != [2, 3] or real.get("dtype") is not None:
        raise NotExpressible(call.op, f"over dims {dims} (archcalc averages a map over its spatial axes)")
    gap = em.emit(call, "gap", {}, [x])
    if real["keepdim"]:
        return gap
    return em.emit(call, "flatten", {}, [gap], out=(em.shape(x)[0],), base="flatten")


# ---- normalisation ----------------------------------------------------------------------------------------

def bn_module(em: Emitter, call: Call) -> Ref:
    m = call.module
    assert isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d)
    x = _tensor_input(em, call)
    want = 3 if isinstance(m, nn.BatchNorm2d) else 1
    if _rank(em, x) != want:
        raise NotExpressible(call.op, f"on a tensor of shape {list(em.shape(x))}")
    if not m.track_running_stats or m.momentum is None:
        raise NotExpressible(call.op, "without running statistics or with a cumulative average (momentum=None)")
    attrs: dict[str, Any] = {}
    _set(attrs, "eps", float(m.eps), 1e-5)
    _set(attrs, "momentum", float(m.momentum), 0.1)
    _set(attrs, "affine", m.affine, True)
    return em.emit(call, "bn", attrs, [x], params=_count(m))


def _bn_functional(em: Emitter, call: Call, sym: dict[str, Any], real: dict[str, Any]) -> Ref:
    if sym["running_mean"] is None or real.get("training"):
        raise NotExpressible(call.op, "without running statistics, or in training mode")
    attrs: dict[str, Any] = {}
    _set(attrs, "eps", float(real["eps"]), 1e-5)
    _set(attrs, "momentum", float(real["momentum"]), 0.1)
    _set(attrs, "affine", sym["weight"] is not None, True)
    name, params = em.owner(call, {k: sym[k] for k in ("weight", "bias", "running_mean", "running_var")})
    return em.emit(call, "bn", attrs, [_tensor_input(em, call)], name=name, params=params)


def bn_function(em: Emitter, call: Call) -> Ref:
    sym, real = call.bind(["input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps"],
                          {"weight": None, "bias": None, "training": False, "momentum": 0.1, "eps": 1e-5})
    return _bn_functional(em, call, sym, real)


def bn_aten(em: Emitter, call: Call) -> Ref:
    sym, real = call.bind(["input", "weight", "bias", "running_mean", "running_var", "training", "momentum", "eps"])
    return _bn_functional(em, call, sym, real)


def bn_aten_no_training(em: Emitter, call: Call) -> Ref:
    sym, real = call.bind(["input", "weight", "bias", "running_mean", "running_var", "momentum", "eps"])
    return _bn_functional(em, call, sym, real)


def _layer_norm(em: Emitter, call: Call, shape: Sequence[int], eps: float, affine: bool, bias: bool,
                name: str | None, params: int) -> Ref:
    x = _tensor_input(em, call)
    logical = em.shape(x)
    per_position = _channels_last(x)
    if affine and not bias:
        raise NotExpressible(call.op, "an affine layer norm without a bias")
    if list(shape) != [logical[0]] or (len(logical) != 1 and not per_position):
        raise NotExpressible(call.op, f"normalising over {list(shape)} of a tensor shaped {list(call.out.shape[1:])}"
                             " (archcalc's layer_norm works over the channels at each position, or a vector)")
    attrs: dict[str, Any] = {}
    _set(attrs, "eps", float(eps), 1e-5)
    _set(attrs, "affine", affine, True)
    return em.emit(call, "layer_norm", attrs, [x], out=logical, name=name, params=params, channels_last=per_position)


def layer_norm_module(em: Emitter, call: Call) -> Ref:
    m = call.module
    assert isinstance(m, nn.LayerNorm)
    return _layer_norm(em, call, m.normalized_shape, m.eps, m.elementwise_affine, getattr(m, "bias", None) is not None,
                       None, _count(m))


def layer_norm_function(em: Emitter, call: Call) -> Ref:
    sym, real = call.bind(["input", "normalized_shape", "weight", "bias", "eps"],
                          {"weight": None, "bias": None, "eps": 1e-5})
    name, params = em.owner(call, {"weight": sym["weight"], "bias": sym["bias"]})
    return _layer_norm(em, call, real["normalized_shape"], real["eps"], sym["weight"] is not None,
                       sym["bias"] is not None, name, params)


def _group_norm(em: Emitter, call: Call, groups: int, eps: float, affine: bool, name: str | None,
                params: int) -> Ref:
    x = _tensor_input(em, call)
    if _rank(em, x) != 3 or _channels_last(x):
        raise NotExpressible(call.op, "on a tensor that is not a C×H×W map")
    attrs: dict[str, Any] = {"groups": int(groups)}
    _set(attrs, "eps", float(eps), 1e-5)
    _set(attrs, "affine", affine, True)
    return em.emit(call, "group_norm", attrs, [x], name=name, params=params)


def group_norm_module(em: Emitter, call: Call) -> Ref:
    m = call.module
    assert isinstance(m, nn.GroupNorm)
    return _group_norm(em, call, m.num_groups, m.eps, m.affine, None, _count(m))


def group_norm_function(em: Emitter, call: Call) -> Ref:
    sym, real = call.bind(["input", "num_groups", "weight", "bias", "eps"], {"weight": None, "bias": None, "eps": 1e-5})
    name, params = em.owner(call, {"weight": sym["weight"], "bias": sym["bias"]})
    return _group_norm(em, call, real["num_groups"], real["eps"], sym["weight"] is not None, name, params)


def lrn_module(em: Emitter, call: Call) -> Ref:
    m = call.module
    assert isinstance(m, nn.LocalResponseNorm)
    attrs: dict[str, Any] = {}
    _set(attrs, "size", int(m.size), 5)
    _set(attrs, "alpha", float(m.alpha), 1e-4)
    _set(attrs, "beta", float(m.beta), 0.75)
    _set(attrs, "k", float(m.k), 1.0)
    return em.emit(call, "lrn", attrs, [_tensor_input(em, call)])


# ---- element-wise -----------------------------------------------------------------------------------------

def pointwise(em: Emitter, call: Call, key: str, attrs: dict[str, Any], params: int = 0) -> Ref:
    """An element-wise layer: on a channels-last view or a pending rearrangement it works on the layer output
    underneath, and its own output is seen through the same rearrangement."""
    x = _tensor_input(em, call)
    if x.view is not None and x.view.kind in (Kind.CHANNELS_LAST, Kind.PENDING):
        inner = em.emit(call, key, attrs, [Ref(x.layer)], out=em.shape(Ref(x.layer)), params=params)
        return Ref(inner.layer, x.view)
    return em.emit(call, key, attrs, [x], params=params)


def _inplace_attrs(key: str, inplace: bool) -> dict[str, Any]:
    default = key in ("relu", "relu6", "leaky_relu")  # archcalc's defaults: torchvision runs these in place
    return {} if inplace == default else {"inplace": inplace}


def activation_module(key: str, **fixed: Any) -> Handler:
    def handle(em: Emitter, call: Call) -> Ref:
        m = call.module
        assert m is not None
        attrs: dict[str, Any] = {}
        if hasattr(m, "inplace") and key not in ("sigmoid", "tanh", "gelu", "softplus"):
            attrs.update(_inplace_attrs(key, bool(m.inplace)))
        if isinstance(m, nn.LeakyReLU):
            _set(attrs, "slope", float(m.negative_slope), 0.01)
        if isinstance(m, nn.ELU):
            _set(attrs, "alpha", float(m.alpha), 1.0)
        if isinstance(m, nn.GELU):
            _set(attrs, "approximate", m.approximate, "none")
        if isinstance(m, nn.Softplus) and (m.beta != 1 or m.threshold != 20):
            raise NotExpressible(call.op, "with beta or threshold other than 1 and 20")
        if isinstance(m, nn.Hardtanh) and not isinstance(m, nn.ReLU6) and (m.min_val, m.max_val) != (0.0, 6.0):
            raise NotExpressible(call.op, f"with bounds ({m.min_val}, {m.max_val}) other than ReLU6's (0, 6)")
        if isinstance(m, nn.PReLU):
            channels = em.shape(_tensor_input(em, call))[0]
            if m.num_parameters not in (1, channels):
                raise NotExpressible(call.op, f"with {m.num_parameters} slopes for {channels} channels")
            _set(attrs, "per_channel", m.num_parameters > 1, True)
        if isinstance(m, nn.Softmax | nn.LogSoftmax):
            _channel_dim(em, call, m.dim)
        attrs.update(fixed)
        return pointwise(em, call, key, attrs, params=_count(m))
    return handle


def _channel_dim(em: Emitter, call: Call, dim: Any) -> None:
    x = _tensor_input(em, call)
    rank = _rank(em, x) + 1
    if dim is None or _channels_last(x) or int(dim) % rank != 1:
        raise NotExpressible(call.op, f"over dim {dim} (archcalc's softmax is over the channels, dim 1)")


def activation_function(key: str, names: Sequence[str] = ("input",), defaults: dict[str, Any] | None = None,
                        inplace: bool | None = None) -> Handler:
    """A functional activation; ``inplace`` fixes it for ``relu_``-style ops (otherwise the call's argument)."""
    def handle(em: Emitter, call: Call) -> Ref:
        _, real = call.bind([*names], {"inplace": False, **(defaults or {})})
        attrs: dict[str, Any] = {}
        if key in ("relu", "relu6", "leaky_relu", "elu", "silu", "hardswish", "hardsigmoid"):
            attrs.update(_inplace_attrs(key, real["inplace"] if inplace is None else inplace))
        if key == "leaky_relu":
            _set(attrs, "slope", float(real.get("negative_slope", 0.01)), 0.01)
        if key == "elu":
            _set(attrs, "alpha", float(real.get("alpha", 1.0)), 1.0)
            if real.get("scale", 1) != 1 or real.get("input_scale", 1) != 1:
                raise NotExpressible(call.op, "with a scale")
        if key == "gelu":
            _set(attrs, "approximate", real.get("approximate", "none"), "none")
        if key == "relu6" and "min_val" in real and (real["min_val"], real["max_val"]) != (0.0, 6.0):
            raise NotExpressible(call.op, f"with bounds ({real['min_val']}, {real['max_val']}), not ReLU6's (0, 6)")
        if key in ("softmax", "log_softmax"):
            _channel_dim(em, call, real.get("dim"))
            if real.get("dtype") is not None:
                raise NotExpressible(call.op, "with a dtype")
        if key == "softplus" and (real.get("beta", 1) != 1 or real.get("threshold", 20) != 20):
            raise NotExpressible(call.op, "with beta or threshold other than 1 and 20")
        return pointwise(em, call, key, attrs)
    return handle


def dropout_module(em: Emitter, call: Call) -> Ref:
    m = call.module
    assert isinstance(m, nn.Dropout)
    attrs: dict[str, Any] = {"p": _number(m.p)}
    _set(attrs, "inplace", m.inplace, False)
    return pointwise(em, call, "dropout", attrs)


def dropout_function(em: Emitter, call: Call) -> Ref:
    _, real = call.bind(["input", "p", "training", "inplace"], {"p": 0.5, "training": True, "inplace": False})
    attrs: dict[str, Any] = {"p": _number(real["p"])}
    _set(attrs, "inplace", bool(real["inplace"]), False)
    return pointwise(em, call, "dropout", attrs)


def dropout_aten(em: Emitter, call: Call) -> Ref:
    _, real = call.bind(["input", "p", "train"])
    return pointwise(em, call, "dropout", {"p": _number(real["p"])})


def stochastic_depth_module(em: Emitter, call: Call) -> Ref:
    m = call.module
    assert m is not None
    attrs: dict[str, Any] = {"p": _number(float(getattr(m, "p")))}  # noqa: B009 (torchvision's, untyped here)
    _set(attrs, "mode", str(getattr(m, "mode")), "row")  # noqa: B009
    return pointwise(em, call, "stochastic_depth", attrs)


def stochastic_depth_function(em: Emitter, call: Call) -> Ref:
    _, real = call.bind(["input", "p", "mode", "training"], {"training": True})
    attrs: dict[str, Any] = {"p": _number(float(real["p"]))}
    _set(attrs, "mode", str(real["mode"]), "row")
    return pointwise(em, call, "stochastic_depth", attrs)


# ---- joins ------------------------------------------------------------------------------------------------

def _binary(call: Call) -> tuple[Any, Any]:
    sym, real = call.bind(["input", "other", "alpha"], {"alpha": 1})
    if real["alpha"] != 1:
        raise NotExpressible(call.op, f"alpha={real['alpha']}")
    return sym["input"], sym["other"]


def add_call(em: Emitter, call: Call) -> Ref:
    a, b = _binary(call)
    if not (isinstance(a, Ref) and isinstance(b, Ref)):
        what = "a parameter" if isinstance(a, Param) or isinstance(b, Param) else "a constant"
        raise NotExpressible(call.op, f"with {what} (archcalc's add sums paths of the network)")
    if _channels_last(a) != _channels_last(b):
        raise NotExpressible(call.op, "of a channels-last view with a tensor that is not one")
    if em.shape(a) != em.shape(b):
        raise NotExpressible(call.op, "of tensors of different shapes (archcalc's add needs equal shapes)")
    return em.emit(call, "add", {}, [a, b], channels_last=_channels_last(a))


def _unexpand(value: Any) -> Any:
    """``y.expand_as(x)`` in a product: archcalc's mul broadcasts a C×1×1 factor itself."""
    if isinstance(value, Ref) and value.view is not None and value.view.kind is Kind.EXPAND:
        return Ref(value.layer, value.view.inner)
    return value


def mul_call(em: Emitter, call: Call) -> Ref:
    a, b = (_unexpand(v) for v in _binary(call))
    if isinstance(a, Ref) and isinstance(b, Ref):
        if _channels_last(a) != _channels_last(b):
            raise NotExpressible(call.op, "of a channels-last view with a tensor that is not one")
        return em.emit(call, "mul", {}, [a, b], channels_last=_channels_last(a))
    ref, param = (a, b) if isinstance(a, Ref) else (b, a)
    if isinstance(ref, Ref) and isinstance(param, Param) and not _channels_last(ref):
        shape = em.shape(ref)
        want = (shape[0], 1, 1) if len(shape) == 3 else (shape[0],)
        if tuple(param.tensor.shape) == want and not param.derived:
            name, params = em.owner(call, {"scale": param})
            return em.emit(call, "layer_scale", {}, [ref], name=name, params=params)
        raise NotExpressible(call.op, f"by a parameter shaped {list(param.tensor.shape)} (archcalc's layer_scale"
                             f" is one parameter shaped {list(want)})")
    raise NotExpressible(call.op, "by a constant")


def cat_call(em: Emitter, call: Call) -> Ref:
    sym, real = call.bind(["tensors", "dim"], {"dim": 0})
    parts = list(sym["tensors"])
    if not parts or not all(isinstance(p, Ref) and not _channels_last(p) for p in parts):
        raise NotExpressible(call.op, "of tensors not all computed from the image (a parameter or a constant)")
    rank = len(em.shape(parts[0])) + 1
    if int(real["dim"]) % rank != 1:
        raise NotExpressible(call.op, f"along dim {real['dim']} (archcalc concatenates channels, dim 1)")
    if len(parts) == 1:
        return em.emit(call, "identity", {}, parts)
    return em.emit(call, "concat", {}, parts)


# ---- resampling -------------------------------------------------------------------------------------------

def _upsample(em: Emitter, call: Call, size: Any, scale: Any, mode: str, align: Any, recompute: Any = None) -> Ref:
    x = _tensor_input(em, call)
    if mode not in ("nearest", "bilinear"):
        raise NotExpressible(call.op, f"with mode={mode!r} (archcalc upsamples nearest or bilinear)")
    attrs: dict[str, Any] = {}
    if size is not None or recompute:
        attrs["size"] = pair(tuple(call.out.shape[2:]))
    else:
        scales = [float(scale)] * 2 if isinstance(scale, int | float) else [float(s) for s in scale]
        if len(set(scales)) != 1:
            raise NotExpressible(call.op, f"with different scales per axis {scales}")
        attrs["scale"] = _number(scales[0])
    _set(attrs, "mode", mode, "nearest")
    if mode == "bilinear":
        _set(attrs, "align_corners", bool(align), False)
    return em.emit(call, "upsample", attrs, [x])


def upsample_module(em: Emitter, call: Call) -> Ref:
    m = call.module
    assert isinstance(m, nn.Upsample)
    return _upsample(em, call, m.size, m.scale_factor, m.mode, m.align_corners, m.recompute_scale_factor)


def interpolate_function(em: Emitter, call: Call) -> Ref:
    _, r = call.bind(["input", "size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias"],
                     {"size": None, "scale_factor": None, "mode": "nearest", "align_corners": None,
                      "recompute_scale_factor": None, "antialias": False})
    if r["antialias"]:
        raise NotExpressible(call.op, "with antialias=True")
    return _upsample(em, call, r["size"], r["scale_factor"], r["mode"], r["align_corners"], r["recompute_scale_factor"])


def upsample_aten(mode: str) -> Handler:
    def handle(em: Emitter, call: Call) -> Ref:
        names = ["input", "output_size", "align_corners", "scale_factors"] if mode == "bilinear" else [
            "input", "output_size", "scale_factors"]
        _, r = call.bind(names, {"align_corners": False, "scale_factors": None, "output_size": None})
        return _upsample(em, call, r["output_size"], r["scale_factors"], mode, r.get("align_corners"))
    return handle


def pixel_shuffle_call(em: Emitter, call: Call) -> Ref:
    if call.module is not None:
        assert isinstance(call.module, nn.PixelShuffle)
        r = call.module.upscale_factor
    else:
        r = call.bind(["input", "upscale_factor"])[1]["upscale_factor"]
    return em.emit(call, "pixel_shuffle", {"r": int(r)}, [_tensor_input(em, call)])


def channel_shuffle_call(em: Emitter, call: Call) -> Ref:
    if call.module is not None:
        assert isinstance(call.module, nn.ChannelShuffle)
        groups = call.module.groups
    else:
        groups = call.bind(["input", "groups"])[1]["groups"]
    return em.emit(call, "channel_shuffle", {"groups": int(groups)}, [_tensor_input(em, call)])


# ---- dense ------------------------------------------------------------------------------------------------

def _fc(em: Emitter, call: Call, out: int, bias: bool, name: str | None, params: int) -> Ref:
    x = _tensor_input(em, call)
    logical = em.shape(x)
    if _channels_last(x):
        return em.emit(call, "fc", {"out": out, "per_position": True} if bias else {"out": out, "bias": False,
                                                                                     "per_position": True},
                       [x], out=(out, *logical[1:]), name=name, params=params, channels_last=True)
    if len(logical) != 1:
        raise NotExpressible(call.op, f"on a tensor shaped {list(call.real_args[0].shape[1:])}: it works on the last"
                             " axis (archcalc's fc reads a vector, or the channels at each position)")
    attrs: dict[str, Any] = {"out": out}
    _set(attrs, "bias", bias, True)
    return em.emit(call, "fc", attrs, [x], name=name, params=params)


def linear_module(em: Emitter, call: Call) -> Ref:
    m = call.module
    assert isinstance(m, nn.Linear)
    return _fc(em, call, m.out_features, m.bias is not None, None, _count(m))


def linear_function(em: Emitter, call: Call) -> Ref:
    sym, real = call.bind(["input", "weight", "bias"], {"bias": None})
    name, params = em.owner(call, {"weight": sym["weight"], "bias": sym["bias"]})
    return _fc(em, call, int(real["weight"].shape[0]), sym["bias"] is not None, name, params)


# ---- rearrangements and bookkeeping --------------------------------------------------------------------------

def rearrangement(em: Emitter, call: Call) -> Any:
    """Pure data movement: the same op applied to the index map (``values.py``)."""
    ref = call.args[0]
    if not isinstance(ref, Ref):
        raise NotExpressible(call.op, "on a tensor that is not computed from the image")
    rest = call.real_args[1:]
    if call.method is not None:
        method = call.method
        return em.rearrange(call, ref, lambda t: getattr(t, method)(*rest, **call.real_kwargs))
    target = call.target
    return em.rearrange(call, ref, lambda t: target(t, *rest, **call.real_kwargs))


def flatten_module(em: Emitter, call: Call) -> Any:
    m = call.module
    assert isinstance(m, nn.Flatten)
    return em.rearrange(call, _tensor_input(em, call), lambda t: torch.flatten(t, m.start_dim, m.end_dim))


def same_dtype(em: Emitter, call: Call) -> Any:
    """``x.float()``, ``x.to(x.dtype)``, ``x.type_as(x)``: nothing when the dtype does not change."""
    x = _tensor_input(em, call)
    if isinstance(call.out, Tensor) and call.out.dtype == call.real_args[0].dtype and \
            call.out.device == call.real_args[0].device:
        return x
    raise NotExpressible(call.op, "changing the dtype")


def ignore(em: Emitter, call: Call) -> None:
    """Checks the model makes of itself (``torch._assert``): nothing to write."""
    return None


# ---- the tables -------------------------------------------------------------------------------------------

MODULES: dict[type[nn.Module], Handler] = {
    nn.Conv2d: conv_module,
    nn.ConvTranspose2d: conv_transpose_module,
    nn.MaxPool2d: maxpool_module,
    nn.AvgPool2d: avgpool_module,
    nn.AdaptiveAvgPool2d: _adaptive,
    nn.BatchNorm1d: bn_module,
    nn.BatchNorm2d: bn_module,
    nn.LayerNorm: layer_norm_module,
    nn.GroupNorm: group_norm_module,
    nn.LocalResponseNorm: lrn_module,
    nn.ReLU: activation_module("relu"),
    nn.ReLU6: activation_module("relu6"),
    nn.Hardtanh: activation_module("relu6"),
    nn.LeakyReLU: activation_module("leaky_relu"),
    nn.ELU: activation_module("elu"),
    nn.PReLU: activation_module("prelu"),
    nn.Sigmoid: activation_module("sigmoid"),
    nn.Tanh: activation_module("tanh"),
    nn.GELU: activation_module("gelu"),
    nn.SiLU: activation_module("silu"),
    nn.Hardswish: activation_module("hardswish"),
    nn.Hardsigmoid: activation_module("hardsigmoid"),
    nn.Softplus: activation_module("softplus"),
    nn.Softmax: activation_module("softmax"),
    nn.LogSoftmax: activation_module("log_softmax"),
    nn.Dropout: dropout_module,
    nn.Flatten: flatten_module,
    nn.Linear: linear_module,
    nn.Upsample: upsample_module,
    nn.UpsamplingNearest2d: upsample_module,
    nn.UpsamplingBilinear2d: upsample_module,
    nn.PixelShuffle: pixel_shuffle_call,
    nn.ChannelShuffle: channel_shuffle_call,
}

#: modules outside torch.nn, by qualified class name (so that the library need not be imported)
NAMED_MODULES: dict[str, Handler] = {
    "torchvision.ops.stochastic_depth.StochasticDepth": stochastic_depth_module,
}

#: torch.nn modules traced through rather than kept whole: containers, and the identity
TRACED_THROUGH: tuple[type[nn.Module], ...] = (nn.Sequential, nn.ModuleList, nn.ModuleDict, nn.Identity)

_REARRANGE_FUNCTIONS: tuple[Any, ...] = (
    torch.flatten, torch.reshape, torch.permute, torch.transpose, torch.swapaxes, torch.squeeze, torch.unsqueeze,
    torch.narrow, torch.chunk, torch.split, torch.tensor_split, torch.unflatten, torch.movedim,
    torch.Tensor.contiguous, operator.getitem,
    aten.view.default, aten._unsafe_view.default, aten.reshape.default, aten.permute.default,
    aten.transpose.int, aten.flatten.using_ints, aten.clone.default, aten.contiguous.default, aten.squeeze.dim,
    aten.squeeze.dims, aten.squeeze.default, aten.unsqueeze.default, aten.alias.default, aten.slice.Tensor,
    aten.split.Tensor, aten.split_with_sizes.default, aten.chunk.default, aten.t.default, aten.narrow.default,
    aten.detach.default, aten.unflatten.int, aten.select.int,
)

FUNCTIONS: dict[Any, Handler] = {
    **dict.fromkeys(_REARRANGE_FUNCTIONS, rearrangement),
    operator.add: add_call, operator.iadd: add_call, torch.add: add_call,
    aten.add.Tensor: add_call, aten.add_.Tensor: add_call,
    operator.mul: mul_call, operator.imul: mul_call, torch.mul: mul_call,
    aten.mul.Tensor: mul_call, aten.mul_.Tensor: mul_call,
    torch.cat: cat_call, torch.concat: cat_call, torch.concatenate: cat_call, aten.cat.default: cat_call,
    torch.mean: mean_call, aten.mean.dim: mean_call,
    F.conv2d: conv_function, aten.conv2d.default: conv_function,
    F.conv_transpose2d: conv_transpose_function, aten.conv_transpose2d.input: conv_transpose_function,
    F.max_pool2d: maxpool_function, aten.max_pool2d.default: maxpool_function,
    F.avg_pool2d: avgpool_function, aten.avg_pool2d.default: avgpool_function,
    F.adaptive_avg_pool2d: _adaptive, aten.adaptive_avg_pool2d.default: _adaptive,
    F.batch_norm: bn_function, aten.batch_norm.default: bn_aten,
    aten._native_batch_norm_legit_no_training.default: bn_aten_no_training,
    F.layer_norm: layer_norm_function, aten.layer_norm.default: layer_norm_function,
    F.group_norm: group_norm_function, aten.group_norm.default: group_norm_function,
    F.linear: linear_function, aten.linear.default: linear_function,
    F.interpolate: interpolate_function, F.upsample: interpolate_function,
    aten.upsample_nearest2d.vec: upsample_aten("nearest"), aten.upsample_bilinear2d.vec: upsample_aten("bilinear"),
    F.pixel_shuffle: pixel_shuffle_call, aten.pixel_shuffle.default: pixel_shuffle_call,
    F.channel_shuffle: channel_shuffle_call, torch.channel_shuffle: channel_shuffle_call,
    aten.channel_shuffle.default: channel_shuffle_call, aten.native_channel_shuffle.default: channel_shuffle_call,
    F.dropout: dropout_function, aten.dropout.default: dropout_aten,
    F.relu: activation_function("relu", ("input", "inplace")), torch.relu: activation_function("relu"),
    torch.relu_: activation_function("relu", inplace=True), F.relu_: activation_function("relu", inplace=True),
    aten.relu.default: activation_function("relu"), aten.relu_.default: activation_function("relu", inplace=True),
    F.relu6: activation_function("relu6", ("input", "inplace")),
    F.hardtanh: activation_function("relu6", ("input", "min_val", "max_val", "inplace"),
                                    {"min_val": -1.0, "max_val": 1.0}),
    aten.hardtanh.default: activation_function("relu6", ("input", "min_val", "max_val"),
                                               {"min_val": -1.0, "max_val": 1.0}),
    aten.hardtanh_.default: activation_function("relu6", ("input", "min_val", "max_val"),
                                                {"min_val": -1.0, "max_val": 1.0}, inplace=True),
    F.leaky_relu: activation_function("leaky_relu", ("input", "negative_slope", "inplace"), {"negative_slope": 0.01}),
    aten.leaky_relu.default: activation_function("leaky_relu", ("input", "negative_slope"), {"negative_slope": 0.01}),
    aten.leaky_relu_.default: activation_function("leaky_relu", ("input", "negative_slope"), {"negative_slope": 0.01},
                                                  inplace=True),
    F.elu: activation_function("elu", ("input", "alpha", "inplace"), {"alpha": 1.0}),
    aten.elu.default: activation_function("elu", ("input", "alpha", "scale", "input_scale"), {"alpha": 1.0}),
    F.gelu: activation_function("gelu", ("input", "approximate"), {"approximate": "none"}),
    aten.gelu.default: activation_function("gelu", ("input", "approximate"), {"approximate": "none"}),
    F.silu: activation_function("silu", ("input", "inplace")), aten.silu.default: activation_function("silu"),
    aten.silu_.default: activation_function("silu", inplace=True),
    F.hardswish: activation_function("hardswish", ("input", "inplace")),
    aten.hardswish.default: activation_function("hardswish"),
    aten.hardswish_.default: activation_function("hardswish", inplace=True),
    F.hardsigmoid: activation_function("hardsigmoid", ("input", "inplace")),
    aten.hardsigmoid.default: activation_function("hardsigmoid"),
    aten.hardsigmoid_.default: activation_function("hardsigmoid", inplace=True),
    torch.sigmoid: activation_function("sigmoid"), F.sigmoid: activation_function("sigmoid"),
    aten.sigmoid.default: activation_function("sigmoid"), aten.sigmoid_.default: activation_function("sigmoid"),
    torch.tanh: activation_function("tanh"), F.tanh: activation_function("tanh"),
    aten.tanh.default: activation_function("tanh"),
    F.softplus: activation_function("softplus", ("input", "beta", "threshold")),
    F.softmax: activation_function("softmax", ("input", "dim", "_stacklevel", "dtype")),
    torch.softmax: activation_function("softmax", ("input", "dim", "dtype")),
    aten._softmax.default: activation_function("softmax", ("input", "dim", "half_to_float")),
    aten.softmax.int: activation_function("softmax", ("input", "dim", "dtype")),
    F.log_softmax: activation_function("log_softmax", ("input", "dim", "_stacklevel", "dtype")),
    torch.log_softmax: activation_function("log_softmax", ("input", "dim", "dtype")),
    aten._log_softmax.default: activation_function("log_softmax", ("input", "dim", "half_to_float")),
    aten.log_softmax.int: activation_function("log_softmax", ("input", "dim", "dtype")),
    torch._assert: ignore, torch._check: ignore,
}

#: functions outside torch, by qualified name
NAMED_FUNCTIONS: dict[str, Handler] = {
    "torchvision.ops.stochastic_depth.stochastic_depth": stochastic_depth_function,
}

METHODS: dict[str, Handler] = {
    **dict.fromkeys(("view", "reshape", "flatten", "permute", "transpose", "swapaxes", "contiguous", "squeeze",
                     "unsqueeze", "narrow", "chunk", "split", "tensor_split", "unflatten", "movedim", "view_as",
                     "reshape_as", "clone", "detach", "__getitem__", "expand", "expand_as"), rearrangement),
    "add": add_call, "add_": add_call, "__add__": add_call, "__iadd__": add_call,
    "mul": mul_call, "mul_": mul_call, "__mul__": mul_call, "__imul__": mul_call,
    "mean": mean_call,
    "relu": activation_function("relu"), "relu_": activation_function("relu", inplace=True),
    "sigmoid": activation_function("sigmoid"), "sigmoid_": activation_function("sigmoid"),
    "tanh": activation_function("tanh"), "tanh_": activation_function("tanh"),
    "softmax": activation_function("softmax", ("input", "dim", "dtype")),
    "log_softmax": activation_function("log_softmax", ("input", "dim", "dtype")),
    "float": same_dtype, "to": same_dtype, "type_as": same_dtype, "type": same_dtype,
}

#: methods that only read a tensor's metadata: their (concrete) result is kept as a constant
INTROSPECTION = frozenset({"size", "dim", "numel", "__len__", "element_size", "stride"})


def is_leaf(module: nn.Module) -> bool:
    """Whether tracing keeps ``module`` whole: a type the tables map, or any other torch.nn layer (reported by its
    class when archcalc has no rule for it, rather than as the ops inside it)."""
    cls = type(module)
    if cls in MODULES or qualified(cls) in NAMED_MODULES:
        return True
    return cls.__module__.startswith("torch.nn.") and cls not in TRACED_THROUGH


def module_handler(module: nn.Module) -> Handler | None:
    cls = type(module)
    return MODULES.get(cls) or NAMED_MODULES.get(qualified(cls))


def function_handler(target: Any) -> Handler | None:
    try:
        found = FUNCTIONS.get(target)
    except TypeError:  # an unhashable target
        found = None
    if found is None and callable(target):
        found = NAMED_FUNCTIONS.get(f"{getattr(target, '__module__', '')}.{getattr(target, '__name__', '')}")
    return found


def qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def describe_module(module: nn.Module) -> str:
    """``nn.Conv2d`` for torch.nn's layers, the qualified class name otherwise."""
    cls = type(module)
    if cls.__module__.startswith("torch.nn."):
        return f"nn.{cls.__name__}"
    return qualified(cls)


def describe_function(target: Any) -> str:
    """``torch.matmul``, ``F.relu``, ``operator.matmul``, ``aten.bmm.default``."""
    if isinstance(target, torch._ops.OpOverload | torch._ops.OpOverloadPacket):
        return str(target)
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", None) or repr(target)
    if module == "torch.nn.functional":
        return f"F.{name}"
    if module in ("_operator", "operator"):
        return f"operator.{name}"
    if module.startswith("torch") or not module:
        return f"torch.{name}" if module in ("torch", "") else f"{module}.{name}"
    return f"{module}.{name}"
