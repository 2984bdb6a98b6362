"""The symbolic walk: for every node, output shape, parameters, cost and receptive field.

One pass in topological order asks each node's layer type (``archcalc.layers``) for its rules; the
memory passes (``archcalc.analysis.memory``) read the result. Nothing here touches a tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from archcalc import layers
from archcalc.analysis.inplace import INPLACE_OPS, plan_inplace
from archcalc.analysis.receptive import RF, propagate
from archcalc.errors import SourceLocation, SpecError
from archcalc.ir import Graph, Node, Shape
from archcalc.layers import Cost, Params

DTYPE_BYTES = {"fp32": 4, "float32": 4, "fp16": 2, "float16": 2, "half": 2, "bf16": 2, "bfloat16": 2,
               "fp64": 8, "float64": 8, "int8": 1, "fp8": 1}


@dataclass(frozen=True)
class Warning_:
    """A non-fatal finding about the spec, with where it was written."""

    message: str
    location: SourceLocation | None
    layer: str

    def format(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}warning: {self.layer}: {self.message}"


@dataclass(frozen=True)
class NodeResult:
    """Everything the calculator knows about one node, for one image."""

    node: Node
    shape: Shape
    params: Params
    cost: Cost
    rf: RF | None
    rf_note: str | None
    #: activation elements this node allocates at inference (0 for in-place and views)
    alloc_elems: int
    #: whether a gradient flows back into this node's inputs during training
    needs_input_grad: bool

    @property
    def bwd_macs(self) -> int:
        return self.cost.bwd_weight_macs * (1 if self.params.trainable else 0) + (
            self.cost.bwd_input_macs if self.needs_input_grad else 0)


@dataclass
class Calculation:
    """Per-node results in topological order, the warnings met on the way, and the in-place plan."""

    graph: Graph
    results: dict[str, NodeResult]
    warnings: list[Warning_] = field(default_factory=list)
    #: node → index of the input it overwrites in place, or None (see archcalc.analysis.inplace)
    inplace_plan: dict[str, int | None] = field(default_factory=dict)


def calculate(graph: Graph, strict: bool = False) -> Calculation:
    """Walk ``graph`` once; SpecErrors carry the location of the layer that caused them."""
    shapes: dict[str, Shape] = {}
    partial: dict[str, tuple[Params, Cost, RF | None, str | None, bool]] = {}
    requires_grad: dict[str, bool] = {}
    warnings: list[Warning_] = []
    rfs: dict[str, RF | None] = {}
    # Deep networks repeat the same layer on the same input shape many times (ResNet-1202): the rules
    # are pure functions of (type, attributes, input shapes), so each distinct case is computed once.
    memo: dict[tuple[object, ...], tuple[Shape, Params, Cost, str | None]] = {}
    for node in graph.nodes:
        layer = layers.CATALOGUE[node.op]
        ins = [shapes[i] for i in node.inputs]
        key = (node.op, tuple(node.attrs.items()), tuple(ins))
        cached = memo.get(key)
        if cached is None:
            try:
                shape = layer.output_shape(node.attrs, ins)
                params = layer.params(node.attrs, ins, shape)
                cost = layer.cost(node.attrs, ins, shape)
                message = layer.leftover(node.attrs, ins)
            except SpecError as exc:
                if exc.location is None:
                    exc.location = node.loc
                exc.message = f"{node.name}: {exc.message}"
                raise
            memo[key] = cached = (shape, params, cost, message)
        shape, params, cost, message = cached
        if message:
            if strict:
                raise SpecError(f"{node.name}: {message}", node.loc, "drop --strict to floor instead")
            warnings.append(Warning_(message, node.loc, node.name))
        shapes[node.name] = shape
        rf, note = propagate(node, layer, ins, [rfs.get(i) for i in node.inputs])
        rfs[node.name] = rf
        grad_in = any(requires_grad[i] for i in node.inputs)
        requires_grad[node.name] = grad_in or (params.total > 0 and params.trainable)
        partial[node.name] = (params, cost, rf, note, grad_in)
    plan = plan_inplace(graph, shapes)
    results: dict[str, NodeResult] = {}
    for spec_node in graph.nodes:
        node = spec_node
        if node.op in INPLACE_OPS and node.attrs.get("inplace") and plan[node.name] is None:
            # asked for, but unsafe here: the backend runs it out of place, and so do the memory passes
            node = replace(node, attrs={**node.attrs, "inplace": False})
        layer = layers.CATALOGUE[node.op]
        params, cost, rf, note, grad_in = partial[node.name]
        allocates = not (layer.inplace(node.attrs) or layer.view(node.attrs))
        alloc = layers.numel(shapes[node.name]) if allocates else 0
        results[node.name] = NodeResult(node, shapes[node.name], params, cost, rf, note, alloc, grad_in)
    return Calculation(graph, results, warnings, plan)
