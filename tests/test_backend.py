"""The torch backend: one builder per layer type, paper names, exact semantics, speed, export."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402
from torch import nn  # noqa: E402

from archcalc.analysis import analyze  # noqa: E402
from archcalc.backends.torch.build import (  # noqa: E402
    BUILDERS,
    MaskedConv2d,
    PadConv2d,
    build_model,
    node_modules,
)
from archcalc.cli.export import export_command  # noqa: E402
from archcalc.errors import BackendError  # noqa: E402
from archcalc.layers import CATALOGUE  # noqa: E402
from archcalc.spec import load, load_text  # noqa: E402

RESIDUAL = """
name: tiny_res
input: 3x16x16
blocks:
  basic:
    args: {c: null, s: 1}
    body:
      - add:
        - [{conv: {out: $c, k: 3, s: $s, pad: 1, bias: false}}, bn, relu,
           {conv: {out: $c, k: 3, pad: 1, bias: false}}, bn]
        - [{conv: {out: $c, k: 1, s: $s, when: "$s > 1"}}]
      - relu
layers:
  - conv: {out: 8, k: 3, pad: 1, name: stem}
  - basic: {c: 8, name: block1}
  - basic: {c: 16, s: 2, name: block2}
  - concat:
    - {seq: [{conv: {out: 4, k: 1}}], name: b1}
    - {seq: [{conv: {out: 4, k: 3, pad: 1}}, relu], name: b2}
    name: mix
  - side: [gap, flatten, {fc: 5, name: fc}]
    name: aux
  - gap
  - flatten
  - fc: {out: 10, name: fc}
