"""``archcalc import``: hand-written PyTorch models (tests/import_models.py) become specs that count what the
module holds and computes, and compute its function.

The references are independent of archcalc: the parameter count is the module's own (``model.parameters()``),
the MACs are both torch's ``FlopCounterMode`` (convolutions and matrix products, FLOPs / 2) and fvcore's
``FlopCountAnalysis`` (its convolution and matrix-product operators; fvcore counts one per multiply-add), and
the function is the module itself (``verify --against``: outputs, every paired layer, one training step).
Inputs are small (3×16×16) to keep the tests quick.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from archcalc.backends.torch.importer.api import import_model  # noqa: E402
from archcalc.backends.torch.parity import check_against  # noqa: E402
from archcalc.backends.torch.parity_report import render  # noqa: E402
from archcalc.backends.torch.reference import build_reference, parse_reference  # noqa: E402
from archcalc.errors import ArchcalcError  # noqa: E402
from archcalc.spec import load_text  # noqa: E402

MODELS = Path(__file__).with_name("import_models.py")
INPUT = (3, 16, 16)

#: factory → (the spec types it must use, the dtype verify --against runs in). The functional model is held in
#: fp64: its channels-last MLP is a Linear on a permuted view in the module and on a permute in the spec, and
#: the two memory layouts round differently in fp32 — the layer-scale γ's gradient, a sum over every position
#: that nearly cancels, then differs by 4e-4 of its size (the tolerance is 1e-4); in fp64 everything agrees to
#: 1e-12 (the same function).
CASES = {
    "sequential_cnn": ({"conv", "bn", "maxpool", "avgpool", "flatten", "fc", "log_softmax"}, "fp32"),
    "residual": ({"add", "conv", "bn"}, "fp32"),
    "squeeze_excitation": ({"mul", "gap", "fc", "sigmoid", "hardsigmoid"}, "fp32"),
    "inception": ({"concat", "maxpool"}, "fp32"),
    "unet": ({"conv_transpose", "upsample", "concat"}, "fp32"),
    "functional": ({"channel_shuffle", "layer_norm", "layer_scale", "upsample", "add", "mul"}, "fp64"),
}


#: fvcore's operators that are multiply-adds of convolutions and matrix products (it also counts batch norm,
#: pooling and upsampling, which frameworks' MAC figures leave out and archcalc lists apart).
FVCORE_MACS = ("conv", "linear", "addmm", "matmul", "bmm", "einsum")


def _fvcore_macs(module: torch.nn.Module) -> int:
    with warnings.catch_warnings():  # fvcore uses torch.jit, which this torch calls deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        from fvcore.nn import FlopCountAnalysis

        analysis = FlopCountAnalysis(module, torch.randn(1, *INPUT))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        counts = analysis.by_operator()
    return sum(n for op, n in counts.items() if op in FVCORE_MACS)


def _source(factory: str) -> str:
    return f"{MODELS}:{factory}"


@pytest.mark.parametrize("factory", sorted(CASES))
def test_imported_spec_counts_and_computes_the_module(factory: str) -> None:
    types, dtype = CASES[factory]
    source = _source(factory)
    result = import_model(source, INPUT)
    assert result.analysis is not None
    graph = load_text(result.text, f"{factory}.yaml")
    assert types <= {node.op for node in graph}, result.text
    module = build_reference(parse_reference(source)).eval()
    assert result.spec_params == result.params == sum(p.numel() for p in module.parameters())
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        module(torch.randn(1, *INPUT))
    macs = counter.get_total_flops() // 2
    totals = result.analysis.totals
    assert totals.macs == macs
    assert sum(r.cost.framework_macs for r in result.analysis.results.values()) == macs
    assert _fvcore_macs(module) == macs
    report = check_against(graph, source, dtype=dtype)
    assert report.ok, render(report)
    assert report.mapping is not None and "by key" in report.mapping


def test_repeated_modules_become_blocks_and_repeat() -> None:
    """The residual network's six bottlenecks: two blocks (with and without the projection), a repeat of two
    in each stage; the writer's names are the module's, so its state_dict loads by key."""
    result = import_model(_source("residual"), INPUT)
    assert result.blocks == 2
    assert result.text.count("repeat: 2") == 2
    assert "name: downsample" in result.text
    assert result.lines < 80


def test_an_unknown_op_stops_with_one_line_naming_op_and_module() -> None:
    with pytest.raises(ArchcalcError) as caught:
        import_model(_source("with_attention"), INPUT)
    message = caught.value.format()
    assert "\n" not in message.strip()
    assert "attn: torch.matmul is not in archcalc's vocabulary" in message
    assert "--allow-opaque" in message


def test_allow_opaque_analyses_the_rest() -> None:
    """The attention block's ops become opaque layers (traced shapes, costs unavailable); the parameters are
    all counted and the convolutions' and classifier's MACs are still there."""
    result = import_model(_source("with_attention"), INPUT, allow_opaque=True)
    assert "attn.matmul (torch.matmul)" in result.opaque
    assert result.spec_params == result.params == 1_060  # conv 224 + qkv 216 + conv2 584 + fc 36
    assert result.analysis is not None
    graph = result.analysis.graph
    assert graph.node("attn.matmul").op == "opaque"
    assert "from: [rearrange, rearrange_1]" in result.text  # an opaque layer reads several operands
    assert result.analysis.totals.macs > 0
    assert "Check it: archcalc verify" not in result.text  # an opaque spec cannot be built


def test_torch_export_where_fx_cannot_trace() -> None:
    """A branch on the input's size stops torch.fx; torch.export traces it, and the spec and notes say so."""
    result = import_model(_source("shape_branch"), INPUT)
    assert result.how == "torch.export"
    assert any("torch.fx could not trace the model" in n for n in result.notes)
    assert "traced: torch.export" in result.text
    assert "maxpool: {k: 2, name: pool}" in result.text  # the branch taken at 16×16


def test_cli_writes_the_spec(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "net.yaml"
    code, stdout, err = cli_main("import", _source("sequential_cnn"), "--input", "3x16x16", "-o", str(out))
    assert code == 0, err
    assert f"wrote {out}: 19 layers" in stdout
    assert "parameters: 17,162 (the model: 17,162)" in stdout
    assert out.read_text().startswith("# Imported by `archcalc import")
    code, _, err = cli_main("import", _source("with_attention"), "--input", "3x16x16", "-o", str(out))
    assert code != 0
    assert "attn: torch.matmul is not in archcalc's vocabulary" in err


def test_layers_compared_across_layouts() -> None:
    """An imported ConvNeXt block's LayerNorm and MLP run on a channels-last permute in torchvision and on the
    map in the spec: verify --against compares the same values in the two layouts, and still catches others."""
    from archcalc.backends.torch.side_by_side import tensor_diff

    a = torch.randn(2, 8, 4, 5)
    same = tensor_diff("s", "r", a, a.permute(0, 2, 3, 1), 1e-5)
    assert same.ok and "channels-last" in same.note
    other = tensor_diff("s", "r", a, a.permute(0, 2, 3, 1).flip(-1), 1e-5)
    assert not other.ok
    assert not tensor_diff("s", "r", a, torch.randn(2, 4, 8, 5), 1e-5).ok
