"""Run the traced graph once, with real (or meta) tensors and, beside them, what each value is to archcalc.

Every node is executed as ``torch.fx.Interpreter`` executes it, which gives the concrete shapes and the values
of size arithmetic (``x.size(0)``); its symbolic value — a layer output, a rearrangement of one, a parameter,
or a plain Python value — is computed beside it by the handler ``ops.py`` holds for the op, which appends
archcalc layers to the :class:`~archcalc.backends.torch.importer.net.Net`. An op archcalc cannot write stops
the import with one line naming the module path and the op, or, with ``allow_opaque``, becomes an opaque
layer with the traced shape. An op that works in place (``ReLU(inplace=True)``, ``x.add_(y)``) rebinds its
input: later readers of that tensor read the op's result, as they do in the model.
"""

from __future__ import annotations

import builtins
import operator
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor, fx, nn

from archcalc.backends.torch.importer import ops
from archcalc.backends.torch.importer.net import SPLIT_PART, Layer, Namer, Net, NotExpressible
from archcalc.backends.torch.importer.values import (
    BATCH,
    Kind,
    Param,
    Ref,
    View,
    base_index,
    classify,
)
from archcalc.backends.torch.importer.values import channels_last as channels_last_view
from archcalc.errors import BackendError
from archcalc.ir import INPUT

#: the ops along which a vector may go back to being a C×1×1 map (``y.view(b, c, 1, 1)`` in squeeze-excitation)
_PER_POSITION = frozenset({"fc", "relu", "relu6", "leaky_relu", "elu", "prelu", "sigmoid", "tanh", "gelu", "silu",
                           "hardswish", "hardsigmoid", "softplus", "dropout", "bn", "layer_norm"})


class ImportFailed(BackendError):
    """A model archcalc cannot write as a spec: one line naming the module path and the op."""


@dataclass(frozen=True)
class LeafCall:
    """The nodes ``torch.export`` leaves for one call of a leaf module, as one module call."""

    path: str
    module: nn.Module
    last: fx.Node
    nodes: frozenset[fx.Node]


