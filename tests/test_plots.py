"""Pictures: every zoo spec renders headlessly to a valid image, and what is drawn is the calculator's data."""

from __future__ import annotations

import struct
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable
from functools import cache
from importlib.util import find_spec
from pathlib import Path

import pytest

from archcalc.analysis import Analysis, analyze
from archcalc.errors import OptionError
from archcalc.plots import charts, diagram
from archcalc.report import build_report
from archcalc.spec import load, load_text, zoo
from tests.conftest import run_cli

ZOO = zoo.names()
#: Variants whose bars are drawn through the family's first variant: the same charts at other widths and depths
DRAWN_THROUGH = ("shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0", "densenet161", "densenet169",
                 "densenet201", "resnext101_32x8d", "wide_resnet101_2")
needs_mpl = pytest.mark.skipif(find_spec("matplotlib") is None, reason="matplotlib (archcalc[plot]) not installed")


@cache
def analysis(name: str) -> Analysis:
    return analyze(load(name))


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG signature and IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


def svg_size(path: Path) -> tuple[float, float]:
    """Width and height of a well-formed SVG document, checked against its viewBox."""
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    w = float(root.attrib["width"].removesuffix("pt"))
    h = float(root.attrib["height"].removesuffix("pt"))
    box = [float(v) for v in root.attrib["viewBox"].split()]
    assert len(box) == 4 and box[2] > 0 and box[3] > 0
    return w, h


# ---- charts ---------------------------------------------------------------------------------------

def check_bar_data(a: Analysis, data: charts.BarData) -> None:
    """The bars are the Report's rows at the chart's depth, in order, and add up to the totals."""
    report = build_report(a, depth=data.depth)
    rows = {r.name: r for r in report.rows}
    for i, row_name in enumerate(data.names):
        row = rows[row_name]
        assert (data.params[i], data.macs[i], data.memory_bytes[i], data.activations[i]) == (
            row.params, row.macs, row.memory_bytes, row.activations)
    # the rows left out carry nothing, so the bars add up to the totals
    assert sum(data.params) == report.totals["params"]
    assert sum(data.macs) == report.totals["macs"]
    assert sum(data.activations) == report.totals["activations"]
    assert sum(data.memory_bytes) == report.totals["activation_bytes"]
    drawn = set(data.names)
    assert data.names == [r.name for r in report.rows if r.name in drawn]  # layers in order


@pytest.mark.parametrize("name", ZOO)
def test_bar_data_of_every_zoo_spec_is_the_calculators(name: str) -> None:
    a = analysis(name)
    data = charts.bar_data(a)
    assert 1 <= len(data.names) <= charts.MAX_BARS or data.depth == 0
    check_bar_data(a, data)


@needs_mpl
@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in ZOO if n not in DRAWN_THROUGH])
def test_bars_render_every_zoo_spec(name: str, tmp_path: Path) -> None:
    """About a second of matplotlib per spec: marked slow (deselect with -m 'not slow'). A family's larger
    variants are drawn through its first (their bar data are checked above, without drawing)."""
    out = tmp_path / f"{name}.png"
    data = charts.plot_bars(analysis(name), out)
    w, h = png_size(out)
    assert 800 <= w <= 3100 and 800 <= h <= 1800, (w, h)
    check_bar_data(analysis(name), data)


@needs_mpl
def test_vgg16_chart_shows_the_seeds_lesson(tmp_path: Path) -> None:
    """CS231n: most memory in the early convolutions, most parameters in the late fully connected layers."""
    data = charts.plot_bars(analysis("vgg16"), tmp_path / "vgg16.svg")
    svg_size(tmp_path / "vgg16.svg")
    by_mem = sorted(range(len(data.names)), key=lambda i: -data.memory_bytes[i])
    assert data.names[by_mem[0]] in ("conv1_1", "conv1_2")
    assert data.memory_bytes[by_mem[0]] == 224 * 224 * 64 * 4  # CS231n: CONV3-64 memory 224*224*64
    assert data.names[max(range(len(data.names)), key=lambda i: data.params[i])] == "fc6"
    assert data.params[data.names.index("fc6")] == 7 * 7 * 512 * 4096 + 4096  # CS231n: FC 7*7*512*4096
    fc = sum(p for p, t in zip(data.params, data.types, strict=True) if t == "fc")
    assert fc > 0.85 * sum(data.params)
    assert data.depth is None and "relu1_1" not in data.names  # in-place ReLUs draw nothing


