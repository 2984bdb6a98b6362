"""The symbolic walk: each node resolved once by its layer type, then fields, gradients and the plan.

One pass in topological order asks each node's layer type (``archcalc.layers``) for its record; the
receptive-field, gradient-flow and in-place passes read only those records, and the memory passes
(``archcalc.analysis.memory``) read the results. Nothing here touches a tensor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archcalc import layers
from archcalc.analysis.inplace import SHARING, plan_inplace, saved_as_run
from archcalc.analysis.receptive import RF, keeps_field, propagate
from archcalc.errors import SourceLocation, SpecError
from archcalc.frozen import Frozen, new_record
from archcalc.ir import Graph, Node, Shape
from archcalc.layers import Aliasing, Cost, Family, Layout, Params, Resolved, Saved, Window

if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    from archcalc.frozen import Record


class SpecWarning(Frozen):
    """A non-fatal finding about the spec, with where it was written."""

    message: str
    location: SourceLocation | None
    layer: str

    def format(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{where}warning: {self.layer}: {self.message}"


class NodeResult(Record):
    """One node of the analysed network: its graph node, its record, and what the graph passes added."""

    node: Node
    rec: Resolved
    rf: RF | None
    rf_note: str | None
    #: whether a gradient flows back into this node's inputs during training
    needs_input_grad: bool
    #: the input it overwrites in place as planned (None: it allocates, or is a view)
    inplace: int | None
    #: downstream of a whole-map reduction (global pooling, flatten): no spatial map any more
    global_context: bool
    #: the output is channels-last in memory (after a layer norm or a Linear over the channels)
    channels_last: bool = False

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def shape(self) -> Shape:
        return self.rec.out

    @property
    def params(self) -> Params:
        return self.rec.params

    @property
    def cost(self) -> Cost:
        return self.rec.cost

    @property
    def saved(self) -> tuple[Saved, ...]:
        """What autograd keeps for this node as the plan runs it."""
        return saved_as_run(self.rec, self.inplace)

    def shares_input(self, training: bool) -> bool:
        """Whether the output lives in its first input's storage (in place, a view, dropout at inference)."""
        aliasing = self.rec.aliasing
        if aliasing is Aliasing.OVERWRITES_INPUT:
            return self.inplace is not None
        return aliasing is Aliasing.VIEW or (aliasing in SHARING and not training)

    @property
    def alloc_elems(self) -> int:
        """Activation elements this node allocates at inference (0 in place and for views)."""
        return 0 if self.shares_input(training=False) else layers.numel(self.rec.out)

    @property
    def bwd_macs(self) -> int:
        return self.cost.bwd_weight_macs * (1 if self.params.trainable else 0) + (
            self.cost.bwd_input_macs if self.needs_input_grad else 0)


def _whole_map(rec: Resolved) -> bool:
    """A reduction over the whole map (global pooling, flatten): what follows has no spatial map."""
    return (rec.family in (Family.POOL, Family.RESHAPE) and isinstance(rec.rf, Window) and len(rec.ins) == 1
            and len(rec.ins[0]) == 3 and rec.rf.kernel == rec.ins[0][1:])


def calculate(graph: Graph, strict: bool = False) -> tuple[dict[str, NodeResult], list[SpecWarning],
                                                            dict[str, int | None]]:
    """Walk ``graph`` once; SpecErrors carry the location of the layer that caused them."""
    nodes, wiring = graph.nodes, graph.wiring  # the per-node state below is in lists, by position
    records: list[Resolved] = []
    keep = records.append
    warnings: list[SpecWarning] = []
    resolve = layers.Resolver()
    for node, ins in zip(nodes, wiring, strict=True):
        rec = resolve(node, (records[ins[0]].out,) if len(ins) == 1 else tuple([records[i].out for i in ins]))
        if rec.leftover:
            if strict:
                raise SpecError(f"{node.name}: {rec.leftover}", node.loc, "drop --strict to floor instead")
            warnings.append(SpecWarning(rec.leftover, node.loc, node.name))
        keep(rec)
    plan = plan_inplace(graph, records)
    done: list[NodeResult] = []
    add = done.append
    # what a record alone decides, once per distinct record (deep networks share them: ResNet-1202): trainable
    # parameters, a whole-map reduction, a channels-last output, an output laid out as its input, a field
    # kept as its input's (an enum member read per node costs ten times a local)
    facts: dict[int, tuple[bool, bool, bool, bool, bool]] = {}
    for node, ins, rec, choice in zip(nodes, wiring, records, plan, strict=True):
        known = facts.get(id(rec))
        if known is None:
            p = rec.params
            known = facts[id(rec)] = (p.total > 0 and p.trainable, _whole_map(rec),
                                      rec.layout is Layout.CHANNELS_LAST, rec.layout is Layout.AS_INPUT,
                                      keeps_field(rec.rf))
        if len(ins) == 1:  # the common case, on the short way
            b = done[ins[0]]
            rf: RF | None = b.rf
            note: str | None = None
            if not known[4] or rf is None:  # (a BN, a ReLU: propagate would hand the input's field back)
                rf, note = propagate(rec.rf, (rf,))
            grad_in = b.needs_input_grad or facts[id(b.rec)][0]
            glob = known[1] or (b.global_context and b.rec.out[1:] == rec.out[1:])
            last = known[2] or (known[3] and b.channels_last)
        else:
            before = [done[i] for i in ins]
            rf, note = propagate(rec.rf, [b.rf for b in before])
            grad_in = any(b.needs_input_grad or facts[id(b.rec)][0] for b in before)
            # a reduction's result has no spatial map; a map gated by it (same spatial size, broadcast) still has
            glob = known[1] or any(b.global_context and b.rec.out[1:] == rec.out[1:] for b in before)
            last = known[2] or (known[3] and bool(before) and before[0].channels_last)
        add(new_record(NodeResult, (node, rec, rf, note, grad_in, choice, glob, last)))
    names = [node.name for node in nodes]
    return dict(zip(names, done, strict=True)), warnings, dict(zip(names, plan, strict=True))
