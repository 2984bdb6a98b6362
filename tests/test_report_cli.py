"""``archcalc report`` without a browser: the file it writes, its data, its errors (the page: test_report_page)."""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from archcalc.report import SCHEMA_VERSION
from archcalc.report.html import fill, rf_path, script_json
from tests.conftest import analyse_text


def _json_script(page: str, ident: str) -> Any:
    found = re.findall(rf'<script type="application/json" id="{ident}">(.*?)</script>', page, re.S)
    assert len(found) == 1, f"expected one <script id={ident}>, found {len(found)}"
    return json.loads(found[0])


def tiny_png() -> bytes:
    """A 2×2 RGB PNG, written by hand (signature, IHDR, IDAT, IEND)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_page_embeds_the_json_report_once(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "vgg16.html"
    code, printed, err = cli_main("report", "vgg16", "-o", str(out))
    assert code == 0, err
    assert printed.startswith(f"wrote {out}:")
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    embedded = _json_script(page, "report")
    code, summary, _ = cli_main("summary", "vgg16", "--format", "json")
    assert embedded == json.loads(summary)  # the same report `summary --format json` prints
    assert embedded["schema_version"] == SCHEMA_VERSION
    assert page.count('"schema_version"') == 1
    extra = _json_script(page, "page-data")
    assert [f["label"] for f in extra["figures"]][:1] == ["params"]  # vgg16.yaml's published: entries
    assert extra["rf_path"][0] == "input" and extra["rf_path"][-1] == "pool5"


def test_page_needs_no_network(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "g.html"
    assert cli_main("report", "googlenet", "-o", str(out))[0] == 0
    page = out.read_text(encoding="utf-8")
    page = page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # a namespace name, never fetched
    assert not re.search(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//|@import|<link\b|<iframe\b", page, re.I)
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert all("src=" not in s for s in scripts)


def test_image_is_embedded_as_a_data_uri(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    picture = tmp_path / "cat.png"
    picture.write_bytes(tiny_png())
    out = tmp_path / "lenet.html"
    code, _, err = cli_main("report", "lenet5", "--image", str(picture), "-o", str(out))
    assert code == 0, err
    image = _json_script(out.read_text(encoding="utf-8"), "page-data")["image"]
    assert image.startswith("data:image/png;base64,")


def test_overrides_reach_the_page(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, page, err = cli_main("report", "vgg16", "--input", "3x32x32", "--set", "num_classes=10", "--batch", "8",
                               "--dtype", "bf16", "-o", "-")
    assert code == 0, err
    report = _json_script(page, "report")
    assert report["spec"]["input"] == [3, 32, 32] and report["batch"] == 8 and report["dtype"] == "bf16"
    assert report["rows"][-1]["shape"] == [10]


def test_groups_describe_the_tree(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, page, _ = cli_main("report", "resnet50", "-o", "-")
    assert code == 0
    report = _json_script(page, "report")
    kinds = {g["path"]: g["kind"] for g in report["groups"]}
    assert kinds["layer1"] == "block:stage" and kinds["layer1.block1"] == "block:bottleneck"
    assert kinds["layer1.block1.shortcut"] == "branch"
    for row in report["rows"]:  # every row nested in a group names it as its prefix
        if "." in row["name"]:
            assert row["name"].rsplit(".", 1)[0] in kinds


def test_compare_writes_one_page(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "x.html"
    code, printed, err = cli_main("report", "--compare", "alexnet", "vgg16", "resnet18", "-o", str(out))
    assert code == 0, err
    assert printed.startswith(f"wrote {out}: 3 networks")
    reports = _json_script(out.read_text(encoding="utf-8"), "reports")
    assert [r["spec"]["name"] for r in reports] == ["alexnet", "vgg16", "resnet18"]
    assert all("rows" not in r and r["schema_version"] == SCHEMA_VERSION for r in reports)
    assert reports[1]["totals"]["params"] == 138_357_544


@pytest.mark.parametrize(("args", "message"), [
    (["vgg16", "-o", "vgg16.png"], "should end in .html"),
    (["vgg16", "resnet18"], "give one SPEC (got 2), or --compare"),
    (["--compare", "vgg16"], "--compare needs at least two SPECs"),
    (["vgg16", "--image", "no/such/picture.png"], "cannot read --image"),
    (["vgg16", "-o", "no/such/folder/x.html"], "folder 'no/such/folder' does not exist"),
    (["vgg17"], "unknown zoo spec 'vgg17'"),
])
def test_errors_are_one_line(cli_main, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli_main("report", *args)
    assert code == 2
    assert message in err and err.count("\n") == 1, err
    assert out == ""


def test_a_file_that_is_not_a_picture(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    code, _, err = cli_main("report", "vgg16", "--image", str(text), "-o", str(tmp_path / "v.html"))
    assert code == 2 and "is not a PNG, JPEG, GIF, BMP or WebP picture" in err
    assert not list(tmp_path.glob("*.html"))


def test_write_is_atomic(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "page.html"
    out.write_text("old")
    assert cli_main("report", "lenet5", "-o", str(out))[0] == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]  # no temporary file left behind


def test_help_has_an_example(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli_main("report", "--help")
    assert code == 0
    assert "archcalc report vgg16 -o vgg16.html" in out and "--compare" in out and "--image" in out
    code, out, _ = cli_main("--help")
    assert "report" in out


def test_script_json_cannot_close_its_script() -> None:
    data = {"name": "</script><!-- <script>", "amp": "a & b", "sep": "\u2028\u2029"}
    text = script_json(data)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == data


def test_fill_reads_each_slot_once() -> None:
    assert fill("<{{a}}|{{b}}>", {"a": "{{b}}", "b": "x"}) == "<{{b}}|x>"


def test_rf_path_follows_the_widest_branch() -> None:
    a = analyse_text("""
        input: 3x32x32
        layers:
          - conv: {out: 4, k: 3, pad: 1, name: stem}
          - concat:
              - [{conv: {out: 4, k: 1, name: narrow}}]
              - [{conv: {out: 4, k: 5, pad: 2, name: wide}}]
            name: cat
        """)
    assert rf_path(a, "cat") == ["input", "stem", "b2.wide", "cat"]  # branches are groups b1, b2
    assert rf_path(a, None) == []