@needs_mpl
def test_large_networks_fold_blocks_and_depth_is_honoured(tmp_path: Path) -> None:
    folded = charts.bar_data(analysis("resnet152"))
    assert folded.depth is not None and len(folded.names) <= charts.MAX_BARS
    top = charts.bar_data(analysis("resnet152"), depth=0)
    assert top.depth == 0 and "layer3" in top.names
    assert sum(top.params) == sum(folded.params) == build_report(analysis("resnet152")).totals["params"]
    charts.plot_bars(analysis("resnet152"), tmp_path / "r.png", log=True, depth=0)
    assert png_size(tmp_path / "r.png")[0] >= 800


@needs_mpl
@pytest.mark.parametrize("name", ["vgg16", "resnet50", "googlenet", "lenet5"])
def test_receptive_field_curve_is_the_calculators(name: str, tmp_path: Path) -> None:
    a = analysis(name)
    curve = charts.plot_rf(a, tmp_path / "rf.png")
    w, h = png_size(tmp_path / "rf.png")
    assert w >= 800 and 300 <= h <= 1200
    report = build_report(a)
    rows = {r.name: r for r in report.rows}
    for i, n in enumerate(curve.names):
        rf = rows[n].rf
        assert rf is not None and (curve.size_h[i], curve.size_w[i], curve.jump_h[i]) == (
            rf.size[0], rf.size[-1], rf.jump[0])
    assert curve.names[0] == "input" and curve.size_h[0] == 1
    assert curve.size_h[-1] == report.totals["rf"]["size"][0]
    assert curve.size_h == sorted(curve.size_h)  # along the main path the field only grows
    assert (curve.input_h, curve.input_w) == tuple(report.spec["input"][-2:])


def test_vgg16_receptive_field_reaches_212_before_the_fcs() -> None:
    pytest.importorskip("matplotlib")
    curve = charts.rf_data(analysis("vgg16"))
    assert curve.names[-1] == "pool5" and curve.size_h[-1] == 212 and curve.input_h == 224
    # 3×3 stride-1 convolutions grow the field by 2 × the jump (seeds 000: stacked 3×3 convs)
    i = curve.names.index("conv1_2")
    assert curve.size_h[i] == 5


@needs_mpl
def test_compare_points_are_the_totals_and_cite_top5(tmp_path: Path) -> None:
    names = ["lenet5", "alexnet", "vgg16", "resnet18"]
    points = charts.plot_compare([analysis(n) for n in names], tmp_path / "cmp.svg")
    w, h = svg_size(tmp_path / "cmp.svg")
    assert w > 500 and h > 400
    for p, n in zip(points, names, strict=True):
        t = build_report(analysis(n)).totals
        assert (p.name, p.macs, p.params, p.activation_bytes, p.depth) == (
            n, t["macs"], t["params"], t["activation_bytes"], t["depth"])
    top5 = {p.name: p.top5_error for p in points}
    assert top5["vgg16"] == 7.3 and top5["alexnet"] == 16.4  # as the specs cite (seeds 002)
    assert top5["lenet5"] is None


@needs_mpl
def test_compare_whole_zoo_renders(tmp_path: Path) -> None:
    """Every zoo spec drawn headlessly in one chart (the revolution of depth, as one picture)."""
    points = charts.plot_compare([analysis(n) for n in ZOO], tmp_path / "zoo.png")
    assert [p.name for p in points] == ZOO
    w, h = png_size(tmp_path / "zoo.png")
    assert (w, h) == (1100, 750)


@needs_mpl
def test_plot_all_combines_bars_and_rf(tmp_path: Path) -> None:
    data, curve = charts.plot_all(analysis("alexnet"), tmp_path / "all.png", log=True)
    w, h = png_size(tmp_path / "all.png")
    assert w >= 800 and h >= 1000
    assert "fc6" in data.names and curve is not None and curve.names[-1] == "pool5"


MLP = """
    name: mlp
    input: 784
    layers: [{fc: 256}, relu, {fc: 10}, softmax]
"""


@needs_mpl
def test_network_without_feature_maps(tmp_path: Path) -> None:
    a = analyze(load_text(textwrap.dedent(MLP), "mlp.yaml"))
    with pytest.raises(OptionError, match="no feature maps"):
        charts.rf_data(a)
    data, curve = charts.plot_all(a, tmp_path / "mlp.png")
    assert curve is None and data.params == [0, 784 * 256 + 256, 256 * 10 + 10, 0]  # input, fc, fc, softmax
    png_size(tmp_path / "mlp.png")
    d = diagram.layout(a)
    assert [b.label for b in _boxes(d.items)] == ["Input", "FC 256", "FC 10", "Softmax"]


