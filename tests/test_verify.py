"""``archcalc verify``: every zoo spec agrees with torch; disagreements are caught and exit non-zero."""

from __future__ import annotations

import csv
import io
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from click.testing import CliRunner  # noqa: E402

from archcalc.analysis import analyze  # noqa: E402
from archcalc.backends.torch.build import build_model, node_modules  # noqa: E402
from archcalc.backends.torch.verify import render, verify  # noqa: E402
from archcalc.cli.verify import verify_command  # noqa: E402
from archcalc.errors import CheckFailed, SpecError  # noqa: E402
from archcalc.ir import Graph, Shape  # noqa: E402
from archcalc.spec import load, load_text, zoo  # noqa: E402

#: The deepest or widest specs: verified at batch 1 (and at a reduced input where the spec allows).
HEAVY = {"inception_v3", "googlenet", "googlenet_tv", "resnet1202", "resnet152", "resnet152_tv", "resnet101",
         "resnet101_tv", "vgg19", "vgg19_bn", "vgg16c"}


#: Specs whose smallest input is none of the sizes tried below: U-Net's tiles are 16·n + 124 (Ronneberger et al.
#: 2015: every 2×2 pooling halves an even size), and 188 is the smallest (a 4×4 output map).
REDUCED: dict[str, Shape] = {"unet": (1, 188, 188)}


@cache
def _reduced(name: str) -> Shape | None:
    """The smallest square input (from a few) this spec accepts, or None for its own input."""
    if name in REDUCED:
        return REDUCED[name]
    default = load(name).input_shape
    for size in (32, 64, 96, 128, 160):
        if len(default) != 3 or size >= default[1]:
            break
        try:
            analyze(load(name, input_shape=(default[0], size, size)))
        except SpecError:
            continue
        return (default[0], size, size)
    return None


def _zoo_graph(name: str) -> Graph:
    return load(name, input_shape=_reduced(name))


#: Family members verified through a representative: ConvNeXt-S/B/L are ConvNeXt-T's blocks at other widths
#: and depths (each took minutes here; tests/test_zoo_dense.py holds their figures against torchvision's)
CONVNEXT_BY_TINY = {"convnext_small", "convnext_base", "convnext_large"}
#: Family variants left to the family's smallest and largest members, whose layers they repeat at other widths,
#: depths and resolutions: EfficientNet B1–B6 (B0 and B7, which has B5–B7's batch-norm eps and momentum, stay)
#: and MnasNet 0.75 and 1.0 (0.5 and 1.3 stay). Each costs 25–45 s of CPU here, B7 with 871 layers the most;
#: their parameters and multiply-adds are held against torchvision and fvcore in tests/test_zoo_mobile.py.
REPRESENTED = {*CONVNEXT_BY_TINY, *(f"efficientnet_b{i}" for i in range(1, 7)), "mnasnet0_75", "mnasnet1_0",
               # and the larger ShuffleNetV2, DenseNet, ResNeXt and Wide ResNet variants by ×0.5, DenseNet-121,
               # ResNeXt-50 32×4d and WRN-50-2 (their figures against torchvision's: tests/test_zoo_classic.py)
               "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0", "densenet161", "densenet169",
               "densenet201", "resnext101_32x8d", "wide_resnet101_2"}
#: Families verified through representatives: their other variants are the same spec with other numbers,
#: and building them in torch costs minutes and gigabytes (RegNet: 15 variants, up to 645M parameters;
#: tests/test_zoo_regnet.py holds every variant's golden figures).
REPRESENTED |= {n for n in zoo.names() if n.startswith("regnet_")} - {"regnet_y_400mf", "regnet_x_400mf"}


@pytest.mark.parametrize("name", [n for n in zoo.names() if n not in REPRESENTED])
def test_verify_passes_for_every_zoo_spec(name: str) -> None:
    graph = _zoo_graph(name)
    report = verify(graph, batch=2)
    assert report.ok, render(report)
    assert {r.name for r in report.rows} == {n.name for n in graph.nodes if n.op != "input"}


def test_verify_reports_every_figure() -> None:
    report = verify(load("lenet5"))
    conv1 = next(r for r in report.rows if r.name == "conv1")
    assert set(conv1.checks) == {"shape", "params", "macs", "rf"}
    assert conv1.checks["macs"].symbolic == 5 * 5 * 1 * 6 * 28 * 28  # 117,600: LeNet-5 C1
    assert conv1.checks["macs"].fvcore == 117_600
    assert conv1.checks["rf"].torch == "5 /1 @0"  # measured exactly: every unit of C1 sees no padding
    assert report.totals["params"].torch == 61_706
    text = render(report)
    assert "✓ all checks agree" in text and "✗" not in text


def test_lists_what_only_one_side_counts() -> None:
    report = verify(load("alexnet"))
    joined = " ".join(report.notes)
    assert "archcalc counts MACs, fvcore skips: lrn" in joined
    assert "max_pool2d" in joined  # fvcore skips pooling; archcalc counts comparisons as other ops


def test_saved_bytes_match_exactly_with_branches_and_table() -> None:
    spec = """
input: 3x12x12
layers:
  - conv: {out: 6, k: 3, pad: same, s: 2}
  - relu
  - conv: {out: 4, k: 3, pad: 1, table: [[0, 1], [2, 3, 4], [5], [0, 5]]}
  - concat: [[{conv: {out: 2, k: 1}}, relu6], [{maxpool: {k: 3, s: 1, pad: 1}}], []]
  - add: [[{conv: {out: 10, k: 3, pad: 1}}, bn, elu], []]
  - dropout: 0.3
  - gap
  - flatten
  - fc: 5
  - log_softmax
"""
    graph = load_text(spec)
    report = verify(graph, batch=3)
    assert report.ok, render(report)


