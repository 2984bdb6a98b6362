"""``archcalc report`` opened in a real browser: Debian's Chromium, headless, offline, driven by Playwright.

Expected figures come from the papers' layouts (VGG16 configuration D, ResNet's [3, 4, 6, 3] bottlenecks,
the CIFAR ResNet's 3 × 200 basic blocks) and from receptive-field arithmetic written out here, never from
the page's own output. Where Playwright or Chromium cannot be had, these tests skip and say why; .ci/run
installs both.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archcalc.cli.main import main
from archcalc.spec import load

CHROMIUM = os.environ.get("ARCHCALC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: seconds the resnet1202 page (≈5,400 rows with its groups) may take to open, and to unfold everything
LOAD_BUDGET_S = 10.0
UNFOLD_BUDGET_S = 5.0


def write_page(folder: Path, *args: str) -> Path:
    out = folder / f"{'-'.join(a.replace('/', '_') for a in args if not a.startswith('-'))[:60]}.html"
    try:
        main(["report", *args, "-o", str(out)])
    except SystemExit as exc:
        assert not exc.code, f"archcalc report {' '.join(args)} exited {exc.code}"
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install -e '.[browser]'): the page's browser tests need it")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set ARCHCALC_CHROMIUM)")
    manager = sync_playwright().start()
    try:
        chromium = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
    except Exception as exc:  # a sandbox, a missing library: the browser cannot run here
        manager.stop()
        pytest.skip(f"Chromium at {CHROMIUM} cannot be launched here: {str(exc).splitlines()[0]}")
    yield chromium
    chromium.close()
    manager.stop()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pages")
    return {name: write_page(folder, name) for name in ("vgg16", "resnet50", "googlenet")}


class Opened:
    """One page in an offline browser context, with every request and script error it made."""

    def __init__(self, browser: Any, path: Path, timeout_ms: float = 20_000):
        self.context = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("body[data-ready=true]", state="attached", timeout=timeout_ms)

    def rows(self) -> list[str]:
        names: list[str] = self.page.eval_on_selector_all("#layers-body tr.row", "rs => rs.map(r => r.dataset.name)")
        return names

    def selected(self) -> str | None:
        name: str | None = self.page.eval_on_selector_all(
            "#layers-body tr.row.sel", "rs => rs.length ? rs[0].dataset.name : null")
        return name

    def close(self) -> None:
        assert not self.errors, self.errors
        outside = [u for u in self.requests if not u.startswith(("file:", "data:"))]
        assert not outside, f"the page asked the network for {outside}"
        self.context.close()


@pytest.fixture
def opened(browser: Any) -> Iterator[Any]:
    held: list[Opened] = []

    def open_page(path: Path, timeout_ms: float = 20_000) -> Opened:
        held.append(Opened(browser, path, timeout_ms))
        return held[-1]

    yield open_page
    for o in held:
        o.close()


# ---- independent expectations ------------------------------------------------------------------------

VGG16_STAGES = (2, 2, 3, 3, 3)  # Simonyan & Zisserman, Table 1, configuration D: 3×3 convs per stage


def vgg16_rows() -> int:
    """input + (conv, relu) per conv and a pool per stage + flatten, fc6/relu/dropout, fc7/relu/dropout, fc8."""
    return 1 + sum(2 * n + 1 for n in VGG16_STAGES) + 1 + 3 + 3 + 1


def resnet50_counts() -> tuple[int, int, int]:
    """(layers, groups, top-level rows) of He et al. Table 1's ResNet-50, as the torchvision layout names them.

    Stem: input, conv1, bn1, relu, maxpool. Each bottleneck: three conv+bn pairs with two ReLUs between
    them (8), the add and its ReLU; the first block of each stage has a projection shortcut (conv + bn).
    Tail: average pool, flatten, fc. Groups: 4 stages, 16 blocks, 16 residual branches, 4 shortcuts.
    """
    blocks = (3, 4, 6, 3)
    layers = 5 + sum(blocks) * 10 + len(blocks) * 2 + 3
    groups = len(blocks) + 2 * sum(blocks) + len(blocks)
    return layers, groups, 5 + len(blocks) + 3


def resnet1202_counts() -> tuple[int, int]:
    """(layers, groups) of He et al. §4.2's 1202-layer CIFAR ResNet: 3 stages of n = 200 basic blocks.

    Stem: input, conv1, bn1, relu. Each block: conv, bn, relu, conv, bn, add, relu (7); stages 2 and 3
    open with an option-A shortcut (one channel-padding layer). Tail: average pool, flatten, fc.
    """
    n = 200
    return 4 + 3 * n * 7 + 2 + 3, 3 + 3 * n + 3 * n + 2


def vgg16_conv5_3_field() -> tuple[int, int, int]:
    """(size, jump, start) of conv5_3 by the recurrences size += (k−1)·jump, jump *= s, start −= p·jump."""
    size, jump, start = 1, 1, 0
    for stage, convs in enumerate(VGG16_STAGES):
        for _ in range(convs):  # 3×3, stride 1, pad 1
            size, start = size + 2 * jump, start - jump
        if stage < len(VGG16_STAGES) - 1:  # 2×2 max pool, stride 2, no padding
            size, jump = size + jump, jump * 2
    return size, jump, start


def test_expectations_agree_with_the_specs() -> None:
    """The hand-derived layouts describe the zoo's specs (so a wrong count is the page's, not ours)."""
    assert vgg16_conv5_3_field() == (196, 16, -90)  # the figures
    for name, (layers, groups) in {"vgg16": (vgg16_rows(), 0), "resnet50": resnet50_counts()[:2],
                                   "resnet1202": resnet1202_counts()}.items():
        graph = load(name)
        assert (len(graph.nodes), len(graph.groups)) == (layers, groups), name


# ---- the table -----------------------------------------------------------------------------------------

def test_vgg16_table_has_every_layer(opened: Any, pages: dict[str, Path]) -> None:
    o = opened(pages["vgg16"])
    rows = o.rows()
    assert len(rows) == vgg16_rows() == 40
    assert rows[0] == "input" and rows[-1] == "fc8"
    assert o.page.text_content("#row-count") == f"{vgg16_rows()} of {vgg16_rows()} rows shown"


def test_resnet50_folds_by_default_and_unfolds(opened: Any, pages: dict[str, Path]) -> None:
    layers, groups, top = resnet50_counts()
    o = opened(pages["resnet50"])
    page = o.page
    assert len(o.rows()) == top  # folded: stem, four stages, tail
    assert page.get_attribute('tr.row[data-name="layer1"]', "aria-expanded") == "false"

    page.click('tr.row[data-name="layer1"] .toggle')  # unfold one stage: its three bottlenecks appear
    assert len(o.rows()) == top + 3
    assert page.get_attribute('tr.row[data-name="layer1"]', "aria-expanded") == "true"
    page.click('tr.row[data-name="layer1.block1"] .toggle')  # then a block: its two branches, add and relu
    assert len(o.rows()) == top + 3 + 4
    page.click('tr.row[data-name="layer1"] .toggle')  # fold the stage again
    assert len(o.rows()) == top

    page.click("#expand-all")
    rows = o.rows()
    assert len(rows) == layers + groups == 216
    assert page.text_content("#row-count") == f"{layers + groups} of {layers + groups} rows shown"
    # a group row comes before its layers, which follow in the spec's order
    assert rows.index("layer2.block1") < rows.index("layer2.block1.residual.conv1") < rows.index("layer2.block1.add")
    page.click("#collapse-all")
    assert len(o.rows()) == top


def test_group_rows_sum_their_layers(opened: Any, pages: dict[str, Path]) -> None:
    """layer1's Params cell is the sum of its layers' parameters, counted here from the bottleneck widths."""
    def conv_bn(cin: int, cout: int, k: int) -> int:
        return cin * cout * k * k + 2 * cout  # no conv bias; BN's scale and shift

    block = lambda cin: conv_bn(cin, 64, 1) + conv_bn(64, 64, 3) + conv_bn(64, 256, 1)  # noqa: E731
    layer1 = block(64) + conv_bn(64, 256, 1) + 2 * block(256)  # the first block projects 64 → 256
    o = opened(pages["resnet50"])
    cell = o.page.text_content('tr.row[data-name="layer1"] td.params')
    assert cell == f"{layer1:,}"


def test_sorting_by_params_puts_the_largest_layer_first(opened: Any, pages: dict[str, Path]) -> None:
    o = opened(pages["vgg16"])
    o.page.click('#layers-head th[data-key="params"]')
    rows = o.rows()
    assert rows[0] == "fc6"  # 7·7·512·4096 + 4096 = 102,764,544 weights and biases: VGG16's largest layer
    assert o.page.text_content('tr.row[data-name="fc6"] td.params') == f"{7 * 7 * 512 * 4096 + 4096:,}"
    o.page.click('#layers-head th[data-key="params"]')  # ascending
    assert o.rows()[-1] == "fc6"
    o.page.click('#layers-head th[data-key="params"]')  # back to the spec's order
    assert o.rows()[0] == "input"


# ---- the diagram and the table select each other --------------------------------------------------------

def test_clicking_a_box_selects_its_row(opened: Any, pages: dict[str, Path]) -> None:
    o = opened(pages["vgg16"])
    o.page.click('#diagram [data-layer="conv5_3"]')
    assert o.selected() == "conv5_3"
    assert "hl" in (o.page.get_attribute('#diagram [data-layer="conv5_3"]', "class") or "")
    o.page.click('tr.row[data-name="fc7"]')  # and a row highlights its box
    assert "hl" in (o.page.get_attribute('#diagram [data-layer="fc7"]', "class") or "")
    assert "hl" not in (o.page.get_attribute('#diagram [data-layer="conv5_3"]', "class") or "")


def test_clicking_a_box_inside_a_folded_block_unfolds_to_it(opened: Any, pages: dict[str, Path]) -> None:
    o = opened(pages["googlenet"])
    name = "inception_4a.b3x3.conv"
    assert name not in o.rows()  # folded away at first
    o.page.click(f'#diagram [data-layer="{name}"]')
    assert o.selected() == name
    for group in ("inception_4a", "inception_4a.b3x3"):
        assert o.page.get_attribute(f'tr.row[data-name="{group}"]', "aria-expanded") == "true"
    o.page.click('tr.row[data-name="inception_4a"]')  # a group row highlights every box inside it
    lit = o.page.eval_on_selector_all("#diagram .hl", "bs => bs.map(b => b.getAttribute('data-layer'))")
    assert name in lit and all(n.startswith("inception_4a.") for n in lit)


# ---- the receptive-field explorer -----------------------------------------------------------------------

def test_rf_explorer_vgg16_conv5_3(opened: Any, pages: dict[str, Path]) -> None:
    size, jump, start = vgg16_conv5_3_field()
    y, x = 3, 4
    r0, c0 = start + y * jump, start + x * jump
    o = opened(pages["vgg16"])
    o.page.select_option("#rf-layer", "conv5_3")
    o.page.fill("#rf-y", str(y))
    o.page.fill("#rf-x", str(x))
    text = o.page.text_content("#rf-text") or ""
    assert f"({size}×{size})" in text and "(196×196)" in text
    assert f"rows {r0}..{r0 + size - 1}," in text and "rows -42..153," in text
    assert f"cols {c0}..{c0 + size - 1}" in text
    # clipped to the 224×224 image; the padding share is the field minus what lies inside
    inside = (r0 + size - 1 + 1) * (c0 + size - 1 + 1)
    padding = size * size - inside
    assert f"rows 0..{r0 + size - 1}, cols 0..{c0 + size - 1};" in text
    assert f"({padding} of {size * size} positions) is padding" in text
    assert o.selected() == "conv5_3"  # picking a layer there selects its row


def test_rf_explorer_prints_what_the_rf_command_prints(opened: Any, pages: dict[str, Path],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    main(["rf", "vgg16", "--layer", "conv4_2", "--at", "5,9"])
    expected = capsys.readouterr().out.strip()
    o = opened(pages["vgg16"])
    o.page.select_option("#rf-layer", "conv4_2")
    o.page.fill("#rf-y", "5")
    o.page.fill("#rf-x", "9")
    assert (o.page.text_content("#rf-text") or "").strip() == expected


def test_clicking_the_input_picks_the_unit_seeing_it(opened: Any, pages: dict[str, Path]) -> None:
    """A click at the input's top-left corner picks unit (0, 0); at the bottom-right, the last unit (55, 55)."""
    o = opened(pages["vgg16"])
    o.page.select_option("#rf-layer", "conv3_1")  # 256×56×56, field 18 (jump 4): stays close to the image
    canvas = o.page.locator("#rf-canvas")
    box = canvas.bounding_box()
    assert box is not None
    canvas.click(position={"x": box["width"] * 0.02, "y": box["height"] * 0.02})
    assert (o.page.input_value("#rf-y"), o.page.input_value("#rf-x")) == ("0", "0")
    canvas.click(position={"x": box["width"] * 0.98, "y": box["height"] * 0.98})
    assert (o.page.input_value("#rf-y"), o.page.input_value("#rf-x")) == ("55", "55")


