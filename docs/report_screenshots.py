"""Regenerate docs/report-vgg16.png and docs/report-googlenet.png (the README's pictures of `archcalc report`).

Run with ``make screenshots``: it writes each page, opens it in headless Chromium (offline), clicks what
the picture shows and saves a palette PNG, small enough to keep in the repository.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

from archcalc.cli.main import main

DOCS = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def page_for(spec: str, folder: Path) -> Path:
    out = folder / f"{spec}.html"
    try:
        main(["report", spec, "-o", str(out)])
    except SystemExit as exc:
        if exc.code:
            raise
    return out


def save(png: bytes, name: str) -> None:
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=128, dither=Image.Dither.NONE)
    image.save(DOCS / name, optimize=True)
    print(f"wrote docs/{name}: {image.width}×{image.height}, {(DOCS / name).stat().st_size / 1e3:.0f} KB")


def vgg16(page: Page) -> bytes:
    """The table beside the diagram with conv5_3 selected, and the explorer on its unit (3, 4)."""
    page.click('#diagram [data-layer="conv5_3"]')
    page.select_option("#rf-layer", "conv5_3")
    page.fill("#rf-y", "3")
    page.fill("#rf-x", "4")
    page.click('tr.row[data-name="conv5_3"]')
    page.evaluate("() => window.scrollTo(0, 0)")
    bottom = page.evaluate("() => document.getElementById('rf-section').getBoundingClientRect().bottom")
    return page.screenshot(clip={"x": 0, "y": 0, "width": 1400, "height": bottom + 10}, full_page=True)


def googlenet(page: Page) -> bytes:
    """An inception module unfolded down to a branch, its boxes lit in the diagram."""
    page.click('#diagram [data-layer="inception_4a.b3x3.conv"]')
    page.click('tr.row[data-name="inception_4a"]')
    page.eval_on_selector("#table-scroll", "s => { s.scrollTop = 0; }")
    page.evaluate("() => window.scrollTo(0, 0)")
    bottom = page.evaluate("() => document.getElementById('explore').getBoundingClientRect().bottom")
    return page.screenshot(clip={"x": 0, "y": 0, "width": 1400, "height": bottom + 40}, full_page=True)


def run() -> int:
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for spec, shoot in (("vgg16", vgg16), ("googlenet", googlenet)):
            context = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(page_for(spec, Path(tmp)).as_uri())
            page.wait_for_selector("body[data-ready=true]", state="attached")
            save(shoot(page), f"report-{spec}.png")
            context.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(run())
