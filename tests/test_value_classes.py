"""The hand-written value classes that replaced dataclasses on the symbolic path keep the dataclass contract:
fields in declaration order, equality by value, a changed copy, immutability where they were frozen."""

from __future__ import annotations

import pytest

from archcalc.frozen import FrozenInstanceError
from archcalc.ir import Graph, Node, SpecMeta
from archcalc.report.model import Report, RFData, Row
from archcalc.report.table import Column, Table
from archcalc.slotted import Slotted


def _row(**changes: object) -> Row:
    row = Row("conv1", "conv", "conv", 0, [64, 112, 112], 9472, 9408, 64, True, 118013952, 0, 236027904, 0,
              802816, 3211264, RFData([7, 7], [2, 2], [-3, -3], True), None, "zoo/x.yaml:3:5")
    return row.replace(**changes) if changes else row


def test_slotted_fields_are_the_annotations_in_order() -> None:
    assert Row._fields == tuple(Row.__annotations__)
    assert Row._fields[:4] == ("name", "type", "family", "depth") and Row._fields[-2:] == ("group", "layers")
    assert Report._fields == tuple(Report.__annotations__)
    assert Table._fields == tuple(Table.__annotations__)


def test_slotted_equality_copy_and_repr() -> None:
    a, b = _row(), _row()
    assert a == b and a is not b
    assert a != _row(macs=1) and _row(macs=1).macs == 1 and a.macs == 118013952
    assert a.replace(rf=None).rf is None and a.rf is not None
    assert repr(a).startswith("Row(name='conv1', type='conv', family='conv', depth=0, shape=[64, 112, 112]")
    assert a != "conv1"
    with pytest.raises(TypeError):
        hash(a)
    with pytest.raises(AttributeError):
        a.colour = "red"  # type: ignore[attr-defined]  # slots: no stray attributes


def test_slotted_refuses_slots_that_differ_from_its_fields() -> None:
    with pytest.raises(TypeError, match="__slots__ must name exactly"):
        class Bad(Slotted):
            __slots__ = ("a",)
            a: int
            b: int


def test_slotted_private_slots_are_state_not_fields() -> None:
    class Counter(Slotted):
        __slots__ = ("_seen", "n")
        n: int

        def __init__(self, n: int) -> None:
            self.n, self._seen = n, 0

    a, b = Counter(1), Counter(1)
    b._seen = 5
    assert Counter._fields == ("n",) and a == b and repr(a) == "Counter(n=1)" and a.replace(n=2).n == 2
    with pytest.raises(TypeError, match="__slots__ must name exactly"):
        class Bad(Slotted):  # a public slot still needs its annotation
            __slots__ = ("_seen", "m", "n")
            n: int


def test_report_defaults_are_fresh_per_report() -> None:
    one = Report(1, {}, "float32", 1, [], {})
    two = Report(1, {}, "float32", 1, [], {})
    one.warnings.append("w")
    one.conventions["x"] = "y"
    assert two.warnings == [] and "x" not in two.conventions
    table = Table([Column("Layer")], [["a"]])
    table.bold.add(0)
    assert Table([Column("Layer")], [["a"]]).bold == set()
    assert Column("MACs", right=True) == Column("MACs", True) and Column("MACs").min_width == 10


def test_graph_and_meta_stay_frozen_and_compare_by_fields() -> None:
    meta = SpecMeta("net")
    assert meta.source == {} and meta.source is not SpecMeta("net").source
    nodes = (Node("input", "input", None, ()), Node("relu1", "relu", None, ("input",)))
    g1 = Graph(meta, (3, 8, 8), nodes, ("relu1",))
    g2 = Graph(SpecMeta("net"), (3, 8, 8), nodes, ("relu1",))
    assert g1.node("relu1") is nodes[1]  # builds by_name on g1 only
    assert g1 == g2 and repr(g1) == repr(g2) and "by_name" not in repr(g1)
    assert g1 != Graph(meta, (3, 8, 8), nodes, ("input",))
    with pytest.raises(FrozenInstanceError):
        g1.outputs = ()  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        meta.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        hash(g1)


def test_per_layer_records_keep_the_frozen_contract() -> None:
    """Node, NodeResult, RF and AxisRF are tuples (archcalc.frozen.record) for speed: still frozen values, equal
    only to their own type, with a changed copy, a dataclass-like repr, and copies that survive pickling."""
    import pickle

    from archcalc.analysis import RF
    from archcalc.arith import AxisRF

    a = Node("relu1", "relu", None, ("input",))
    assert a == Node("relu1", "relu", None, ("input",)) and hash(a) == hash(Node("relu1", "relu", None, ("input",)))
    assert a != ("relu1", "relu", None, ("input",), None, ()) and a != AxisRF()  # not a plain tuple's equal
    items = ("relu1", "relu", None, ("input",), None, ())
    assert [a == items, items == a, a == "relu1", items != a, a != "relu1"] == [False, False, False, True, True]
    assert hash(a) != hash(tuple(a))
    assert a.replace(name="relu2").name == "relu2" and a.name == "relu1" and a.loc is None and a.scope == ()
    assert repr(a) == "Node(name='relu1', op='relu', attrs=None, inputs=('input',), loc=None, scope=())"
    assert Node._fields == ("name", "op", "attrs", "inputs", "loc", "scope")
    with pytest.raises(FrozenInstanceError):
        a.name = "x"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        a.colour = "red"  # type: ignore[attr-defined]
    with pytest.raises(FrozenInstanceError):
        del a.name  # type: ignore[misc]
    field = RF(AxisRF(3, 1, -1), AxisRF(3, 1, -1))
    assert field.aligned and not field.envelope and field.size == (3, 3)
    assert pickle.loads(pickle.dumps(field)) == field and pickle.loads(pickle.dumps(a)) == a
    assert {field: 1}[RF(AxisRF(3, 1, -1), AxisRF(3, 1, -1))] == 1
