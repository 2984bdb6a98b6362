"""The performance work's behaviour (issue 16): the same JSON document compact or indented, the `list`
cache (hit, edited spec, corrupt file, unwritable folder) and its seed, and the report's JSON copy being
independent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archcalc.analysis import analyze
from archcalc.report import build_report
from archcalc.report.render import iter_json, render_json
from archcalc.spec import load, zoo


def _zoo_names() -> list[str]:
    return zoo.names()


@given(st.text(max_size=12) | st.from_regex(r"[A-Za-z0-9_.\-]{1,12}", fullmatch=True))
def test_a_name_of_letters_and_digits_needs_no_pattern(label: str) -> None:
    """The expander's short way for layer names (archcalc.spec.expand._full): a name of ASCII letters and
    digits alone is one the pattern accepts, so skipping the pattern for it changes nothing."""
    from archcalc.spec.expand import _LAYER_NAME_RE

    if label.isascii() and label.isalnum():
        assert _LAYER_NAME_RE.fullmatch(label)


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
    from archcalc.report.model import RFData, Row, row_dict

    def declared(value: object) -> object:  # a row or field as its declared fields, in declaration order
        if isinstance(value, (Row, RFData)):
            return {name: declared(getattr(value, name)) for name in type(value).__annotations__}
        return value

    assert list(Row.__annotations__)[:3] == ["name", "type", "family"]
    for row in resnet18_report.rows:
        assert list(row_dict(row).items()) == list(declared(row).items())  # type: ignore[attr-defined]


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


@pytest.fixture(autouse=True)
def _no_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's cache alone, whether or not `make install` wrote a seed into this checkout (the seed's
    tests below point the listing at a seed of their own)."""
    from archcalc.cli import zoo_list

    monkeypatch.setattr(zoo_list, "SEED", str(tmp_path / "no-seed.json"))


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The zoo specs the listing analyses from now on (rather than reading a cache or a seed)."""
    from archcalc.cli import zoo_list

    calls: list[str] = []
    real = zoo_list._summarise
    monkeypatch.setattr(zoo_list, "_summarise", lambda name: calls.append(name) or real(name))
    return calls


def test_the_seed_serves_a_first_listing(cli_main, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from archcalc.cli import zoo_list

    seed = tmp_path / "listing.json"
    monkeypatch.setenv("ARCHCALC_NO_CACHE", "1")
    expected = cli_main("list", "--format", "json")[1]  # every spec analysed, nothing kept
    monkeypatch.delenv("ARCHCALC_NO_CACHE")
    from archcalc.spec import zoo

    assert zoo_list.write_seed(str(seed)) == len(zoo.names())
    monkeypatch.setattr(zoo_list, "SEED", str(seed))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    calls = _counting(monkeypatch)
    code, first, _ = cli_main("list", "--format", "json")
    assert code == 0 and calls == [] and first == expected
    # the rows it served are now in the user's cache: a second listing needs no seed
    seed.unlink()
    code, second, _ = cli_main("list", "--format", "json")
    assert code == 0 and calls == [] and second == expected
    assert len(json.loads(_cache_file(tmp_path / "empty").read_text(encoding="utf-8"))["entries"]) == len(zoo.names())


def test_a_seed_made_by_other_code_is_ignored(cli_main, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from archcalc import cache
    from archcalc.cli import zoo_list

    seed = tmp_path / "listing.json"
    zoo_list.write_seed(str(seed))
    doc = json.loads(seed.read_text(encoding="utf-8"))
    for row in doc["entries"].values():
        row["params"] = 7  # what another archcalc might have said: never shown by this one
    seed.write_text(json.dumps(doc), encoding="utf-8")
    monkeypatch.setattr(zoo_list, "SEED", str(seed))
    monkeypatch.setattr(cache, "source_digest", lambda: "edited")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty"))
    calls = _counting(monkeypatch)
    code, out, _ = cli_main("list", "vgg16", "--format", "json")
    specs = json.loads(out)["specs"]
    assert code == 0 and sorted(calls) == [row["name"] for row in specs] and "vgg16" in calls
    assert specs[0]["params"] == 138_357_544  # Simonyan & Zisserman 2015, torchvision vgg16

    # the same file under this code's digest would be read: the test above is the digest's doing
    monkeypatch.undo()
    monkeypatch.setattr(zoo_list, "SEED", str(seed))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-too"))
    assert json.loads(cli_main("list", "vgg16", "--format", "json")[1])["specs"][0]["params"] == 7


def test_the_seed_is_off_with_the_cache(cli_main, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from archcalc.cli import zoo_list

    seed = tmp_path / "listing.json"
    zoo_list.write_seed(str(seed))
    monkeypatch.setattr(zoo_list, "SEED", str(seed))
    monkeypatch.setenv("ARCHCALC_NO_CACHE", "1")
    calls = _counting(monkeypatch)
    code, out, _ = cli_main("list", "vgg16", "--format", "json")
    assert code == 0 and sorted(calls) == [row["name"] for row in json.loads(out)["specs"]] and "vgg16" in calls


def test_the_source_digest_follows_every_byte(tmp_path: Path) -> None:
    from archcalc.cache import sources_digest

    (tmp_path / "layers").mkdir()
    (tmp_path / "layers" / "conv.py").write_text("K = 3\n", encoding="utf-8")
    (tmp_path / "top.py").write_text("", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not code", encoding="utf-8")
    first = sources_digest(str(tmp_path), "1:0.1.0")
    assert sources_digest(str(tmp_path), "1:0.1.0") == first
    (tmp_path / "notes.txt").write_text("still not code", encoding="utf-8")
    assert sources_digest(str(tmp_path), "1:0.1.0") == first
    assert sources_digest(str(tmp_path), "1:0.2.0") != first  # another version
    (tmp_path / "layers" / "conv.py").write_text("K = 5\n", encoding="utf-8")  # same size, another byte
    edited = sources_digest(str(tmp_path), "1:0.1.0")
    assert edited != first
    (tmp_path / "layers" / "conv.py").rename(tmp_path / "layers" / "dense.py")  # the same text, moved
    assert sources_digest(str(tmp_path), "1:0.1.0") not in (first, edited)


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


@pytest.mark.parametrize("name", _zoo_names())
def test_unbuilt_rows_are_written_as_the_encoder_writes_the_document(name: str) -> None:
    """A report's rows never read are written from the analysis (json_rows.LeafWriter): the same bytes as
    Python's own encoder gives for the document, and as the rows once built give."""
    from archcalc.report.render import dumps_json

    a = analyze(load(name))
    straight = build_report(a)
    assert straight.unbuilt_rows() is not None and straight.unbuilt_groups() is not None
    text = render_json(straight)
    assert straight.unbuilt_rows() is not None and straight.unbuilt_groups() is not None  # writing built none
    built = build_report(a)
    assert built.rows and built.unbuilt_rows() is None  # read: built
    assert text == render_json(built)  # rows built, groups not
    assert isinstance(built.groups, list) and built.unbuilt_groups() is None
    assert text == render_json(built) == dumps_json(built.to_dict()) + "\n"
    assert "".join(iter_json(build_report(a), rows_per_chunk=3)) == text  # chunks split anywhere
    groups_only = build_report(a)
    assert groups_only.groups is groups_only.groups and render_json(groups_only) == text  # groups made, rows not