# ---- big networks, comparison, safety ---------------------------------------------------------------------

def test_resnet1202_opens_within_budget_and_unfolds_lazily(opened: Any, tmp_path: Path) -> None:
    layers, groups = resnet1202_counts()
    path = write_page(tmp_path, "resnet1202")
    start = time.perf_counter()
    o = opened(path, timeout_ms=LOAD_BUDGET_S * 1000)
    loaded = time.perf_counter() - start
    assert loaded < LOAD_BUDGET_S, f"resnet1202's page took {loaded:.1f} s to open"
    assert len(o.rows()) == 4 + 3 + 3  # folded: stem, three stages, tail

    start = time.perf_counter()
    o.page.click("#expand-all")
    assert o.page.text_content("#row-count") == f"{layers + groups} of {layers + groups} rows shown"
    drawn = len(o.rows())
    assert drawn < 600, f"{drawn} rows in the DOM: only those in view should be"
    o.page.eval_on_selector("#table-scroll", "s => { s.scrollTop = s.scrollHeight; }")
    o.page.wait_for_selector('tr.row[data-name="fc"]', timeout=UNFOLD_BUDGET_S * 1000)
    assert time.perf_counter() - start < UNFOLD_BUDGET_S

    box = o.page.locator('#diagram [data-layer^="layer3.block2.add"]')  # ×199 identical blocks, one drawing
    box.click()
    assert o.selected() == "layer3.block2.add"


