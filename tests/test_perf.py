"""The performance work's behaviour (issue 16): the same JSON document compact or indented, the `list`
cache (hit, edited spec, corrupt file, unwritable folder), and the report's JSON copy being independent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archcalc.analysis import analyze
from archcalc.report import build_report
from archcalc.report.render import render_json
from archcalc.spec import load


@pytest.fixture(scope="module")
def resnet18_report():  # type: ignore[no-untyped-def]
    return build_report(analyze(load("resnet18")))


def test_compact_and_indented_json_are_the_same_document(resnet18_report) -> None:  # type: ignore[no-untyped-def]
    compact, indented = render_json(resnet18_report), render_json(resnet18_report, indent=2)
    # compact: exactly Python's own compact encoding of the same data, on one line
    assert compact == json.dumps(json.loads(compact), separators=(",", ":"), ensure_ascii=False) + "\n"
    assert indented.startswith('{\n  "schema_version": 1,')
    assert json.loads(compact) == json.loads(indented) == json.loads(json.dumps(resnet18_report.to_dict()))
    # key order too: readers that stream the document see the same sequence of fields
    assert list(json.loads(compact)) == list(resnet18_report.to_dict())


def test_json_spans_row_chunks(resnet18_report) -> None:  # type: ignore[no-untyped-def]
    from archcalc.report.render import iter_json

    whole = json.loads("".join(iter_json(resnet18_report, rows_per_chunk=7)))
    assert whole == json.loads(render_json(resnet18_report)) and len(whole["rows"]) == len(resnet18_report.rows)


def test_json_in_chunks_is_byte_for_byte_one_encoding_of_the_document(resnet18_report) -> None:  # type: ignore[no-untyped-def]
    from archcalc.report.render import iter_json

    for per_chunk in (1, 7, 1000):
        text = "".join(iter_json(resnet18_report, rows_per_chunk=per_chunk))
        assert text == json.dumps(resnet18_report.to_dict(), separators=(",", ":"), ensure_ascii=False) + "\n"


def test_a_row_as_json_data_is_its_fields_in_order(resnet18_report) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import asdict

    from archcalc.report.model import row_dict

    for row in resnet18_report.rows:
        assert list(row_dict(row).items()) == list(asdict(row).items())


def test_to_dict_is_a_copy(resnet18_report) -> None:  # type: ignore[no-untyped-def]
    data = resnet18_report.to_dict()
    data["totals"]["params"] = -1
    data["spec"]["input"].append(99)
    data["rows"][0]["shape"].append(99)
    again = resnet18_report.to_dict()
    assert again["totals"]["params"] == 11_689_512  # He et al. 2016 / torchvision resnet18: 11,689,512
    assert 99 not in again["spec"]["input"] and 99 not in again["rows"][0]["shape"]


def _cache_file(tmp: Path) -> Path:
    return tmp / "archcalc" / "list.json"


def test_list_cache_hit_and_invalidation(cli_main, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    from archcalc.cli import zoo_list

    calls: list[str] = []
    real = zoo_list._summarise
    monkeypatch.setattr(zoo_list, "_summarise", lambda name: calls.append(name) or real(name))
    code, first, _ = cli_main("list", "vgg", "--format", "json")
    assert code == 0 and len(calls) == len(json.loads(first)["specs"]) and _cache_file(tmp_path).is_file()
    calls.clear()
    code, second, _ = cli_main("list", "vgg", "--format", "json")
    assert code == 0 and calls == [] and second == first  # every row from the cache, the same output

    # a corrupt cache is ignored (and rewritten)
    _cache_file(tmp_path).write_text("{not json", encoding="utf-8")
    code, third, _ = cli_main("list", "vgg", "--format", "json")
    assert code == 0 and third == first and len(calls) == len(json.loads(first)["specs"])
    assert json.loads(_cache_file(tmp_path).read_text(encoding="utf-8"))["format"] == 1

    # a cached row of the wrong shape is computed again
    doc = json.loads(_cache_file(tmp_path).read_text(encoding="utf-8"))
    key = next(iter(doc["entries"]))
    doc["entries"][key] = {"params": "many"}
    _cache_file(tmp_path).write_text(json.dumps(doc), encoding="utf-8")
    calls.clear()
    code, fourth, _ = cli_main("list", "vgg", "--format", "json")
    assert code == 0 and fourth == first and len(calls) == 1


def test_list_cache_follows_the_file_content(cli_main, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from archcalc.spec import zoo

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    specs = tmp_path / "specs"
    specs.mkdir()
    spec = specs / "tiny.yaml"
    spec.write_text("input: 3x8x8\nlayers:\n  - conv: {out: 4, k: 3}\n", encoding="utf-8")
    monkeypatch.setattr(zoo, "zoo_dir", lambda: specs)
    zoo.index.cache_clear()
    try:
        out = json.loads(cli_main("list", "--format", "json")[1])["specs"]
        assert out[0]["params"] == 3 * 4 * 9 + 4  # a 3×3 conv 3→4 with bias
        spec.write_text("input: 3x8x8\nlayers:\n  - conv: {out: 8, k: 3}\n", encoding="utf-8")
        out = json.loads(cli_main("list", "--format", "json")[1])["specs"]
        assert out[0]["params"] == 3 * 8 * 9 + 8
    finally:
        zoo.index.cache_clear()


def test_list_with_an_unwritable_cache(cli_main, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # its 'archcalc' folder cannot be made, even by root
    code, out, err = cli_main("list", "vgg1", "--format", "csv")
    assert code == 0 and out.startswith("name,") and "vgg16" in out and err == ""


def test_list_with_the_cache_off(cli_main, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("ARCHCALC_NO_CACHE", "1")
    assert cli_main("list", "vgg16", "--format", "csv")[0] == 0
    assert not _cache_file(tmp_path).exists()


@pytest.mark.parametrize("name, depth", [("fcn_resnet50", None), ("unet", None), ("googlenet", None), ("resnet18", 1),
                                         ("lenet5", None)])
def test_rows_written_straight_are_the_encoders_text(name: str, depth: int | None) -> None:
    # fcn_resnet50 has fields behind upsampling with fractions (floats in JSON): those rows go through the encoder
    from archcalc.report.json_rows import row_json
    from archcalc.report.model import row_dict
    from archcalc.report.render import dumps_json

    report = build_report(analyze(load(name)), depth=depth)
    written = [row_json(r) for r in report.rows]
    for row, text in zip(report.rows, written, strict=True):
        assert text is None or text == dumps_json(row_dict(row)), row.name
    assert sum(t is not None for t in written) > len(written) // 2  # the straight way is the common one
    if name == "fcn_resnet50":
        assert any(t is None for t in written)


def test_a_row_of_other_values_goes_through_the_encoder(resnet18_report) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from archcalc.report.json_rows import row_json
    from archcalc.report.model import row_dict

    row = resnet18_report.rows[1]
    assert row_json(row) is not None
    for changes in ({"params": 1.5}, {"name": None}, {"trainable": 1}, {"shape": [3, 2.0]}, {"location": 7}):
        assert row_json(replace(row, **changes)) is None, changes
    special = replace(row, name='a"b\\c\n×', rf_note="é", location=None)
    assert row_json(special) == json.dumps(row_dict(special),
                                           separators=(",", ":"), ensure_ascii=False)