@pytest.mark.parametrize("layers", [
    "[{subsample: {k: 2}}]",  # reliability 3b: 1,920 predicted, 384 measured
    "[{conv: {out: 4, k: 3, pad: 1, padding_mode: reflect}}]",  # 3,936 predicted, 2,400 measured
    "[{conv: {out: 4, k: 3, pad: 1, padding_mode: replicate}}]",
    "[{subsample: {k: 2, pad: [0, 1, 0, 1]}}, {conv: {out: 2, k: 1}}]",
    "[{conv: {out: 4, k: 3, pad: 1}}, {subsample: {k: 2}}]",  # after a conv the input is kept: still exact
    "[{conv: {out: 4, k: 1}}, {conv: {out: 4, k: 3, pad: 1, padding_mode: reflect}}]",
], ids=["subsample_first", "reflect_first", "replicate_first", "padded_subsample_first", "subsample_after_conv",
        "reflect_after_conv"])
def test_saved_bytes_when_the_image_needs_no_gradient(layers: str) -> None:
    """Issue 15, defect 3b: a layer that reads the image keeps nothing for the image's gradient."""
    report = verify(load_text(f"input: 3x9x9\nlayers: {layers}\n"), batch=2)
    assert report.ok, render(report)


def _broken_model(graph: Graph) -> Any:
    """A model that does not match its spec: conv2 has one more output channel."""
    model = build_model(graph)
    mods = node_modules(model, graph)
    old = mods["conv2"]
    assert isinstance(old, torch.nn.Conv2d)
    setattr(model, "conv2", torch.nn.Conv2d(old.in_channels, old.out_channels + 1, 3))  # noqa: B010
    return model


def test_disagreement_is_marked_and_fails() -> None:
    graph = load_text("input: 1x10x10\nlayers: [{conv: {out: 2, k: 3}}, relu, {conv: {out: 2, k: 3}}]")
    report = verify(graph, model=_broken_model(graph))
    assert not report.ok
    assert "conv2: params" in report.failures()
    assert "✗" in render(report)


def test_cli_verify_ok_and_json() -> None:
    runner = CliRunner()
    result = runner.invoke(verify_command, ["lenet5"])
    assert result.exit_code == 0, result.output
    assert "✓ all checks agree" in result.output
    result = runner.invoke(verify_command, ["lenet5", "--format", "json", "--no-rf", "--set", "num_classes=7"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] is True and data["schema_version"] == 1
    assert next(row for row in data["layers"] if row["name"] == "fc2")["shape"]["torch"] == "7"


def test_cli_verify_input_override_and_bad_spec() -> None:
    runner = CliRunner()
    result = runner.invoke(verify_command, ["resnet20", "--input", "3x16x16", "--no-fvcore"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(verify_command, ["no_such_net"])
    assert isinstance(result.exception, SpecError)


def test_cli_verify_exits_nonzero_on_disagreement(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import archcalc.backends.torch.verify as verify_module

    real = verify_module.verify

    def broken(source: Any, **kwargs: object) -> object:
        graph: Graph = getattr(source, "graph", source)  # the CLI passes its Analysis
        return real(source, model=_broken_model(graph), **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(verify_module, "verify", broken)
    spec = "input: 1x10x10\nlayers: [{conv: {out: 2, k: 3}}, relu, {conv: {out: 2, k: 3}}]\n"
    path = tmp_path / "net.yaml"
    path.write_text(spec)
    result = CliRunner().invoke(verify_command, [str(path)])
    assert isinstance(result.exception, CheckFailed)
    assert result.exception.exit_code == 1
    assert "✗" in result.output


def test_help_of_verify_and_export() -> None:
    from archcalc.cli.export import export_command

    for command in (verify_command, export_command):
        result = CliRunner().invoke(command, ["--help"])
        assert result.exit_code == 0 and "--format" in result.output


def test_through_the_cli_group(cli_main: Any) -> None:
    code, out, err = cli_main("verify", "lenet5", "--no-rf", "--no-fvcore")
    assert code == 0, err
    assert "✓ all checks agree" in out
    code, out, err = cli_main("verify", "lenet9")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err


def test_verify_table_fits_100_columns_and_says_each_note_once() -> None:
    # the review: rows up to 220 characters, misaligned sub-columns, 23 repeated padding notes
    result = CliRunner().invoke(verify_command, ["resnet18", "--format", "text"])
    assert result.exit_code == 0, result.output
    table = result.output.split("\n\n")[0].splitlines()
    assert max(len(line) for line in table[1:]) <= 100, max(table, key=len)
    padding = [line for line in result.output.splitlines() if "every unit sees padding" in line]
    assert len(padding) == 1 and "layers:" in padding[0]
    header = table[1]
    rows = [line for line in table[3:] if line.startswith("layer1.block1.residual.conv")]
    # columns line up: each row's Params value ends where the header's Params column ends
    end = header.index("Params") + len("Params")
    assert all(row[:end].endswith("✓") for row in rows)


@pytest.mark.parametrize("fmt", ["csv", "markdown"])
def test_verify_formats(fmt: str) -> None:
    result = CliRunner().invoke(verify_command, ["lenet5", "--no-rf", "--format", fmt])
    assert result.exit_code == 0, result.output
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.output)))
        assert rows[0]["name"] == "conv1" and rows[0]["params"] == "156" and rows[0]["params_torch"] == "156"
    else:
        assert "| conv1" in result.output and "---:|" in result.output