def test_compare_page(opened: Any, tmp_path: Path) -> None:
    names = ("resnet34", "plain34", "vgg19")
    path = write_page(tmp_path, "--compare", *names)
    o = opened(path)
    heads = o.page.eval_on_selector_all("#compare thead th", "ths => ths.map(t => t.textContent)")
    assert heads[1:] == list(names)
    assert o.page.locator("#scatter circle").count() == len(names)
    cells = o.page.eval_on_selector_all("#compare tbody tr:last-child td", "ts => ts.map(t => t.textContent)")
    assert cells == ["Depth (weight layers)", "34", "34", "19"]  # the papers' names for them


def test_names_are_shown_as_text_never_run(opened: Any, tmp_path: Path) -> None:
    spec = tmp_path / "evil.yaml"
    spec.write_text('name: "x</script><script>window.pwned=1</script>"\n'
                    'description: "<img src=x onerror=\'window.pwned=2\'> & </script>"\n'
                    "input: 3x16x16\nlayers:\n  - conv: {out: 4, k: 3, name: c1}\n  - relu\n", encoding="utf-8")
    o = opened(write_page(tmp_path, str(spec)))
    assert o.page.evaluate("() => window.pwned === undefined")
    assert o.page.text_content("h1") == "x</script><script>window.pwned=1</script>"
    assert "<img src=x" in (o.page.text_content("#about") or "")