class Interpreter(fx.Interpreter):
    """Executes the traced graph and builds the archcalc layers of the network beside it."""

    def __init__(self, gm: fx.GraphModule, model: nn.Module, input_shape: tuple[int, ...], *, allow_opaque: bool,
                 exported: bool):
        super().__init__(gm)
        self.model = model
        self.net = Net(input_shape)
        reserved = {n for n, _ in model.named_modules() if n}
        reserved |= {n for n, _ in model.named_parameters()} | {n for n, _ in model.named_buffers()}
        self.namer = Namer(reserved)
        self.allow_opaque = allow_opaque
        self.syms: dict[fx.Node, Any] = {}
        self.calls: Counter[str] = Counter()
        self.made: dict[int, str] = {}  # id(View) → the layer it was materialised as
        self.exported = exported
        self.leaf_calls = _leaf_calls(gm, model) if exported else {}
        self.result: Any = None
        self.opaque: list[str] = []

    # ---- running ------------------------------------------------------------------------------------------
    def build(self, example: Tensor) -> Net:
        """Run the graph on ``example`` and return the network (its output set, unread layers dropped)."""
        with torch.no_grad():
            self.run(example)
        refs = [v for v in _leaves(self.result) if isinstance(v, Ref)]
        if len(refs) != 1:
            raise ImportFailed(f"the model returns {len(refs)} tensors computed from the image; a spec has one output"
                               " (trace it in eval mode, where auxiliary heads return nothing)")
        self.net.output = self._plain(refs[0], "the output")
        dropped = self.net.prune()
        if dropped:
            self.net.notes.append(f"computed but never read, left out: {', '.join(dropped)}")
        return self.net

    def run_node(self, n: fx.Node) -> Any:
        real = super().run_node(n)
        try:
            sym = self._symbolic(n, real)
        except NotExpressible as exc:
            sym = self._not_expressible(n, real, exc)
        if isinstance(real, tuple | list) and isinstance(sym, Ref):
            sym = tuple(sym if i == 0 else None for i in range(len(real)))  # batch norm's (output, mean, invstd)
        self.syms[n] = sym
        return real

    def _symbolic(self, n: fx.Node, real: Any) -> Any:
        if n.op == "placeholder":
            if not any(isinstance(v, Ref) for v in self.syms.values()):
                return Ref(INPUT)
            return real
        if n.op == "get_attr":
            return Param(str(n.target), real) if isinstance(real, Tensor) else real
        if n.op == "output":
            self.result = fx.node.map_arg(n.args[0], self.syms.get)
            return None
        if n.op == "call_module" and self.exported:
            return None  # torch.export's guard function
        if n in self.leaf_calls:
            return self._leaf_call(n, real)
        args = fx.node.map_arg(n.args, self.syms.get)
        kwargs = fx.node.map_arg(n.kwargs, self.syms.get)
        real_args, real_kwargs = self.fetch_args_kwargs_from_env(n)
        refs = [v for v in _leaves((args, kwargs)) if isinstance(v, Ref)]
        if not refs:  # size arithmetic, constants, or tensors computed from parameters alone
            found = [v for v in _leaves((args, kwargs)) if isinstance(v, Param)]
            if (found or n.op == "call_module") and isinstance(real, Tensor):
                return Param(found[0].path if found else str(n.target), real, derived=True)
            return real
        if n.op == "call_module":
            module = self.fetch_attr(str(n.target))
            return self._module_call(n, module, args, kwargs, real_args, real_kwargs, real)
        target = n.target
        if target is operator.getitem and isinstance(args[0], tuple | list):
            return args[0][real_args[1]]
        if (n.op == "call_method" and target in ops.INTROSPECTION) or target is builtins.getattr or \
                target in (builtins.len, torch.Tensor.size, torch.Tensor.dim):
            return real
        if n.op == "call_method":
            method = str(target)
            handler = ops.METHODS.get(method)
            label = f"Tensor.{method}"
        else:
            method = None
            handler = ops.function_handler(target)
            label = ops.describe_function(target)
        call = ops.Call(label, _scope(n), n.name, tuple(args), dict(kwargs), tuple(real_args), dict(real_kwargs), real,
                        target=target, method=method)
        if handler is None:
            raise NotExpressible(label)
        sym = handler(self, call)
        self._rebind(n, real, real_args, sym)
        return sym

    def _module_call(self, n: fx.Node, module: nn.Module, args: Any, kwargs: Any, real_args: Any, real_kwargs: Any,
                     real: Any) -> Any:
        path = str(n.target)
        self.calls[path] += 1
        label = ops.describe_module(module)
        if self.calls[path] > 1 and any(True for _ in module.parameters()):
            raise ImportFailed(f"{path}: {label} is called {self.calls[path]} times: a spec cannot share one module's"
                               " weights between layers")
        call = ops.Call(label, path, n.name, tuple(args), dict(kwargs), tuple(real_args), dict(real_kwargs), real,
                        module=module)
        handler = ops.module_handler(module)
        if handler is None:
            raise NotExpressible(label)
        sym = handler(self, call)
        self._rebind(n, real, real_args, sym)
        return sym

    def _leaf_call(self, n: fx.Node, real: Any) -> Any:
        """torch.export: the last node of a leaf module's call stands for the call (the others for nothing)."""
        leaf = self.leaf_calls[n]
        if n is not leaf.last:
            return None
        inputs = [a for m in sorted(leaf.nodes, key=_position) for a in m.all_input_nodes
                  if a not in leaf.nodes and a.op != "get_attr"]
        if not inputs:
            raise NotExpressible(ops.describe_module(leaf.module), "with no input from the image")
        first = inputs[0]
        self.calls[leaf.path] += 1
        if self.calls[leaf.path] > 1 and any(True for _ in leaf.module.parameters()):
            raise ImportFailed(f"{leaf.path}: {ops.describe_module(leaf.module)} is called {self.calls[leaf.path]}"
                               " times: a spec cannot share one module's weights between layers")
        handler = ops.module_handler(leaf.module)
        label = ops.describe_module(leaf.module)
        first_real = self.env[first]
        call = ops.Call(label, leaf.path, n.name, (self.syms.get(first),), {}, (first_real,), {}, real,
                        module=leaf.module)
        if handler is None:
            raise NotExpressible(label)
        sym = handler(self, call)
        if isinstance(real, Tensor) and real is first_real and isinstance(sym, Ref):
            self.syms[first] = sym
        return sym

    def _rebind(self, n: fx.Node, real: Any, real_args: Sequence[Any], sym: Any) -> None:
        """An op that returned its input object worked in place: later readers of the input read its result."""
        if real_args and isinstance(real, Tensor) and real is real_args[0] and isinstance(sym, Ref):
            source = n.args[0]
            if isinstance(source, fx.Node):
                self.syms[source] = sym

    # ---- what the handlers call (ops.Emitter) ---------------------------------------------------------------
    def emit(self, call: ops.Call, key: str, attrs: dict[str, Any], inputs: Sequence[Ref], *,
             out: tuple[int, ...] | None = None, name: str | None = None, params: int = 0,
             channels_last: bool = False, base: str | None = None) -> Ref:
        if channels_last:
            names = [self._per_position(ref, call) for ref in inputs]
        else:
            names = [self._plain(ref, call.op) for ref in inputs]
        shape = out if out is not None else _batchless(call.out, call.op)
        if name is None:
            if call.module is not None and base is None:
                name = self.namer.claim(call.scope, own=True)
            else:
                name = self.namer.functional(call.scope, base or call.base)
        self.net.add(Layer(name, key, attrs, tuple(names), shape, call.op, params))
        return Ref(name, channels_last_view(shape) if channels_last else None)

    def plain(self, value: Any, call: ops.Call) -> str:
        return self._plain(value, call.op)

    def shape(self, ref: Ref) -> tuple[int, ...]:
        """The value's shape without the batch (a channels-last view: its map's, C×H×W)."""
        if ref.view is None or ref.view.kind is Kind.CHANNELS_LAST:
            return self.net.shape(ref.layer)
        return tuple(int(d) for d in ref.view.index.shape[1:])

    def rearrange(self, call: ops.Call, ref: Ref, apply: Callable[[Tensor], Any]) -> Any:
        if ref.view is not None and ref.view.kind in (Kind.FLATTEN, Kind.SHUFFLE, Kind.CHANNELS):
            ref = Ref(self._plain(ref, call.op))  # a recognised layer, then moved on from there
        shape = self.net.shape(ref.layer)
        index = ref.view.index if ref.view is not None else base_index(shape)
        try:
            moved = apply(index)
        except Exception as exc:  # an op that is not pure data movement after all
            raise NotExpressible(call.op, f"that is not pure data movement ({type(exc).__name__})") from None

        def wrap(value: Any) -> Any:
            if isinstance(value, Tensor):
                view = classify(value, shape, call.op)
                return Ref(ref.layer) if view is None else Ref(ref.layer, replace(
                    view, scope=call.scope, module=call.module is not None))
            if isinstance(value, tuple | list):
                return type(value)(wrap(v) for v in value)
            return value
        return wrap(moved)

    def owner(self, call: ops.Call, params: dict[str, Param | None]) -> tuple[str, int]:
        """The layer name that reproduces the parameters' state_dict keys (see ``ops``), and their count."""
        given = {role: p for role, p in params.items() if p is not None}
        if not given:
            raise NotExpressible(call.op, "without parameters")
        if any(not isinstance(p, Param) or p.derived for p in given.values()):
            raise NotExpressible(call.op, "with a weight computed in the forward pass")
        count = sum(p.tensor.numel() for p in given.values())
        if list(given) == ["scale"]:
            return self.namer.claim(given["scale"].path, own=True), count
        owners = {p.path.rpartition(".")[0] for p in given.values()}
        leaves = {p.path.rpartition(".")[2] for p in given.values()}
        owner = owners.pop() if len(owners) == 1 else None
        if owner and leaves == set(given):
            module = self.model.get_submodule(owner)
            held = {n for n, _ in module.named_parameters(recurse=False)} | {
                n for n, _ in module.named_buffers(recurse=False)}
            if not list(module.children()) and held - {"num_batches_tracked"} <= set(given):
                return self.namer.claim(owner, own=True), count
        first = next(iter(given.values()))
        name = self.namer.claim(first.path.replace(".", "_") if owner is None else first.path, own=True)
        self.net.notes.append(f"{name}: {call.op} reads parameters {', '.join(p.path for p in given.values())}; the"
                              f" spec holds them as {name}.{', '.join(given)}: weights load by structure, not by key")
        return name, count

    # ---- materialising rearrangements ------------------------------------------------------------------------
    def _plain(self, value: Any, op: str) -> str:
        if not isinstance(value, Ref):
            raise NotExpressible(op, "on a value that is not a tensor computed from the image")
        view = value.view
        if view is None:
            return value.layer
        made = self.made.get(id(view))
        if made is not None:
            return made
        shape = self.net.shape(value.layer)
        namer = self.namer
        if view.kind is Kind.FLATTEN:
            name = namer.claim(view.scope, own=True) if view.module else namer.functional(view.scope, "flatten")
            self.net.add(Layer(name, "flatten", {}, (value.layer,), (int(view.index[0].numel()),), view.op))
        elif view.kind is Kind.SHUFFLE:
            name = namer.functional(view.scope, "channel_shuffle")
            self.net.add(Layer(name, "channel_shuffle", {"groups": view.detail[0]}, (value.layer,), shape, view.op))
        elif view.kind is Kind.CHANNELS:
            start, stop = view.detail
            name = namer.functional(view.scope, "split")
            self.net.add(Layer(name, SPLIT_PART, {"start": start, "stop": stop, "of": shape[0]}, (value.layer,),
                               (stop - start, *shape[1:]), view.op))
        elif view.kind is Kind.UNFLATTEN:
            name = self._unflatten(value.layer, view)
        elif self.allow_opaque:
            name = self._rearrangement_opaque(value.layer, view, view.op)
        elif view.kind is Kind.CHANNELS_LAST:
            raise NotExpressible(view.op, f"to channels-last, read by {op}, which does not work per position")
        else:
            dims = "×".join(str(d) for d in view.index.shape[1:])
            raise NotExpressible(view.op, f"to {dims} (a rearrangement archcalc cannot express), read by {op}")
        self.made[id(view)] = name
        return name

    def _per_position(self, ref: Ref, call: ops.Call) -> str:
        if ref.view is None or ref.view.kind is not Kind.CHANNELS_LAST:
            raise NotExpressible(call.op, "of a channels-last view with a tensor that is not one")
        return ref.layer

    def _unflatten(self, vector: str, view: View) -> str:
        """``y.view(b, c, 1, 1)`` after ``flatten → fc → … `` on a C×1×1 map: the chain works per position on the
        map instead (same weights, same function), and the flatten goes."""
        layers, readers = self.net.layers, self.net.consumers()
        chain = []
        cur = vector
        while cur in layers and layers[cur].key in _PER_POSITION and len(readers.get(cur, [])) <= (0 if cur == vector
                                                                                                  else 1):
            chain.append(cur)
            cur = layers[cur].inputs[0]
        flat = layers.get(cur)
        if flat is None or flat.key != "flatten" or len(self.net.shape(flat.inputs[0])) != 3 or \
                self.net.shape(flat.inputs[0])[1:] != (1, 1) or len(readers.get(cur, [])) != 1:
            raise NotExpressible(view.op, "a vector reshaped into a map (archcalc reshapes only C×1×1 maps into"
                                 " vectors, with flatten)")
        for name in chain:
            layer = layers[name]
            layer.out = (*layer.out, 1, 1)
            if layer.key == "fc":
                layer.attrs["per_position"] = True
        self.net.rewire(cur, flat.inputs[0])
        del layers[cur]
        return vector

    # ---- ops outside the vocabulary ------------------------------------------------------------------------------
    def _not_expressible(self, n: fx.Node, real: Any, exc: NotExpressible) -> Any:
        scope = _scope(n) if n.op != "call_module" else str(n.target)
        leaf = self.leaf_calls.get(n)
        if leaf is not None:
            scope = leaf.path
        what = f"{exc.op} {exc.why}".strip()
        where = scope or "the model's forward"
        if not self.allow_opaque:
            raise ImportFailed(f"{where}: {what} is not in archcalc's vocabulary",
                               hint="--allow-opaque writes it as an opaque layer and analyses the rest")
        args: Any = fx.node.map_arg((n.args, n.kwargs), self.syms.get)
        if leaf is not None:
            args = [self.syms.get(a) for m in leaf.nodes for a in m.all_input_nodes if a not in leaf.nodes]
        inputs = list(dict.fromkeys(self._opaque_input(v, exc.op) for v in _leaves(args) if isinstance(v, Ref)))
        if not inputs:
            return real
        module = self.fetch_attr(str(n.target)) if n.op == "call_module" else (leaf.module if leaf else None)
        held = {v.path: v for v in _leaves(args) if isinstance(v, Param) and not v.derived}
        params = sum(p.numel() for p in module.parameters()) if module is not None else sum(
            p.tensor.numel() for p in held.values())
        outs = list(_leaves(real))
        refs: list[Ref] = []
        for k, t in enumerate(outs):
            if not isinstance(t, Tensor):
                continue
            shape = _batchless(t, exc.op)
            if module is not None and k == 0:
                name = self.namer.claim(scope, own=True)
            else:
                name = self.namer.functional(scope, n.name)
            attrs: dict[str, Any] = {"op": exc.op, "out": list(shape)}
            if params and not refs:
                attrs["params"] = params
            self.net.add(Layer(name, "opaque", attrs, tuple(inputs), shape, exc.op, params if not refs else 0))
            self.opaque.append(f"{name} ({exc.op})")
            refs.append(Ref(name))
        if isinstance(real, Tensor):
            return refs[0]
        return _rebuild(real, iter(refs))

    def _opaque_input(self, ref: Ref, op: str) -> str:
        """An opaque op's operand (a rearrangement archcalc cannot express is an opaque layer of its own)."""
        return self._plain(ref, op)

    def _rearrangement_opaque(self, layer: str, view: View, op: str) -> str:
        shape = tuple(int(d) for d in view.index.shape[1:])
        name = self.namer.functional(view.scope, "rearrange")
        self.net.add(Layer(name, "opaque", {"op": op, "out": list(shape)}, (layer,), shape, op))
        self.opaque.append(f"{name} ({op})")
        return name