def test_unbuilt_rows_read_set_and_compared() -> None:
    a = analyze(load("fcn_resnet50"))  # fields behind upsampling: floats, rows of the encoder's
    lazy, eager = build_report(a), build_report(a)
    rows = eager.rows
    assert lazy == eager and lazy.unbuilt_rows() is None and lazy.rows == rows and lazy.rows is not rows
    assert lazy.rows is lazy.rows  # built once
    assert lazy.rows[1].rf is not rows[1].rf and lazy.rows[1].shape is not rows[1].shape  # lists of their own

    # rows set before any read are the rows written, not the ones the analysis gives
    chosen = build_report(a)
    chosen.rows = rows[:2]
    assert chosen.unbuilt_rows() is None
    assert [r["name"] for r in json.loads(render_json(chosen))["rows"]] == [r.name for r in rows[:2]]
    changed = build_report(a)
    changed.rows[1].params = 7
    assert json.loads(render_json(changed))["rows"][1]["params"] == 7
    assert json.loads(render_json(build_report(a)))["rows"][1]["params"] == rows[1].params

    # the same for the groups: made on first read, as they were made before; set or changed, written so
    assert build_report(a).groups == eager.groups and eager.groups[0]["layers"] > 0
    regrouped = build_report(a)
    regrouped.groups = eager.groups[:1]
    assert regrouped.unbuilt_groups() is None and len(json.loads(render_json(regrouped))["groups"]) == 1
    edited = build_report(a)
    edited.groups[0]["macs"] = -1
    assert json.loads(render_json(edited))["groups"][0]["macs"] == -1


