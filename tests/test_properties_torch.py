"""Property tests: for random valid specs, every symbolic figure equals torch's measurement.

Specs are drawn layer by layer (each candidate kept only if the calculator accepts it, so the
strategy rarely rejects) on small inputs: chains, concat branches, residual adds, side outputs and
every layer type with random kernel, stride, padding, dilation and groups. Invalid specs must raise
``SpecError`` and nothing else; a spec the calculator accepts must build and run in torch.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from archcalc.analysis import analyze  # noqa: E402
from archcalc.backends.torch.build import build_model  # noqa: E402
from archcalc.backends.torch.verify import verify  # noqa: E402
from archcalc.errors import SpecError  # noqa: E402
from archcalc.ir import Graph  # noqa: E402
from archcalc.spec import load_text  # noqa: E402

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])

POINTWISE = ["bn", "relu", "relu6", "leaky_relu", "elu", "prelu", "sigmoid", "tanh", "scaled_tanh", "gelu",
             "silu", "hardswish", "hardsigmoid", "softplus", "identity", "lrn", "layer_norm", "group_norm",
             "layer_scale", "stochastic_depth"]


def _text(input_shape: tuple[int, ...], layers: list[Any]) -> str:
    return json.dumps({"name": "prop", "input": "x".join(map(str, input_shape)), "layers": layers})


def _try(input_shape: tuple[int, ...], layers: list[Any]) -> Graph | None:
    try:
        graph = load_text(_text(input_shape, layers), "prop.yaml")
        analyze(graph)
    except SpecError:
        return None
    return graph


def _shape(graph: Graph) -> tuple[int, ...]:
    return analyze(graph).results[graph.outputs[0]].shape


@st.composite
def conv_layer(draw: st.DrawFn, cin: int, same_size: bool = False) -> dict[str, Any]:
    attrs: dict[str, Any] = {"out": draw(st.integers(1, 6))}
    attrs["k"] = draw(st.sampled_from([1, 2, 3, [1, 3], [3, 2]]))
    if same_size:
        attrs["pad"] = "same"
    else:
        attrs["s"] = draw(st.sampled_from([1, 1, 2, [1, 2]]))
        attrs["pad"] = draw(st.sampled_from([0, 1, 2, [1, 0], [0, 1, 2, 0], "same", "valid"]))
        attrs["dilation"] = draw(st.sampled_from([1, 1, 2]))
        attrs["padding_mode"] = draw(st.sampled_from(["zeros", "zeros", "zeros", "reflect", "replicate",
                                                      "circular"]))
    kind = draw(st.sampled_from(["plain", "plain", "groups", "table"]))
    if kind == "groups":
        divisors = [g for g in range(1, cin + 1) if cin % g == 0]
        g = draw(st.sampled_from(divisors))
        attrs["groups"] = g
        attrs["out"] = g * draw(st.integers(1, 2))
    elif kind == "table":
        rows = [sorted(draw(st.sets(st.integers(0, cin - 1), min_size=1, max_size=cin)))
                for _ in range(attrs["out"])]
        attrs["table"] = rows
    attrs["bias"] = draw(st.booleans())
    return {"conv": attrs}


@st.composite
def pool_layer(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["maxpool", "avgpool", "subsample", "adaptive_avgpool", "gap"]))
    if kind == "gap":
        return {"gap": {}}
    if kind == "adaptive_avgpool":
        return {"adaptive_avgpool": draw(st.sampled_from([1, 2, [2, 1]]))}
    k: Any = draw(st.sampled_from([1, 2, 3, [2, 3]]))
    attrs: dict[str, Any] = {"k": k, "s": draw(st.sampled_from([None, 1, 2]))}
    kmin: int = min(k) if isinstance(k, list) else k
    attrs["pad"] = draw(st.sampled_from([0, 0, kmin // 2, "same", [0, kmin // 2, kmin // 2, 0]]))
    attrs["ceil"] = draw(st.booleans())
    if kind == "maxpool":
        attrs["dilation"] = draw(st.sampled_from([1, 1, 2]))
    if kind == "avgpool":
        attrs["count_include_pad"] = draw(st.booleans())
    return {kind: {a: v for a, v in attrs.items() if v is not None}}


@st.composite
def pointwise_layer(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(POINTWISE))
    if kind == "lrn":
        return {"lrn": {"size": draw(st.integers(1, 5)), "k": 2.0}}
    if kind in ("relu", "relu6", "leaky_relu", "elu", "silu", "hardswish", "hardsigmoid"):
        return {kind: {"inplace": draw(st.booleans())}}
    if kind == "gelu":
        return {"gelu": {"approximate": draw(st.sampled_from(["none", "tanh"]))}}
    if kind == "layer_norm":
        return {"layer_norm": {"eps": 1e-6, "affine": draw(st.booleans())}}
    if kind == "group_norm":
        return {"group_norm": {"groups": 1, "affine": draw(st.booleans())}}
    if kind == "stochastic_depth":
        return {"stochastic_depth": {"p": draw(st.sampled_from([0.0, 0.2])), "mode": draw(st.sampled_from(["row",
                                                                                                          "batch"]))}}
    if kind == "prelu":
        return {"prelu": {"per_channel": draw(st.booleans())}}
    return kind


@st.composite
def resample_layer(draw: st.DrawFn, c: int) -> Any:
    """Resolution up, and the crops that bring it back (fractional-jump receptive fields)."""
    kind = draw(st.sampled_from(["conv_transpose", "upsample", "upsample", "pixel_shuffle", "crop"]))
    if kind == "conv_transpose":
        s = draw(st.sampled_from([1, 2, 2, 3]))
        d = draw(st.sampled_from([1, 1, 2]))
        return {"conv_transpose": {"out": draw(st.integers(1, 4)), "k": draw(st.sampled_from([1, 2, 3, [2, 3]])),
                                   "s": s, "pad": draw(st.sampled_from([0, 0, 1])),
                                   "output_padding": draw(st.integers(0, max(s, d) - 1)), "dilation": d,
                                   "bias": draw(st.booleans())}}
    if kind == "upsample":
        mode = draw(st.sampled_from(["nearest", "bilinear"]))
        attrs: dict[str, Any] = {"mode": mode}
        if draw(st.booleans()):
            attrs["scale"] = draw(st.sampled_from([2, 3, 1.5]))
        else:
            attrs["size"] = draw(st.sampled_from([7, 13, [9, 16]]))
        if mode == "bilinear":
            attrs["align_corners"] = draw(st.booleans())
        return {"upsample": attrs}
    if kind == "pixel_shuffle":
        r = draw(st.sampled_from([2, 3]))
        return {"seq": [{"conv": {"out": r * r * draw(st.integers(1, 2)), "k": 1}}, {"pixel_shuffle": r}]}
    return {"crop": draw(st.sampled_from([3, 4, [4, 3]]))}


@st.composite
def channel_layer(draw: st.DrawFn, c: int) -> Any:
    """Channel bookkeeping and gates: shuffle, split branches, squeeze-excitation, a Linear over channels."""
    kind = draw(st.sampled_from(["shuffle", "split", "se", "mlp"]))
    if kind == "shuffle":
        return {"channel_shuffle": draw(st.sampled_from([g for g in (1, 2, 3) if c % g == 0]))}
    if kind == "split":
        sizes = [c // 2, c - c // 2] if c > 1 else [1]
        branches: list[Any] = [[] for _ in sizes]
        branches[-1] = [{"conv": {"out": sizes[-1], "k": 3, "pad": 1}}, draw(pointwise_layer())]
        return {"concat": branches, "split": sizes if draw(st.booleans()) or c % len(sizes) else len(sizes)}
    if kind == "se":
        gate = ["gap", {"conv": {"out": max(c // 2, 1), "k": 1}}, "relu", {"conv": {"out": c, "k": 1}},
                draw(st.sampled_from(["sigmoid", "hardsigmoid"]))]
        return {"mul": [gate, []] if draw(st.booleans()) else [[], gate]}
    return {"seq": [{"layer_norm": {"eps": 1e-6}}, {"fc": {"out": draw(st.integers(1, 6)), "per_position": True}},
                    "gelu", {"fc": {"out": c, "per_position": True}}, "layer_scale"]}


@st.composite
def valid_spec(draw: st.DrawFn) -> Graph:
    shape: tuple[int, ...] = (draw(st.integers(1, 4)), draw(st.integers(5, 12)), draw(st.integers(5, 12)))
    # The first layer is a conv: the memory model assumes gradients flow through every layer (a pool
    # straight on the input saves nothing in torch, since nothing before it needs a gradient).
    layers: list[Any] = [{"conv": {"out": draw(st.integers(1, 4)), "k": draw(st.sampled_from([1, 3]))}}]
    graph = _try(shape, layers)
    assert graph is not None
    for _ in range(draw(st.integers(1, 7))):
        c = _shape(graph)[0]
        kind = draw(st.sampled_from(["conv", "conv", "pool", "pointwise", "pointwise", "concat", "add",
                                     "dropout", "side", "resample", "channels"]))
        item: Any
        if kind == "conv":
            item = draw(conv_layer(c))
        elif kind == "resample":
            item = draw(resample_layer(c))
        elif kind == "channels":
            item = draw(channel_layer(c))
        elif kind == "pool":
            item = draw(pool_layer())
        elif kind == "pointwise":
            item = draw(pointwise_layer())
        elif kind == "dropout":
            item = {"dropout": draw(st.sampled_from([0.0, 0.3, 0.5]))}
        elif kind == "concat":
            branches = [[draw(conv_layer(c, same_size=True)), draw(pointwise_layer())]
                        for _ in range(draw(st.integers(1, 2)))]
            item = {"concat": [*branches, *([[]] if draw(st.booleans()) else [])]}
        elif kind == "add":
            body = [{"conv": {"out": c, "k": 3, "pad": 1}}, draw(pointwise_layer())]
            item = {"add": [body, [] if draw(st.booleans()) else [{"conv": {"out": c, "k": 1}}]]}
        else:
            item = {"side": ["gap", "flatten", {"fc": 3}]}
        candidate = _try(shape, [*layers, item])
        if candidate is not None:
            layers.append(item)
            graph = candidate
    if draw(st.booleans()):
        tail: list[Any] = ["flatten", {"fc": draw(st.integers(2, 5))}]
        tail.append(draw(st.sampled_from(["relu", "softmax", "log_softmax", "tanh", {"rbf": 3}, "bn",
                                          {"dropout": 0.5}])))
        candidate = _try(shape, [*layers, *tail])
        if candidate is not None:
            graph = candidate
    return graph


def _inplace_as_modelled(graph: Graph) -> bool:
    """The memory model assumes every in-place activation really runs in place."""
    plan = analyze(graph).inplace_plan
    return all(plan[n.name] is not None for n in graph.nodes
               if n.op in ("relu", "relu6", "leaky_relu", "elu", "silu", "hardswish") and n.attrs.inplace)


@SETTINGS
@given(valid_spec())
def test_symbolic_equals_torch(graph: Graph) -> None:
    report = verify(graph, batch=2, use_fvcore=False)
    failures = report.failures()
    if not _inplace_as_modelled(graph):
        failures = [f for f in failures if not f.startswith("total saved")]
    assert not failures, "\n".join([*failures, json.dumps([n.name + ":" + n.op for n in graph.nodes])])


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(valid_spec())
def test_macs_against_fvcore(graph: Graph) -> None:
    assume(len(graph.nodes) > 2)
    report = verify(graph, batch=2, rf=False)
    assert not [f for f in report.failures() if "macs" in f]


# ---- invalid specs ------------------------------------------------------------------------------

_JUNK = st.one_of(st.integers(-3, 40), st.sampled_from([None, "same", "valid", "x", 1.5, True, [], [1],
                                                        [1, 2, 3], [[0, 9]]]))


@st.composite
def junk_spec(draw: st.DrawFn) -> str:
    layers: list[Any] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["conv", "maxpool", "avgpool", "subsample", "adaptive_avgpool", "fc",
                                     "lrn", "bn", "concat", "add", "mul", "relu", "flatten", "rbf", "convv",
                                     "dropout", "gap", "conv_transpose", "upsample", "pixel_shuffle", "crop",
                                     "channel_shuffle", "layer_norm", "group_norm", "layer_scale",
                                     "stochastic_depth"]))
        if kind in ("concat", "add", "mul"):
            entry: dict[str, Any] = {kind: [[{"conv": {"out": draw(st.integers(1, 8)), "k": draw(_JUNK)}}], []]}
            if draw(st.booleans()):
                entry["split"] = draw(_JUNK)
            layers.append(entry)
            continue
        attrs = {name: draw(_JUNK) for name in draw(st.sets(st.sampled_from(
            ["out", "k", "s", "pad", "dilation", "groups", "table", "size", "ceil", "p", "padding_mode",
             "scale", "mode", "r", "output_padding", "per_position", "bogus"]), max_size=3))}
        layers.append({kind: attrs} if attrs else kind)
    shape = draw(st.sampled_from(["3x8x8", "1x5x5", "2x3x9", "4", "0x1x1"]))
    return json.dumps({"name": "junk", "input": shape, "layers": layers})


@settings(max_examples=120, deadline=None, derandomize=True)
@given(junk_spec())
def test_invalid_specs_raise_spec_error(text: str) -> None:
    try:
        graph = load_text(text, "junk.yaml")
        analysis = analyze(graph)
    except SpecError:
        return
    # Accepted by the calculator: then torch must build and run it with the predicted shape.
    model = build_model(graph)
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, *graph.input_shape))
    assert tuple(out.shape[1:]) == analysis.results[graph.outputs[0]].shape


EVERY_TYPE = """
input: 3x14x14
layers:
  - conv: {out: 6, k: 3, pad: 1, groups: 3}
  - bn
  - prelu
  - conv: {out: 4, k: 3, pad: [0, 1, 1, 0], table: [[0, 1], [2, 3, 4], [5], [0, 5]], padding_mode: reflect}
  - gelu
  - maxpool: {k: 3, s: 2, ceil: true, pad: 1}
  - lrn: {size: 3, k: 2.0}
  - concat: [[{conv: {out: 2, k: 1}}, relu6], [{avgpool: {k: 3, s: 1, pad: 1, count_include_pad: false}}, softplus], []]
  - add: [[{conv: {out: 10, k: 3, pad: same, dilation: 2}}, leaky_relu, silu, hardswish], [identity]]
  - elu
  - add: [[{conv: {out: 12, k: 3, s: 2, pad: 1}}], [{pad_channels: {out: 12, s: 2}}]]
  - mul: [[gap, {conv: {out: 3, k: 1}}, relu, {conv: {out: 12, k: 1}}, hardsigmoid], []]
  - concat: [[], [{conv: {out: 6, k: 3, pad: 1}}, {group_norm: 2}]]
    split: 2
  - channel_shuffle: 2
  - layer_norm: {eps: 1.0e-6}
  - fc: {out: 16, per_position: true}
  - gelu: {approximate: tanh}
  - fc: {out: 12, per_position: true}
  - layer_scale
  - stochastic_depth: 0.1
  - conv_transpose: {out: 8, k: 3, s: 2, pad: 1, output_padding: 1}
  - upsample: {scale: 2, mode: bilinear}
  - crop: 12
  - conv: {out: 16, k: 3, s: 2, pad: 1}
  - pixel_shuffle: 2
  - upsample: {size: 8}
  - subsample: {k: 2}
  - sigmoid
  - side: [gap, flatten, {fc: 3}, log_softmax]
  - adaptive_avgpool: 2
  - scaled_tanh
  - tanh
  - dropout: 0.4
  - flatten
  - fc: 12
  - relu
  - rbf: 4
  - softmax
"""


def test_every_layer_type_in_one_spec() -> None:
    from archcalc.layers import CATALOGUE

    graph = load_text(EVERY_TYPE, "every.yaml")
    # an opaque layer (archcalc import --allow-opaque) is analysed but never built: tests/test_import.py
    assert {n.op for n in graph.nodes} == set(CATALOGUE) - {"opaque"}
    report = verify(graph, batch=2)
    assert report.ok, report.failures()