# ---- helpers -----------------------------------------------------------------------------------------------

def _batchless(value: Any, op: str) -> tuple[int, ...]:
    if not isinstance(value, Tensor):
        raise NotExpressible(op, f"returning {type(value).__name__}, not one tensor")
    if value.dim() < 2 or value.shape[0] != BATCH:
        raise NotExpressible(op, f"returning a tensor shaped {list(value.shape)} whose first axis is not the batch")
    return tuple(int(d) for d in value.shape[1:])


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, tuple | list):
        for v in value:
            yield from _leaves(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    else:
        yield value


def _rebuild(real: Any, refs: Iterator[Ref]) -> Any:
    if isinstance(real, Tensor):
        return next(refs)
    if isinstance(real, tuple | list):
        return type(real)(_rebuild(v, refs) for v in real)
    return real


def _scope(n: fx.Node) -> str:
    """The path of the module whose forward made this node (torch.fx and torch.export both record the stack)."""
    stack = n.meta.get("nn_module_stack") or {}
    for path, _cls in reversed(list(stack.values())):
        return str(path)
    return ""


def _position(n: fx.Node) -> int:
    order: int = n.meta.get("_archcalc_order", 0)
    return order


def _leaf_calls(gm: fx.GraphModule, model: nn.Module) -> dict[fx.Node, LeafCall]:
    """torch.export: consecutive nodes made inside one call of a leaf module (its nn_module_stack key), grouped."""
    runs: list[tuple[str, str, list[fx.Node]]] = []
    for i, n in enumerate(gm.graph.nodes):
        n.meta["_archcalc_order"] = i
        if n.op != "call_function":
            continue
        stack = n.meta.get("nn_module_stack") or {}
        if not stack:
            continue
        key, (path, _cls) = list(stack.items())[-1]
        try:
            module = model.get_submodule(str(path))
        except AttributeError:
            continue
        if not path or not ops.is_leaf(module):
            continue
        if runs and runs[-1][0] == key:
            runs[-1][2].append(n)
        else:
            runs.append((str(key), str(path), [n]))
    out: dict[fx.Node, LeafCall] = {}
    for _key, path, nodes in runs:
        leaf = LeafCall(path, model.get_submodule(path), nodes[-1], frozenset(nodes))
        for n in nodes:
            out[n] = leaf
    return out