"""


def _tiny() -> object:
    return load_text(RESIDUAL, "tiny_res.yaml")


def test_builders_cover_exactly_the_catalogue() -> None:
    assert set(BUILDERS) == set(CATALOGUE)


def test_torch_is_not_imported_by_the_package() -> None:
    code = ("import sys, archcalc.backends.torch, archcalc.cli.verify, archcalc.cli.export;"
            " print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_state_dict_keys_follow_spec_names() -> None:
    model = build_model(_tiny())  # type: ignore[arg-type]
    keys = set(model.state_dict())
    assert {"stem.weight", "block1.b1.conv1.weight", "block1.b1.bn1.running_mean", "block2.b2.conv1.weight",
            "b2.conv1.bias", "aux.fc.weight", "fc.weight"} <= keys
    vgg = build_model(load("vgg16"), init="default")
    assert list(vgg.state_dict())[:2] == ["conv1_1.weight", "conv1_1.bias"]
    assert sum(p.numel() for p in vgg.parameters()) == 138_357_544  # Simonyan & Zisserman, configuration D


def test_parameter_count_equals_calculator_for_zoo_samples() -> None:
    for name in ("lenet5", "alexnet"):
        graph = load(name)
        model = build_model(graph)
        assert sum(p.numel() for p in model.parameters()) == analyze(graph).totals.params


def test_side_outputs_only_in_training() -> None:
    graph = _tiny()
    model = build_model(graph)  # type: ignore[arg-type]
    x = torch.randn(2, 3, 16, 16)
    model.train()
    main, aux = model(x)
    assert main.shape == (2, 10) and aux.shape == (2, 5)
    model.eval()
    assert model(x).shape == (2, 10)


def test_init_is_seeded_and_deterministic() -> None:
    graph = load("lenet5")
    a = build_model(graph, init="gaussian", seed=3).state_dict()
    b = build_model(graph, init="gaussian", seed=3).state_dict()
    c = build_model(graph, init="gaussian", seed=4).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["conv1.weight"], c["conv1.weight"])
    assert abs(float(a["conv2.weight"].std()) - 0.01) < 0.002  # Krizhevsky et al.: N(0, 0.01²)
    assert float(a["conv1.bias"].abs().sum()) == 0.0
    state = torch.get_rng_state()
    build_model(graph, init="kaiming")
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is left alone
    with pytest.raises(BackendError):
        build_model(graph, init="bogus")


def test_init_schemes_have_the_papers_scale() -> None:
    graph = load_text("input: 16x8x8\nlayers: [{conv: {out: 64, k: 3}}, flatten, {fc: 10}]")
    kaiming = build_model(graph, init="kaiming").state_dict()["conv1.weight"]
    assert abs(float(kaiming.std()) - (2 / (64 * 9)) ** 0.5) < 0.01  # He et al., fan_out
    xavier = build_model(graph, init="xavier").state_dict()["conv1.weight"]
    bound = (6 / (16 * 9 + 64 * 9)) ** 0.5
    assert float(xavier.abs().max()) <= bound


def test_recipe_init_is_the_default() -> None:
    graph = load_text("input: 1x8x8\ninit: gaussian\nlayers: [{conv: {out: 32, k: 3}}]")
    w = build_model(graph).state_dict()["conv1.weight"]
    assert abs(float(w.std()) - 0.01) < 0.003


def test_connection_table_masks_the_weight() -> None:
    graph = load_text("input: 3x6x6\nlayers: [{conv: {out: 2, k: 3, table: [[0], [1, 2]]}}]")
    model = build_model(graph)
    conv = node_modules(model, graph)["conv1"]
    assert isinstance(conv, MaskedConv2d)
    x = torch.randn(1, 3, 6, 6)
    x2 = x.clone()
    x2[:, 0] += 100.0  # map 0 feeds only output 0
    with torch.no_grad():
        assert torch.allclose(model(x)[:, 1], model(x2)[:, 1])
        assert not torch.allclose(model(x)[:, 0], model(x2)[:, 0])


def test_same_padding_at_stride_two_pads_explicitly() -> None:
    graph = load_text("input: 1x7x7\nlayers: [{conv: {out: 1, k: 3, s: 2, pad: same, bias: false}}]")
    model = build_model(graph)
    conv = node_modules(model, graph)["conv1"]
    assert not isinstance(conv, PadConv2d) and conv.padding == (1, 1)  # symmetric: torch pads natively
    graph = load_text("input: 1x8x8\nlayers: [{conv: {out: 1, k: 3, s: 2, pad: same, bias: false}}]")
    conv = node_modules(build_model(graph), graph)["conv1"]
    assert isinstance(conv, PadConv2d) and conv.pad == (0, 1, 0, 1)  # TF convention: extra after
    with torch.no_grad():
        conv.weight.fill_(1.0)
        y = conv(torch.ones(1, 1, 8, 8))
    assert y.shape == (1, 1, 4, 4) and float(y[0, 0, -1, -1]) == 4.0 and float(y[0, 0, 0, 0]) == 9.0


def test_padding_mode_is_honoured() -> None:
    graph = load_text("input: 1x4x4\nlayers: [{conv: {out: 1, k: 3, pad: 1, padding_mode: replicate,"
                      " bias: false}}]")
    model = build_model(graph)
    with torch.no_grad():
        node_modules(model, graph)["conv1"].weight.fill_(1.0)  # type: ignore[operator]
        y = model(torch.ones(1, 1, 4, 4))
    assert torch.allclose(y, torch.full((1, 1, 4, 4), 9.0))


def test_lrn_ceil_and_groups_match_torch_modules() -> None:
    graph = load_text("input: 4x9x9\nlayers: [{conv: {out: 4, k: 3, groups: 2}},"
                      " {lrn: {size: 3, alpha: 0.001, beta: 0.75, k: 2}}, {maxpool: {k: 3, s: 2, ceil: true}}]")
    mods = node_modules(build_model(graph), graph)
    assert mods["conv1"].groups == 2
    lrn = mods["norm1"]
    assert isinstance(lrn, nn.LocalResponseNorm) and (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (3, 0.001, 0.75, 2.0)
    assert mods["pool1"].ceil_mode


def test_subsample_and_rbf_semantics() -> None:
    graph = load_text("input: 2x4x4\nlayers: [{subsample: {k: 2}}, flatten, {rbf: 3}]")
    model = build_model(graph)
    mods = node_modules(model, graph)
    sub = mods["subsample1"]
    with torch.no_grad():
        sub.weight.copy_(torch.tensor([2.0, 3.0]))  # type: ignore[operator]
        sub.bias.copy_(torch.tensor([1.0, 0.0]))  # type: ignore[operator]
        y = sub(torch.ones(1, 2, 4, 4))
    assert torch.allclose(y[0, 0], torch.full((2, 2), 4 * 2.0 + 1))
    assert torch.allclose(y[0, 1], torch.full((2, 2), 12.0))
    rbf = mods["rbf1"]
    assert not rbf.weight.requires_grad
    x = torch.randn(1, 8)
    expected = ((x[:, None, :] - rbf.weight) ** 2).sum(-1)
    assert torch.allclose(rbf(x), expected)


def test_inplace_only_where_safe() -> None:
    graph = _tiny()
    plan = analyze(graph).inplace_plan
    assert plan["block1.b1.relu1"] == 0  # after bn: nobody else reads or saved it
    assert plan["block1.add1"] is not None  # the residual add accumulates into the bn output
    # a ReLU on a tensor that another branch also reads must not overwrite it
    g2 = load_text("input: 1x4x4\nlayers: [{conv: {out: 1, k: 1}}, {add: [[relu], []]}]")
    assert analyze(g2).inplace_plan["b1.relu1"] is None
    # ... nor one whose producer saved its output for backward
    g3 = load_text("input: 1x4x4\nlayers: [{conv: {out: 1, k: 1}}, sigmoid, relu]")
    assert analyze(g3).inplace_plan["relu1"] is None
    model = build_model(g2)
    x = torch.randn(1, 1, 4, 4)
    conv = node_modules(model, g2)["conv1"]
    with torch.no_grad():
        c = conv(x)
        assert torch.allclose(model(x), torch.relu(c) + c)


def test_training_backward_runs() -> None:
    model = build_model(_tiny())  # type: ignore[arg-type]
    model.train()
    main, aux = model(torch.randn(2, 3, 16, 16))
    (main.sum() + aux.sum()).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_torchscript_and_trace_agree_with_eager() -> None:
    graph = _tiny()
    model = build_model(graph).eval()  # type: ignore[arg-type]
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        ref = model(x)
        scripted = torch.jit.script(model)
        assert torch.allclose(scripted(x), ref, atol=1e-6)
        traced = torch.jit.trace(model, x)
        assert torch.allclose(traced(x), ref, atol=1e-6)


def test_torch_compile_works() -> None:
    graph = load("lenet5")
    model = build_model(graph).eval()
    x = torch.randn(2, *graph.input_shape)
    compiled = torch.compile(model, backend="eager")
    with torch.no_grad():
        assert torch.allclose(compiled(x), model(x))


def test_export_pt2_roundtrip(tmp_path: Path) -> None:
    # torch.export replaces TorchScript (deprecated in torch 2.13); the program loads without archcalc
    out = tmp_path / "lenet.pt2"
    result = CliRunner().invoke(export_command, ["lenet5", "-o", str(out)])
    assert result.exit_code == 0, result.output
    program = torch.export.load(str(out))
    graph = load("lenet5")
    ref = build_model(graph).eval()
    for batch in (1, 5):  # the batch dimension is dynamic
        x = torch.randn(batch, *graph.input_shape)
        with torch.no_grad():
            assert torch.allclose(program.module()(x), ref(x), atol=1e-6)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


@pytest.mark.parametrize("name", ["lenet5", "resnet18"])
def test_export_onnx_runs_in_onnxruntime_like_torch(tmp_path: Path, name: str) -> None:
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "m.onnx"
    result = CliRunner().invoke(export_command, [name, "--format", "onnx", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "checked with onnxruntime" in result.output
    graph = load(name)
    ref = build_model(graph).eval()
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = torch.randn(3, *graph.input_shape)
    got = torch.from_numpy(session.run(None, {"input": x.numpy()})[0])
    with torch.no_grad():
        assert torch.allclose(got, ref(x), atol=1e-4, rtol=1e-4)


def test_export_onnx_without_the_extra_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxscript" else real(name, *a))
    result = CliRunner().invoke(export_command, ["lenet5", "--format", "onnx", "-o", str(tmp_path / "m.onnx")])
    assert isinstance(result.exception, BackendError)
    assert "pip install 'archcalc[onnx]'" in result.exception.format()
    assert not (tmp_path / "m.onnx").exists()


def test_effective_rf_radii_grow_and_stay_inside_the_field(tmp_path: Path) -> None:
    from archcalc.backends.torch.erf import effective_rf
    from archcalc.errors import OptionError

    graph = load_text("input: 1x33x33\nlayers:\n" + "".join(
        "  - conv: {out: 4, k: 3, pad: 1}\n  - relu\n" for _ in range(5)), "stack.yaml")
    png = tmp_path / "erf.png"
    result = effective_rf(graph, png=png, runs=2)
    assert result.theoretical_size == (11, 11)  # five stacked 3×3: 1 + 5·2
    radii = [result.radii[p] for p in (0.5, 0.9, 0.99)]
    assert radii == sorted(radii) and radii[-1] <= 5  # Luo et al.: the effective field is smaller
    assert result.centre == (16, 16)
    assert png.read_bytes()[:4] == b"\x89PNG"
    weights = tmp_path / "w.pt"
    torch.save(build_model(graph, seed=5).state_dict(), weights)
    again = effective_rf(graph, checkpoint=weights, runs=1)
    assert "weights from" in again.source
    with pytest.raises(OptionError):
        effective_rf(graph, layer="nope")