def test_unknown_extension_is_one_line(tmp_path: Path) -> None:
    from archcalc.plots import output_format

    with pytest.raises(OptionError, match=r"\.png or \.svg"):
        output_format(tmp_path / "x.jpg")


def test_missing_matplotlib_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # makes the import fail
    with pytest.raises(OptionError, match=r"archcalc\[plot\]"):
        charts.plot_bars(analysis("lenet5"), tmp_path / "x.png")
    with pytest.raises(OptionError, match=r"archcalc\[plot\]"):
        diagram.write(diagram.layout(analysis("lenet5")), tmp_path / "x.png")
    diagram.write(diagram.layout(analysis("lenet5")), tmp_path / "x.svg")  # SVG needs nothing
    svg_size(tmp_path / "x.svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.svg"]  # no half-written files left


# ---- diagrams -------------------------------------------------------------------------------------

def _boxes(items: list[diagram.Item]) -> list[diagram.Box]:
    out: list[diagram.Box] = []
    for item in items:
        if isinstance(item, diagram.Box):
            out.append(item)
        elif isinstance(item, diagram.Parallel):
            for b in item.branches:
                out.extend(_boxes(b))
        else:
            out.extend(_boxes(item.items))
    return out


@pytest.mark.parametrize("name", ZOO)
def test_diagram_svg_for_every_zoo_spec(name: str, tmp_path: Path) -> None:
    a = analysis(name)
    d = diagram.layout(a)
    out = tmp_path / f"{name}.svg"
    assert diagram.write(d, out) == "svg"
    w, h = svg_size(out)
    assert (w, h) == (d.width, d.height)
    assert 300 <= w <= 2000 and 300 <= h <= 8000, (w, h)
    assert d.boxes <= diagram.MAX_BOXES or d.depth == 0
    # every weight layer is drawn exactly once when nothing is collapsed or folded
    full = diagram.structure(a, collapse=False)
    drawn = [n for box in _boxes(full) for n in box.names]
    weights = [n.name for n in a.graph.nodes if n.op in ("conv", "fc")]
    assert sorted(n for n in drawn if n in set(weights)) == sorted(weights)


@needs_mpl
@pytest.mark.parametrize("name", ["vgg16", "googlenet", "resnet50", "lenet5"])
def test_diagram_png(name: str, tmp_path: Path) -> None:
    d = diagram.layout(analysis(name))
    out = tmp_path / f"{name}.png"
    assert diagram.write(d, out) == "png"
    assert png_size(out) == (d.width, d.height)


def test_vgg16_diagram_reads_like_the_slides() -> None:
    d = diagram.layout(analysis("vgg16"))
    labels = [b.label for b in _boxes(d.items)]
    assert labels[:4] == ["Input", "3×3 conv, 64", "3×3 conv, 64", "2×2 max pool, /2"]
    assert labels[-3:] == ["FC 4096", "FC 4096", "FC 1000"]
    assert labels.count("3×3 conv, 512") == 6


SMALL_GRAPH = """
    input: 3x32x32
    layers:
      - conv: {out: 8, k: 3, pad: 1, name: stem}
      - relu
      - concat:
          - [{conv: {out: 4, k: 1, name: a}}]
          - [{conv: {out: 4, k: 1, name: b1}}, {conv: {out: 4, k: 3, pad: 1, name: b2}}]
          - [{maxpool: {k: 3, s: 1, pad: 1, name: p}}]
        name: mix
      - side: [{gap: {name: aux_gap}}, flatten, {fc: {out: 10, name: aux_fc}}]
        name: aux
      - add: [[{conv: {out: 16, k: 3, pad: 1, name: r}}], []]
        name: res
      - add: [[{conv: {out: 16, k: 3, pad: 1, name: r2}}], []]
        name: res2
      - gap
      - flatten
      - fc: {out: 10, name: head}
"""