def test_a_row_of_other_values_goes_through_the_encoder(resnet18_report) -> None:  # type: ignore[no-untyped-def]
    from archcalc.report.json_rows import row_json
    from archcalc.report.model import row_dict

    row = resnet18_report.rows[1]
    assert row_json(row) is not None
    for changes in ({"params": 1.5}, {"name": None}, {"trainable": 1}, {"shape": [3, 2.0]}, {"location": 7}):
        assert row_json(row.replace(**changes)) is None, changes
    special = row.replace(name='a"b\\c\n×', rf_note="é", location=None)
    assert row_json(special) == json.dumps(row_dict(special),
                                           separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("name", ["googlenet", "resnet18", "fcn_resnet50", "unet"])
def test_groups_written_straight_are_the_encoders_text(name: str) -> None:
    from archcalc.report.json_rows import group_json
    from archcalc.report.render import dumps_json

    report = build_report(analyze(load(name)))
    memo: dict[tuple[object, ...], str] = {}
    written = [group_json(g, memo) for g in report.groups]
    for g, text in zip(report.groups, written, strict=True):
        assert text is None or text == dumps_json(g), g["path"]
    assert sum(t is not None for t in written) > len(written) // 2


def test_a_group_of_other_values_goes_through_the_encoder(resnet18_report) -> None:  # type: ignore[no-untyped-def]
    from archcalc.report.json_rows import group_json

    memo: dict[tuple[object, ...], str] = {}
    g = next(g for g in resnet18_report.groups if g["rf"] is not None)
    assert group_json(g, memo) is not None
    odd: list[dict[str, object]] = [
        {**g, "layers": True}, {**g, "params": 1.0}, {**g, "shape": tuple(g["shape"])}, {**g, "shape": [True]},
        {k: v for k, v in g.items() if k != "rf"}, {"kind": g["kind"], **g}, {**g, "rf": {}},
        {**g, "rf": {**g["rf"], "size": [1.5, 2]}}, {**g, "rf": {**g["rf"], "aligned": 1}}, {**g, "extra": 1},
    ]
    for other in odd:  # after the plain group filled the memo: equal values of other kinds never reuse it
        assert group_json(other, memo) is None, other


def test_the_row_memo_never_mixes_kinds(resnet18_report) -> None:  # type: ignore[no-untyped-def]
    from archcalc.report.json_rows import row_json

    memo: dict[tuple[object, ...], str] = {}
    row = resnet18_report.rows[1].replace(depth=1, biases=0)
    assert row_json(row, memo) is not None and memo
    # each equal, as a key, to the plain row's value: the memo must not hand back the plain row's text
    f = row.rf
    assert f is not None
    for changes in ({"depth": True}, {"biases": False}, {"depth": 1.0}, {"trainable": int(row.trainable)},
                    {"shape": [float(v) for v in row.shape]},
                    {"rf": f.replace(size=[float(v) for v in f.size])}, {"rf": f.replace(aligned=int(f.aligned))},
                    {"rf": f.replace(start=[float(v) for v in f.start])}):
        assert row_json(row.replace(**changes), memo) is None, changes


def test_group_output_is_its_last_row_when_its_rows_interleave() -> None:
    from archcalc.report.model import Row, group_subtotals

    def row(name: str, c: int) -> Row:
        return Row(name, "conv", "conv", name.count("."), [c, 4, 4], 1, 1, 0, True, 2, 3, 7, 4, 5, 20, None, None,
                   None)

    # "a" resumes after its branch "a.b": its output is a.z's, though the parent "a.b" was seen last
    rows = [row("a.x", 1), row("a.b.y", 2), row("a.z", 3), row("c", 9)]
    groups = group_subtotals([r.name for r in rows], rows, [r.rf for r in rows],
                             {"a": "group", "a.b": "branch", "q": "side"})
    by_path = {g["path"]: g for g in groups}
    assert [g["path"] for g in groups] == ["a", "a.b", "q"]
    assert by_path["a"]["shape"] == [3, 4, 4] and by_path["a"]["layers"] == 3 and by_path["a"]["macs"] == 6
    assert by_path["a.b"]["shape"] == [2, 4, 4] and by_path["a.b"]["layers"] == 1
    assert by_path["q"] == {"path": "q", "kind": "side", "layers": 0, "params": 0, "macs": 0, "ops": 0,
                            "activations": 0, "shape": [], "rf": None}


@pytest.mark.parametrize("name", ["resnet1202", "googlenet", "fcn_resnet50", "densenet121"])
def test_totals_over_cases_are_the_sums_over_nodes(name: str) -> None:
    a = analyze(load(name))
    t = a.totals
    rs = list(a.results.values())
    assert sum(n for _, n in a.cases) == len(rs) and len(a.cases) < len(rs)
    assert t.params == sum(r.params.total for r in rs)
    assert t.trainable_params == sum(r.params.total for r in rs if r.params.trainable)
    assert (t.weights, t.biases, t.buffers) == (sum(r.params.weights for r in rs), sum(r.params.biases for r in rs),
                                                sum(r.params.buffers for r in rs))
    assert (t.macs, t.ops, t.bwd_ops) == (sum(r.cost.macs for r in rs), sum(r.cost.ops for r in rs),
                                          sum(r.cost.bwd_ops for r in rs))
    assert t.bwd_macs == sum(r.bwd_macs for r in rs)
    assert t.activation_elems == sum(r.alloc_elems for r in rs)
    assert t.partial == tuple(f"{r.name}: {r.cost.partial}" for r in rs if r.cost.partial)


@pytest.mark.parametrize("name", ["resnet1202", "googlenet", "densenet121", "mobilenet_v3_small", "unet"])
def test_saved_bytes_are_the_saved_tensors_bytes(name: str) -> None:
    for a in (analyze(load(name)), analyze(load(name), dtype="bf16")):
        saved = a.saved
        for batch in (0, 1, 7):
            assert a.saved_bytes(batch) == sum(t.nbytes(batch) for t in saved)
            assert a.training_memory(batch).activations == a.saved_bytes(batch)
        assert a.saved_bytes(1) > 0


def test_the_cells_memo_gives_each_row_its_own_cells(resnet18_report) -> None:  # type: ignore[no-untyped-def]
    from archcalc.report.render import _cells

    memo: dict[tuple[object, ...], tuple[str, ...]] = {}
    row = resnet18_report.rows[1].replace(macs=1, params=1)
    for r in [row, *resnet18_report.rows, row.replace(name="x.y", depth=1), row.replace(macs=True),
              row.replace(params=True), row.replace(shape=[1.0, 2, 2]), row.replace(trainable=False)]:
        assert _cells(r, False, memo) == _cells(r), r
    assert memo


def test_aligned_text_pads_as_ljust_and_rjust() -> None:
    from archcalc.report.table import aligned

    rows = [["a", "12", "×—é", ""], ["long name", "1", "", "x"], ["", "123456", "7", "yy "]]
    for right in (set(), {1}, {0, 1, 2, 3}):
        widths = [max(len(r[i]) for r in [["h", "n", "m", "z"], *rows]) for i in range(4)]
        expect = ["  ".join(c.rjust(w) if i in right else c.ljust(w)
                            for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
                  for r in [["h", "n", "m", "z"], ["-" * w for w in widths], *rows]]
        expect[1] = "  ".join("-" * w for w in widths)
        assert aligned(rows, ["h", "n", "m", "z"], right) == "\n".join(expect)
    with pytest.raises(ValueError):  # a row longer than the first, as zip(strict=True) refused it
        aligned([["a", "b"], ["c", "d", "e"]], None, set())
    with pytest.raises(IndexError):  # shorter
        aligned([["a", "b"], ["c"]], None, set())


def test_building_and_writing_a_report_leave_the_collector_as_they_found_it() -> None:
    import gc

    from archcalc.report.render import render_json

    a = analyze(load("lenet5"))
    was = gc.isenabled()
    try:
        for state in (True, False):
            (gc.enable if state else gc.disable)()
            render_json(build_report(a))
            assert gc.isenabled() is state
    finally:
        (gc.enable if was else gc.disable)()


def test_a_warm_call_leaves_no_cycles_and_the_callers_young_cycles_are_collected() -> None:
    """The pause promotes what its body kept to the oldest generation without a walk (archcalc.gc_pause):
    that is sound only if the body leaves no cyclic garbage of its own (the expression evaluator's nested
    functions once did, 44 objects a slow evaluation), and the caller's young objects must be examined as
    before, not promoted unexamined with ours."""
    import gc
    import weakref

    from archcalc.report.render import render_json

    class Cyclic:
        me: object

    assert gc.isenabled()
    render_json(build_report(analyze(load("resnet1202"))))  # warm: every module imported
    gc.collect()
    try:
        gc.disable()
        render_json(build_report(analyze(load("resnet1202", {"n": 3}))))  # 18 evaluations on the slow way
        assert gc.collect() == 0  # nothing unreachable: every object was freed by reference counting
    finally:
        gc.enable()
    junk = Cyclic()
    junk.me = junk
    dead = weakref.ref(junk)
    del junk
    load("lenet5")
    assert dead() is None  # collected when the pause began, as the next young collection would have
    frozen = gc.get_freeze_count()
    gc.freeze()
    try:
        held = gc.get_freeze_count()
        load("lenet5")
        assert gc.get_freeze_count() == held  # a caller's frozen objects stay frozen
    finally:
        gc.unfreeze()
    assert frozen == 0


def _plan_by_reader_lists(graph, records):  # type: ignore[no-untyped-def]
    """plan_inplace as it was first written (each node's list of readers): the reference for the test below."""
    from archcalc.analysis.inplace import SHARING, saved_as_run
    from archcalc.layers import Aliasing, SavedKind

    users = graph.consumers()
    for out in graph.outputs:
        users[out] = [*users[out], "<output>"]
    nodes = graph.by_name
    shares: dict[str, bool] = {}
    plan: dict[str, int | None] = {}

    def saves(name: str, kind: SavedKind) -> bool:
        return any(s.kind is kind for s in saved_as_run(records[name], plan[name]))

    def writable(name: str, reader: str) -> bool:
        current, nxt = name, reader
        while True:
            if not nodes[current].inputs or users[current] != [nxt] or saves(current, SavedKind.OUTPUT):
                return False
            if not shares.get(current, False):
                return True
            if saves(current, SavedKind.INPUT):
                return False
            current, nxt = nodes[current].inputs[0], current

    for node in graph.nodes:
        rec = records[node.name]
        choice = None
        if rec.aliasing is Aliasing.OVERWRITES_INPUT and writable(node.inputs[0], node.name):
            choice = 0
        elif (rec.aliasing is Aliasing.ACCUMULATES and len(node.inputs) > 1
              and len(set(node.inputs)) == len(node.inputs)):
            choice = next((i for i, x in enumerate(node.inputs) if writable(x, node.name)), None)
        plan[node.name] = choice
        shares[node.name] = ((choice is not None and rec.aliasing is Aliasing.OVERWRITES_INPUT)
                             or rec.aliasing in SHARING)
    return plan


def test_the_in_place_plan_is_the_reader_lists_plan() -> None:
    from archcalc.analysis.inplace import plan_inplace
    from archcalc.spec import zoo

    planned = 0
    for name in zoo.index():
        a = analyze(load(name))
        records = {n: r.rec for n, r in a.results.items()}
        plan = dict(zip(records, plan_inplace(a.graph, list(records.values())), strict=True))
        assert plan == _plan_by_reader_lists(a.graph, records), name
        planned += sum(c is not None for c in plan.values())
    assert planned > 1000  # in-place ReLUs and residual adds across the zoo


def test_csv_rows_are_the_records(resnet18_report) -> None:  # type: ignore[no-untyped-def]
    import csv
    import io

    from archcalc.report.render import render_csv

    text = render_csv(resnet18_report)
    expect = io.StringIO()
    writer = csv.writer(expect, lineterminator="\n")
    writer.writerow(list(resnet18_report.records()[0]))
    for rec in resnet18_report.records():
        writer.writerow(["" if v is None else v for v in rec.values()])
    assert text == expect.getvalue() and text.count("\n") == len(resnet18_report.rows) + 1


def test_the_peak_is_the_three_pass_liveness_walks_peak() -> None:
    from archcalc import layers
    from archcalc.analysis.memory import peak_inference_elems, storage_map
    from archcalc.spec import zoo

    def reference(results, graph):  # type: ignore[no-untyped-def]
        storage = storage_map(results, training=False)
        pending: dict[str, int] = {}
        size = {name: layers.numel(r.shape) for name, r in results.items() if storage[name] == name}
        for r in results.values():
            for i in r.node.inputs:
                pending[storage[i]] = pending.get(storage[i], 0) + 1
        for out in graph.outputs:
            pending[storage[out]] = pending.get(storage[out], 0) + 1
        live: dict[str, int] = {}
        total = peak = 0
        at = ""
        for name, r in results.items():
            if name in size:
                live[name] = size[name]
                total += size[name]
            if total > peak or not at:
                peak, at = total, name
            for i in r.node.inputs:
                pending[storage[i]] -= 1
                if pending[storage[i]] == 0 and storage[i] in live:
                    total -= live.pop(storage[i])
        return peak, at

    for name in zoo.index():
        a = analyze(load(name))
        assert peak_inference_elems(a.results, a.graph) == reference(a.results, a.graph), name


def test_the_saved_tensors_are_the_storage_map_walks() -> None:
    from archcalc import layers
    from archcalc.analysis.memory import saved_tensors, storage_map
    from archcalc.layers import SavedKind
    from archcalc.spec import zoo

    def reference(results, itemsize):  # type: ignore[no-untyped-def]
        storage = storage_map(results, training=True)
        seen: dict[str, tuple[str, int, int, bool]] = {}

        def grad(name: str) -> bool:
            r = results[name]
            return r.needs_input_grad or bool(r.params.total and r.params.trainable)

        for name, res in results.items():
            if not grad(name):
                continue
            inputs = res.node.inputs
            for s in res.saved:
                if s.needed_if and not any(grad(inputs[j]) for j in s.needed_if):
                    continue
                elems = s.elems
                if s.kind is SavedKind.INPUT and s.channels_last and not results[inputs[s.index]].channels_last:
                    key = f"{name}:input{s.index}_copy"
                elif s.kind in (SavedKind.INPUT, SavedKind.OUTPUT):
                    key = storage[inputs[s.index] if s.kind is SavedKind.INPUT else name]
                    elems = layers.numel(results[key].shape)
                else:
                    key = f"{name}:{s.label}"
                size = s.itemsize if s.itemsize is not None else (4 if s.fp32 else itemsize)
                seen.setdefault(key, (key, elems, size, s.per_sample))
        return list(seen.values())

    for name in zoo.index():
        a = analyze(load(name))
        for itemsize in (4, 2):
            got = [(t.key, t.elems, t.itemsize, t.per_sample) for t in saved_tensors(a.results, a.graph, itemsize)]
            assert got == reference(a.results, itemsize), name


def test_a_command_called_in_process_leaves_the_collector_on() -> None:
    """Tests and notebooks call main(): the command's pause ends with it (only run() keeps it to the exit)."""
    import gc

    from archcalc.cli.main import main

    assert gc.isenabled()
    main(["summary", "lenet5", "--format", "csv"])
    assert gc.isenabled()


_EXIT_PROBE = """
import gc, sys
if sys.argv[1] == "torch":  # as if a command had loaded torch (the probe need not import it)
    sys.modules["torch"] = type(sys)("torch")
from archcalc.cli.main import run
sys.argv[1:] = sys.argv[2:]
try:
    run()
finally:
    print(gc.isenabled(), gc.get_freeze_count() > 0, file=sys.stderr)
"""


@pytest.mark.parametrize(("torch", "args", "code", "state"), [
    ("", ["summary", "lenet5", "--format", "csv"], 0, "False True"),  # off to the exit, everything frozen
    ("", ["summary", "no_such_net"], 2, "False True"),  # an error ends it the same way, with its exit code
    ("", ["schema"], 0, "True True"),  # a command without a pause: the collector as it was
    ("torch", ["summary", "lenet5", "--format", "csv"], 0, "False False"),  # torch loaded: the usual exit
])
def test_the_program_exits_without_a_last_collection(torch: str, args: list[str], code: int, state: str) -> None:
    import os
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _EXIT_PROBE, torch or "-", *args], capture_output=True,
                          text=True, check=False, env={**os.environ, "ARCHCALC_NO_CACHE": "1"})
    assert done.returncode == code, done.stderr
    assert done.stderr.strip().splitlines()[-1] == state
    if code == 0:
        assert done.stdout == subprocess.run([sys.executable, "-m", "archcalc", *args], capture_output=True,
                                             text=True, check=True).stdout