def test_structure_recovers_branches_shortcuts_and_side_outputs() -> None:
    a = analyze(load_text(textwrap.dedent(SMALL_GRAPH), "small.yaml"))
    items = diagram.structure(a, collapse=False)
    kinds = [type(i).__name__ for i in items]
    assert kinds == ["Box", "Box", "Parallel", "Side", "Parallel", "Parallel", "Box", "Box"]
    mix = items[2]
    assert isinstance(mix, diagram.Parallel) and mix.op == "concat"
    assert [[b.names[0] for b in br if isinstance(b, diagram.Box)] for br in mix.branches] == [
        ["b1.a"], ["b2.b1", "b2.b2"], ["b3.p"]]
    side = items[3]
    assert isinstance(side, diagram.Side) and [b.label for b in _boxes(side.items)] == ["global avg pool", "FC 10"]
    res = items[4]
    assert isinstance(res, diagram.Parallel) and res.op == "add" and res.branches[1] == []  # identity arc
    # the two residual blocks are identical: collapsed they become one drawing marked ×2
    collapsed = diagram.structure(a)
    pars = [i for i in collapsed if isinstance(i, diagram.Parallel) and i.op == "add"]
    assert len(pars) == 1 and pars[0].repeat == 2
    # folding at depth 0 turns each group (here each branch) into one box
    folded = diagram.structure(a, depth=0, collapse=False)
    assert [b.names for b in _boxes(folded) if b.group][:3] == [["b1"], ["b2"], ["b3"]]
    assert [b.layers for b in _boxes(folded) if b.group][:3] == [1, 2, 1]
    svg = diagram.to_svg(diagram.layout(a))
    assert svg.count("<circle") == 1 and "side output" in svg


def test_show_all_draws_activations() -> None:
    a = analysis("lenet5")
    plain = [b.label for b in _boxes(diagram.layout(a).items)]
    every = [b.label for b in _boxes(diagram.layout(a, show_all=True).items)]
    assert "relu" not in plain and "relu" in every and len(every) == len(a.graph.nodes)


def test_deep_resnets_stay_readable() -> None:
    d = diagram.layout(analysis("resnet152"))
    assert d.height < 3000 and d.boxes <= diagram.MAX_BOXES
    reps = [i.repeat for i in d.items if isinstance(i, diagram.Parallel)]
    assert 35 in reps  # conv4_x: 36 bottlenecks, the first one projecting
    folded = diagram.layout(analysis("resnet152"), depth=1)
    labels = [b.label for b in _boxes(folded.items)]
    assert "layer3.block2…block36: bottleneck ×35" in labels


# ---- CLI ------------------------------------------------------------------------------------------

InvokeMain = Callable[..., tuple[int, str, str]]


@needs_mpl
def test_cli_plot_writes_png_and_svg(tmp_path: Path) -> None:
    out = tmp_path / "v.png"
    result = run_cli("plot", "vgg16", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "fc6" in result.output and "conv1_1" in result.output
    assert png_size(out)[0] > 500
    out = tmp_path / "rf.svg"
    result = run_cli("plot", "lenet5", "--kind", "rf", "-o", str(out), "--input", "1x64x64")
    assert result.exit_code == 0, result.output
    svg_size(out)
    out = tmp_path / "all.png"
    assert run_cli("plot", "lenet5", "--kind", "all", "--log", "-o", str(out)).exit_code == 0
    assert run_cli("plot", "alexnet", "--depth", "1", "-o", str(tmp_path / "d.png")).exit_code == 0
    result = run_cli("plot", "resnet50", "--depth", "1", "--dpi", "200", "-o", str(tmp_path / "r.png"))
    assert result.exit_code == 0 and "1 level of nesting" in result.output  # one bar per stage, as summary
    width = struct.unpack(">I", (tmp_path / "r.png").read_bytes()[16:20])[0]
    plain = run_cli("plot", "resnet50", "--depth", "1", "-o", str(tmp_path / "r100.png"))
    assert plain.exit_code == 0
    assert width == 2 * struct.unpack(">I", (tmp_path / "r100.png").read_bytes()[16:20])[0]  # --dpi 200


@needs_mpl
def test_cli_plot_compare(tmp_path: Path) -> None:
    out = tmp_path / "c.svg"
    result = run_cli("plot", "--compare", "lenet5", "alexnet", "vgg16", "-o", str(out),
                     "--set", "num_classes=10")
    assert result.exit_code == 0, result.output
    assert "3 networks" in result.output
    svg_size(out)


def test_cli_plot_usage_errors(cli_main: InvokeMain, tmp_path: Path) -> None:
    code, _, err = cli_main("plot", "vgg16", "alexnet", "-o", str(tmp_path / "x.png"))
    assert code == 2 and "--compare" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli_main("plot", "vgg16", "-o", str(tmp_path / "x.jpg"))
    assert code == 2 and ".png or .svg" in err
    code, _, err = cli_main("plot")
    assert code == 2 and "SPEC" in err


def test_cli_diagram(cli_main: InvokeMain, tmp_path: Path) -> None:
    out = tmp_path / "r.svg"
    result = run_cli("diagram", "resnet18", "-o", str(out))
    assert result.exit_code == 0, result.output
    svg_size(out)
    result = run_cli("diagram", "googlenet", "--set", "aux=true", "-o", "-")
    assert result.exit_code == 0 and result.output.startswith("<svg") and "side output" in result.output
    result = run_cli("diagram", "resnet50", "--depth", "2", "--no-collapse", "--all-layers",
                     "-o", str(tmp_path / "r50.svg"))
    assert result.exit_code == 0 and "2 levels of nesting shown" in result.output
    code, _, err = cli_main("diagram", "vgg16", "-o", str(tmp_path / "missing" / "x.svg"))
    assert code == 2 and "does not exist" in err


def test_diagram_names_stages_and_modules_and_explains_its_lines(tmp_path: Path) -> None:
    result = run_cli("diagram", "resnet50", "-o", "-")
    svg = result.output
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        assert f">{stage}</text>" in svg
    assert "identity shortcut" in svg and "shortcut with layers (projection)" in svg
    svg = run_cli("diagram", "googlenet", "-o", "-").output
    for module in ("inception_3a", "inception_4e", "inception_5b"):
        assert f">{module}</text>" in svg


@pytest.mark.parametrize("command", ["plot", "diagram"])
def test_help(command: str) -> None:
    result = run_cli(command, "--help")
    assert result.exit_code == 0 and "--output" in result.output and "--set" in result.output


def test_diagram_labels_read_the_resolved_stride() -> None:
    """A pool's stride defaults to its kernel: ``maxpool: {k: 2}`` is drawn '/2' like ``{k: 2, s: 2}``.

    The diagram once re-derived the default as 1 and drew the first as "2×2 max pool" (architecture
    review, appendix B.1).
    """
    spec = """
    input: 3x32x32
    layers:
      - conv: {out: 8, k: 3, pad: 1}
      - maxpool: {k: 2}
      - maxpool: {k: 2, s: 2}
      - avgpool: {k: 3, s: 1, pad: 1}
    """
    a = analyze(load_text(textwrap.dedent(spec), "pools.yaml"))
    labels = [b.label for b in _boxes(diagram.structure(a, collapse=False))]
    assert labels == ["Input", "3×3 conv, 8", "2×2 max pool, /2", "2×2 max pool, /2", "3×3 avg pool"]
    assert "2×2 max pool, /2" in diagram.to_svg(diagram.layout(a))


@needs_mpl
def test_zoo_scatter_labels_never_overlap(tmp_path: Path) -> None:
    # the review: "zfnet · top-5 11.7%" drawn over "vgg13_bn", far from zfnet's own point
    points = charts.plot_compare([analysis(n) for n in zoo.names()], tmp_path / "zoo.png")
    boxes = [p.label_box for p in points if p.label_box is not None]
    assert len(boxes) >= len(points) * 2 // 3
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)


def test_tick_labels_say_the_tick_value() -> None:
    assert [charts.tick_text(v) for v in (1.25e9, 1.75e9, 2e9, 5e8)] == ["1.25G", "1.75G", "2G", "500M"]


@pytest.mark.parametrize("log", [False, True])
def test_many_bars_are_one_collection_with_the_same_heights(log: bool) -> None:
    """Issue 15, defect 11: a flat 100k-layer plot ran past 180 s (one Rectangle per bar); past
    BARS_AS_ONE bars a panel is one PolyCollection whose bars have the data's heights."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = charts.BARS_AS_ONE + 100
    heights = [float(i % 7 + 1) * 1000 for i in range(n)]
    fig, ax = plt.subplots()
    try:
        if log:
            ax.set_yscale("log")
        charts._bars(ax, list(range(n)), heights, ["#000000"] * n, log)
        assert not ax.patches and len(ax.collections) == 1
        tops = [max(y for _, y in path.vertices) for path in ax.collections[0].get_paths()]
        assert tops == heights
        assert ax.get_ylim()[1] >= max(heights) and ax.get_xlim()[1] >= n - 1
    finally:
        plt.close(fig)


def test_a_flat_spec_of_thousands_of_layers_plots(tmp_path: Path) -> None:
    spec = tmp_path / "flat.yaml"
    spec.write_text("input: 3x8x8\nlayers:\n- repeat: 3000\n  body: [relu]\n")
    result = run_cli("plot", str(spec), "-o", str(tmp_path / "flat.png"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "flat.png").read_bytes()[:4] == b"\x89PNG"
