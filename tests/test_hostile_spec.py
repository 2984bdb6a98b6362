"""Hostile specs (issue 15, ../shared/reviews/reliability.md): each reproducer is bounded, located and inert.

One test per defect, each failing before its fix. The fuzz test (test_fuzz.py) runs the same seeds, and
many mutants, through the CLI under time and memory limits.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from archcalc.errors import SourceLocation, SpecError
from archcalc.spec import expand, load_text
from tests.fuzz_support import deadline, run_limited

HOSTILE = Path(__file__).parent / "hostile"
LOCATED = re.compile(r"^[^\n]*\.yaml:\d+:\d+: [^\n]+$")


def _run(cli_main, path: Path | str, *args: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code, out, err = cli_main("summary", str(path), "--format", "json", *args)
    assert "Traceback" not in err
    return code, out, err


def _located(cli_main, path: Path | str, *args: str) -> str:  # type: ignore[no-untyped-def]
    """Run ``summary`` on a spec that must fail; return its one located error line."""
    code, out, err = _run(cli_main, path, *args)
    assert code == 2, (out[:300], err[:300])
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[:1000]
    assert LOCATED.match(lines[0]), lines[0]
    return lines[0]


# ---- error lines --------------------------------------------------------------------------------------
def test_error_quoting_a_huge_value_is_one_short_line(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # R22: an attribute holding a 1 MB string used to give a 1 MB error line.
    spec = tmp_path / "long.yaml"
    spec.write_text('input: 3x8x8\nlayers: [{conv: {out: 4, k: "' + "x" * 1_000_000 + '"}}]\n')
    line = _located(cli_main, spec)
    assert len(line) < 400 + len(str(spec)), len(line)
    assert line.endswith("…")


def test_error_line_escapes_control_characters() -> None:
    err = SpecError("invalid layer name 'c1\n\x1b[31m'", SourceLocation("a.yaml", 1, 2), "hint\nmore")
    assert err.format() == r"a.yaml:1:2: invalid layer name 'c1\n\x1b[31m' (hint\nmore)"


# ---- reading the file -----------------------------------------------------------------------------------
def test_latin1_file_is_located(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "latin1.yaml"
    spec.write_bytes("name: café\ninput: 3x8x8\nlayers: [relu]\n".encode("latin-1"))
    line = _located(cli_main, spec)
    assert "latin1.yaml:1:10: spec file is not UTF-8 text: byte 0xe9" in line


def test_control_character_is_located(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "ctrl.yaml"
    spec.write_bytes(b"input: 3x8x8\nlayers: [relu, \x01relu]\n")  # libyaml said 'position 28', two lines
    assert "ctrl.yaml:2:16: control character U+0001" in _located(cli_main, spec)


@pytest.mark.parametrize("kind", ["fifo", "dev_zero", "directory"])
def test_non_regular_file_is_refused_before_reading(tmp_path: Path, kind: str) -> None:
    spec = tmp_path / "spec.yaml"
    if kind == "fifo":
        os.mkfifo(spec)  # used to block forever
    elif kind == "dev_zero":
        spec.symlink_to("/dev/zero")  # used to be read whole: MemoryError at the cap
    else:
        spec.mkdir()
    proc = run_limited("summary", str(spec), timeout=30, memory=2 << 30)
    assert proc.returncode == 2, proc.stderr[-500:]
    assert proc.stderr.strip() == f"{spec}:1:1: not a regular file (a directory, device or pipe)"


def test_oversized_file_is_refused(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "big.yaml"
    spec.write_text("input: 3x8x8\nlayers: [relu]\n" + "#" * (5 << 20) + "\n")
    assert "big.yaml:1:1: spec file is larger than 4 MiB" in _located(cli_main, spec)


# ---- YAML 1.2, tags and bounded literals ----------------------------------------------------------------
def _shapes(text: str, **overrides: object) -> list[list[int]]:
    from tests.conftest import analyse_text

    return [list(r.shape) for r in analyse_text(text, **overrides).results.values()][1:]


@pytest.mark.parametrize(("written", "channels"), [("010", 10), ("0o10", 8), ("0x10", 16), ("+12", 12),
                                                   ("1e1", 10)])
def test_integers_are_read_as_yaml_1_2(written: str, channels: int) -> None:
    # R18: YAML 1.1 read 010 as 8 channels, silently.
    assert _shapes(f"input: 3x8x8\nlayers: [{{conv: {{out: {written}, k: 1}}}}]\n") == [[channels, 8, 8]]


@pytest.mark.parametrize("written", ["1:30", "1_0", "0b11", "0x", "0o8"])
def test_yaml_1_1_integers_are_strings(written: str) -> None:
    # R18: 1:30 was 90 (base 60), 1_0 was 10, 0b11 was 3
    with pytest.raises(SpecError, match=f"'conv' attribute 'out' must be an integer ≥ 1, got '{written}'"):
        _shapes(f"input: 3x8x8\nlayers: [{{conv: {{out: {written}, k: 1}}}}]\n")


def test_yaml_1_1_booleans_are_strings() -> None:
    # R19: 'on' named a layer True and 'bias: no' was False
    from tests.conftest import analyse_text

    analysis = analyse_text("input: 3x8x8\nlayers: [{relu: {name: on}}, {relu: {name: yes}}]\n")
    assert list(analysis.results)[1:] == ["on", "yes"]
    with pytest.raises(SpecError, match="'conv' attribute 'bias' must be true or false, got 'no'"):
        analyse_text("input: 3x8x8\nlayers: [{conv: {out: 4, k: 1, bias: no}}]\n")


@pytest.mark.parametrize(("text", "where", "message"), [
    ("input: !foo 3x8x8\nlayers: [relu]\n", "1:8", "YAML tag '!foo' is not allowed in a spec"),  # R09
    ("input: 3x8x8\nlayers: !!python/object/apply:os.system [relu]\n", "2:9",  # was ignored: ran [relu]
     "YAML tag '!!python/object/apply:os.system' is not allowed"),
    ("input: 3x8x8\nvars: !!set {a, b}\nlayers: [relu]\n", "2:7", "YAML tag '!!set' is not allowed"),
    ("input: 3x8x8\nvars: {d: !!timestamp 2001-12-14}\nlayers: [relu]\n", "2:11", "'!!timestamp'"),
    ("input: 3x8x8\nvars: {d: !!int abc}\nlayers: [relu]\n", "2:11", "'abc' is not a YAML 1.2 int"),
    ("input: 3x8x8\nlayers: [{conv: {out: 1" + "0" * 400 + ", k: 1}}]\n", "2:23",  # R13: 401 digits
     "integer with 401 digits is out of range"),
    ("input: 3x8x8\nlayers: [{conv: {out: 9223372036854775808, k: 1}}]\n", "2:23",
     "integer 9223372036854775808 is out of range"),
    ("input: 3x8x8\nlayers: [{dropout: .nan}]\n", "2:20", "'.nan' is not a finite number"),
    ("input: 3x8x8\nlayers: [{dropout: 1e999}]\n", "2:20", "'1e999' is out of range"),
    ('name: "evil\\e[31mred"\ninput: 3x8x8\nlayers: [relu]\n', "1:7", "string holds control character U+001B"),
    ('input: 3x8x8\nlayers: [{relu: {name: "a\\u202eb"}}]\n', "2:24", "control character U+202E"),
], ids=["custom_tag", "python_tag_on_list", "set_tag", "timestamp", "bad_int_tag", "401_digits", "2**63",
        "nan", "1e999", "escape_in_name", "bidi_override"])
def test_hostile_yaml_is_refused_with_a_location(cli_main, tmp_path: Path, text: str, where: str,  # type: ignore[no-untyped-def]
                                                 message: str) -> None:
    spec = tmp_path / "t.yaml"
    spec.write_text(text)
    line = _located(cli_main, spec)
    assert f"t.yaml:{where}: " in line and message in line, line


@pytest.mark.parametrize(("value", "expected"), [("010", 10), ("on", "on"), ("1:30", "1:30"), ("0o10", 8),
                                                 ("[1, 2]", [1, 2]), ("a: b: c", "a: b: c"), ("", "")])
def test_set_values_are_read_as_yaml_1_2(value: str, expected: object) -> None:
    from archcalc.cli.options import parse_assignments

    assert parse_assignments((f"x={value}",)) == {"x": expected}


@pytest.mark.parametrize(("value", "message"), [
    ("1e999", "--set width: '1e999' is out of range"),
    ("1" + "0" * 5000, "--set width: integer with 5001 digits is out of range"),
    ("!!python/object/apply:os.system [x]", "--set width: YAML tag '!!python/object/apply:os.system'"),
    ("\x1b[31mred", "--set width: control character U+001B"),
])
def test_set_values_are_bounded(cli_main, value: str, message: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli_main("summary", "vgg16", "--set", f"width={value}")
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.startswith(f"archcalc: {message}") and len(err.strip().splitlines()) == 1, err


# ---- expressions: typed and bounded ---------------------------------------------------------------------
def _var(expr: str) -> object:
    from archcalc.spec import load_text

    return load_text(f"input: 3x8x8\nvars:\n  v: \"{expr}\"\nlayers: [relu]\n", "e.yaml").meta.variables["v"]


@pytest.mark.parametrize(("expr", "value"), [
    ("${2**10}", 1024), ("${7 // 2}", 3), ("${7 / 2}", 3.5), ("${-(3)}", -3), ("${round(2.5)}", 2),
    ("${round(2.345, 2)}", 2.35), ("${min(3, 4)}", 3), ("${int(3.7)}", 3), ("${'B' == 'B'}", True),
    ("${'a' < 'b'}", True), ("${1 if 'x' != 1 else 2}", 1), ("${2**62 + (2**62 - 1)}", 2**63 - 1),
    ("${not ''}", True), ("${(-2)**3}", -8), ("${2**-1}", 0.5), ("a${1}b$s", "a1bx"),
])
def test_expressions_that_stay_valid(expr: str, value: object) -> None:
    from archcalc.spec import load_text

    text = f"input: 3x8x8\nvars:\n  s: x\n  v: \"{expr}\"\nlayers: [relu]\n"
    assert load_text(text, "e.yaml").meta.variables["v"] == value


@pytest.mark.parametrize(("expr", "message"), [
    ("${-'a'}", "a sign needs numbers, got a string"),  # R01: TypeError
    ("${'a' < 1}", "cannot order a string and a number"),  # R02: TypeError
    ("${(-1)**0.5 < 1}", "the result is not a real number"),  # R02b: complex
    ("${2.0**64 * 2.0**64}", "the result is out of range"),  # R03 (1e300**2): OverflowError
    ("${1e300**2}", "number 1e+300 is out of range"),
    ("${int(1e308*10)}", "number 1e+308 is out of range"),  # R04: int(inf)
    ("${(10**18)**3}", "the result is out of range"),  # R07: a big int as a float attribute
    ("${(10**6)**4}", "the result is out of range"),
    ("${2**63}", "the result is out of range"),
    ("${9223372036854775807 + 1}", "the result is out of range"),
    ("${True + 1}", "arithmetic needs numbers, got a boolean"),
    ("${min(1)}", "min() takes 2 to 64 arguments"),
    ("${int('12')}", "int() needs numbers, got a string"),
    ("${round(5, 31)}", "round()'s digits must be an integer between -30 and 30"),
    ("${1j}", "unsupported expression"),
    ("${" + "-" * 200 + "1}", "expression nests deeper than 50 levels"),  # RecursionError
    ("${" + "1+" * 600 + "1}", "expression is longer than 1000 characters"),
])
def test_expression_errors_are_located(expr: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        _var(expr)
    assert message in info.value.message
    assert info.value.location == SourceLocation("e.yaml", 3, 6)


def test_interpolation_is_bounded() -> None:
    doubling = "".join(f"  s{i + 1}: '$s{i}$s{i}'\n" for i in range(10))  # 16 · 2¹⁰ characters
    from archcalc.spec import load_text

    with pytest.raises(SpecError, match="interpolated text is longer than 10000 characters") as info:
        load_text(f"input: 3x8x8\nvars:\n  s0: abcdefghijklmnop\n{doubling}layers: [relu]\n", "e.yaml")
    assert info.value.location is not None and info.value.location.line == 13


BOMBS = {  # each hung, ran past 30 s or reached the memory cap (report, defects 1c, 1d and 5)
    "bigint_name": "layers: [{relu: {name: 'r${((10**64)**64)**64}'}}]",  # R05: 4,300 digits
    "bigint_chain": "vars: {a: '${(10**64)**64}', b: '${a**64}', c: '${b**64}', d: '${c**64}'}\nlayers: [relu]",
    "square_chain": "vars:\n  m0: '${10**9}'\n" + "".join(f"  m{i + 1}: '${{m{i}*m{i}}}'\n" for i in range(40))
                    + "layers: [relu]",
    "str_mul": "layers: [{conv: {out: 4, k: \"${'a'*10**9}\"}}]",
    "percent": "layers: [{conv: {out: 4, k: \"${'%999999999d' % 1}\"}}]",
    "big_var_json": "vars: {s: '${\"ab\"*10**4}', t: '${s*10**4}'}\nlayers: [relu]",
    "round_digits": "vars: {v: '${round(5, -(2**62))}'}\nlayers: [relu]",
    "interpolation": "vars:\n  s0: abcdefghijklmnop\n" + "".join(f"  s{i + 1}: '$s{i}$s{i}'\n" for i in range(40))
                     + "layers: [relu]",
}


@pytest.mark.parametrize("name", BOMBS)
def test_expression_bombs_are_refused_quickly(tmp_path: Path, name: str) -> None:
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(f"input: 3x8x8\n{BOMBS[name]}\n")
    proc = run_limited("summary", str(spec), "--format", "json", timeout=30, memory=1 << 30)
    assert proc.returncode == 2, proc.stderr[-300:]
    assert LOCATED.match(proc.stderr.strip()), proc.stderr[-300:]


# ---- expansion: a work budget, names, top-level types ---------------------------------------------------
def _fan_out(depth: int, inline: bool) -> str:
    flag = "inline: true, " if inline else ""
    calls = "".join(f"  b{i}: {{{flag}body: [b{i + 1}, b{i + 1}]}}\n" for i in range(depth))
    return f"input: 3x8x8\nblocks:\n{calls}  b{depth}: {{{flag}body: []}}\nlayers: [b0]\n"


EMITTING_NOTHING = {  # report, defect 1a and 1b: 2³¹ block calls or 10¹⁰ iterations that emit no layer
    "fan_out": _fan_out(30, inline=False),
    "fan_out_inline": _fan_out(30, inline=True),
    "empty_repeats": "input: 3x8x8\nlayers:\n- repeat: 100000\n  body:\n  - repeat: 100000\n    body: []\n",
    "dropped_repeats": "input: 3x8x8\nlayers:\n- repeat: 100000\n  body:\n"
                       "  - repeat: 100000\n    body: [{relu: {when: false}}]\n",
    "false_conditions": "input: 3x8x8\nvars: {w: false}\nlayers:\n- repeat: 100000\n  body:\n"
                        "  - repeat: 100000\n    body: [{seq: [relu], when: '$w and 1 + 1 == 2'}]\n",
}


@pytest.mark.parametrize("name", EMITTING_NOTHING)
def test_work_that_emits_nothing_is_bounded(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr(expand, "MAX_WORK", 20_000)  # the same rule as at 5,000,000 steps, 250× sooner
    with deadline(20), pytest.raises(SpecError, match="spec takes more than 20,000 steps to expand") as info:
        load_text(EMITTING_NOTHING[name], "w.yaml")
    assert info.value.location is not None and info.value.location.file == "w.yaml"


def test_block_calls_with_empty_bodies_are_bounded_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expand, "MAX_GROUPS", 1000)
    with deadline(20), pytest.raises(SpecError, match="spec opens more than 1000 groups"):
        load_text(_fan_out(30, inline=False), "w.yaml")


@pytest.mark.parametrize("name", ["fan_out", "empty_repeats"])
def test_work_that_emits_nothing_is_bounded_at_the_real_limits(tmp_path: Path, name: str) -> None:
    # fan_out reached the 3 GiB cap in 14.5 s; empty_repeats was still running at 30 s (19 MB)
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(EMITTING_NOTHING[name])
    proc = run_limited("summary", str(spec), "--format", "json", timeout=120, memory=1 << 30)
    assert proc.returncode == 2, proc.stderr[-300:]
    assert LOCATED.match(proc.stderr.strip()), proc.stderr[-300:]
    assert "steps to expand" in proc.stderr or "groups (block calls" in proc.stderr


def test_zoo_specs_use_a_small_share_of_the_work_budget() -> None:
    """A spec below the layer limit must never meet the work limit: per layer, the zoo needs at most two
    thirds of what the budget allows (MAX_WORK / MAX_LAYERS = 20 steps; the most, MobileNetV3's conditional
    names and strides, is 10.05 steps a layer)."""
    from archcalc.spec import zoo
    from archcalc.spec.loader import parse_file

    for name in zoo.names():
        expander = expand.Expander(parse_file(zoo.path(name)), name)
        graph = expander.expand()
        assert expander.work <= len(graph.nodes) * expand.MAX_WORK / expand.MAX_LAYERS * 2 / 3, name


@pytest.mark.parametrize(("text", "message"), [
    ('layers: [{conv: {out: 4, k: 3, name: "c1\\n"}}, {conv: {out: 4, k: 3, name: c1}}]',  # R21
     r"invalid layer name 'c1\n'"),
    ('vars: {"w\\n": 1}\nlayers: [relu]', r"invalid variable name 'w\n'"),
    ('blocks: {"b\\n": [relu]}\nlayers: [relu]', r"invalid block name 'b\n'"),
    ('blocks: {b: {args: ["w\\n"], body: [relu]}}\nlayers: [relu]', r"invalid argument name 'w\n'"),
    ('layers: [{repeat: 2, index: "j\\n", body: [relu]}]', r"invalid repeat index name 'j\n'"),
    ("layers: [{repeat: 2, index: 5, body: [relu]}]", "invalid repeat index name 5"),
    ("recipe: [1]\nlayers: [relu]", "'recipe' must be a mapping of names to values"),  # R10: TypeError
    ("recipe: abc\nlayers: [relu]", "'recipe' must be a mapping of names to values"),
    ("published: [1]\nlayers: [relu]", "'published' must be a mapping of names to values"),  # R11
    ("layers: [{add: [{seq: [relu], when: false}, {seq: [relu], when: false}]}]",  # R15: said 'mismatch'
     "every branch of this 'add' was dropped by 'when'"),
    ("vars: {n: '3x${2**62}${2**62}x1'}\ninput: $n\nlayers: [relu]", "input must be C×H×W with sizes up to"),
])
def test_expansion_errors_are_located(cli_main, tmp_path: Path, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "x.yaml"
    spec.write_text(text if text.startswith("vars: {n:") else f"input: 3x8x8\n{text}\n")
    line = _located(cli_main, spec)
    assert message in line, line


@pytest.mark.parametrize("shape", ["3x99999999999999999999x3", "3x" + "9" * 5000 + "x3", "1x2x3x4"])
def test_input_option_is_bounded(cli_main, shape: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli_main("summary", "lenet5", "--input", shape, "--format", "json")
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.startswith("archcalc: --input must be C×H×W") and len(err) < 400, err


# ---- renderers: counts past what a float holds ----------------------------------------------------------
def test_formatting_never_overflows() -> None:
    from archcalc.report.fmt import count, human_bytes, si

    huge = 10**400  # si() divided by 1e12 as a float: OverflowError
    assert (si(huge), human_bytes(huge), count(huge)) == ("1.00e+400", "1.00e+400 B", "1.000e+400")
    assert (si(float("inf")), human_bytes(float("nan"))) == ("inf", "nan B")
    assert (si(15_470_264_320), human_bytes(60_950_432), count(138_357_544)) == ("15.47G", "60.95 MB",
                                                                                   "138,357,544")


@pytest.mark.parametrize("fmt", ["plain", "text", "markdown", "csv", "rich"])
def test_training_memory_at_the_largest_batch_renders(cli_main, fmt: str) -> None:  # type: ignore[no-untyped-def]
    # --batch 1e400 made figures past 1e308 (OverflowError in si); --batch now stops at 2⁶³ − 1, and
    # figures past 1e15 print in scientific notation
    code, out, err = cli_main("summary", "vgg16", "--batch", str(2**63 - 1), "--format", fmt)
    assert code == 0 and "Traceback" not in err, err[-300:]
    assert "e+" in out or fmt == "csv"


def test_compare_at_the_largest_batch_renders(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli_main("compare", "vgg16", "--batch", str(2**63 - 1))
    assert code == 0 and "e+" in out, err[-300:]


@pytest.mark.parametrize("budget", ["1e999", "1e999GB", "1e308TiB", "1" * 400, "1e99999999999"])
def test_memory_budget_is_bounded(cli_main, budget: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli_main("summary", "lenet5", "--memory-budget", budget)
    assert code == 2 and out == "" and "Traceback" not in err  # was OverflowError: float infinity to integer
    assert err.startswith("archcalc: memory size ") and err.strip().endswith("is larger than 8 EiB"), err


def test_plot_of_counts_past_int64(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    spec = tmp_path / "wide.yaml"
    spec.write_text(f"input: 3x8x8\nlayers: [{{conv: {{out: {2**62}, k: 3}}}}, {{conv: {{out: {2**62}, k: 3}}}}]\n")
    code, _, err = cli_main("plot", str(spec), "-o", str(tmp_path / "wide.png"))
    assert code == 0 and "Traceback" not in err, err[-300:]  # numpy: int too large to convert to C long
    assert (tmp_path / "wide.png").stat().st_size > 0


# ---- spec text is data in every renderer ----------------------------------------------------------------
MARKUP_NAMES = ["[/x]", "[link=https://evil.example]click[/link] [red]x", ":smile: [bold]", "a$\\frac{$b"]


def _named(tmp_path: Path, name: str) -> Path:
    spec = tmp_path / "named.yaml"
    spec.write_text(f"name: {name!r}\ninput: 3x8x8\nlayers: [{{conv: {{out: 4, k: 3}}}}, relu]\n".replace(
        "\\\\", "\\"))
    return spec


@pytest.mark.parametrize("name", MARKUP_NAMES)
@pytest.mark.parametrize("command", [("summary", "--format", "rich"), ("compare",), ("rf",)])
def test_names_are_not_rich_markup(cli_main, tmp_path: Path, name: str, command: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    # R14, R20: '[/x]' raised MarkupError in compare (and summary on a terminal); '[link=…]' made a link
    code, out, err = cli_main(command[0], str(_named(tmp_path, name)), *command[1:])
    assert code == 0 and "Traceback" not in err, err[-300:]
    if command[0] != "rf":
        assert name in out.replace("\n", "")
    assert "\x1b]8;" not in out and "😄" not in out


@pytest.mark.parametrize(("fmt", "title"), [
    ("markdown", "### a\\$\\\\frac\\{\\$b: input"), ("github", "### a\\$\\\\frac\\{\\$b: input"),
    ("latex", "% a\\$\\textbackslash{}frac\\{\\$b: input"), ("plain", "a$\\frac{$b: input")])
def test_names_are_escaped_in_markup_formats(cli_main, tmp_path: Path, fmt: str, title: str) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli_main("summary", str(_named(tmp_path, MARKUP_NAMES[3])), "--format", fmt)
    assert code == 0 and out.startswith(title), out[:200]


@pytest.mark.parametrize("command", [("plot",), ("plot", "--kind", "all"), ("diagram",)])
def test_names_are_not_mathtext(cli_main, tmp_path: Path, command: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")  # 'a$\frac{$b' raised ParseSyntaxException from matplotlib
    out_file = tmp_path / "picture.png"
    code, _, err = cli_main(*command, str(_named(tmp_path, MARKUP_NAMES[3])), "-o", str(out_file))
    assert code == 0 and "Traceback" not in err, err[-300:]
    assert out_file.stat().st_size > 0


# ---- receptive fields: strides multiply over depth ------------------------------------------------------
def test_receptive_field_past_float_range(cli_main) -> None:  # type: ignore[no-untyped-def]
    # found by the fuzz test's seeds: 20 strides of 2⁶² make a field of 2¹²⁴⁰ pixels; checking alignment
    # at the add divided it as a float: OverflowError in AxisRF.center
    for command in (("summary", "--format", "json"), ("summary", "--format", "text"), ("rf",), ("compare",)):
        code, _, err = cli_main(command[0], str(HOSTILE / "R25_rf_strides_overflow.yaml"), *command[1:])
        assert code == 0 and "Traceback" not in err, (command, err[-300:])


def test_receptive_field_growth_is_bounded(tmp_path: Path) -> None:
    # 20,000 strides of 2⁶²: fields of 62·i bits at layer i, 1.5 GB of integers in all (and slow); the seed
    # corpus holds the same with 1,000 layers
    spec = tmp_path / "growth.yaml"
    spec.write_text((HOSTILE / "U1h_rf_jump_growth.yaml").read_text().replace("repeat: 1000\n", "repeat: 20000\n"))
    proc = run_limited("rf", str(spec), "--format", "json", timeout=120, memory=1 << 30)
    assert proc.returncode == 0, proc.stderr[-300:]
    assert "receptive field beyond 9.2e+18 pixels" in proc.stdout


@pytest.mark.parametrize("command", ["summary", "compare"])
def test_batch_is_bounded(cli_main, command: str) -> None:  # type: ignore[no-untyped-def]
    # a 4,299-digit batch made training-memory figures past 4,300 digits: ValueError from json.dumps
    code, out, err = cli_main(command, "vgg16", "--batch", "1" + "0" * 4298, "--format", "json")
    assert code == 2 and out == "" and "Traceback" not in err, err[-300:]
    assert "--batch" in err and "9223372036854775807" in err


# ---- attributes whose cost was walked one step per unit ------------------------------------------------
def test_adaptive_pooling_to_a_huge_size_is_counted_in_closed_form(cli_main) -> None:  # type: ignore[no-untyped-def]
    # report, defect 1e: 'out: 10^12' walked 10^12 windows per axis (a MemoryError). On an axis of n pixels
    # pooled to o outputs, torch's windows [floor(i·n/o), ceil((i+1)·n/o)) sum to n + o - gcd(n, o)
    path = HOSTILE / "U1e_adaptive_pool_1e12.yaml"  # input 3×8×8
    code, out, err = cli_main("summary", str(path), "--format", "json")
    assert code == 0 and "Traceback" not in err, err[-300:]
    assert json.loads(out)["totals"]["ops"] == 3 * (8 + 10**12 - 8) ** 2
    code, out, err = cli_main("rf", str(path), "--format", "json")
    assert code == 0 and "at most 65536 windows per axis" in out, (out[-500:], err[-300:])


def test_rf_stack_sizes_are_bounded(cli_main) -> None:  # type: ignore[no-untyped-def]
    # a 5,000-digit kernel size was a ValueError from int() (integer string conversion limit)
    for stack in ("9" * 5000, "3x" + "9" * 19, "3x3/" + "9" * 400):
        code, out, err = cli_main("rf", "--stack", stack)
        assert code == 2 and out == "" and "Traceback" not in err, err[-300:]
        assert err.count("\n") == 1 and "at most 18 digits" in err and len(err) < 300, err
    code, out, _ = cli_main("rf", "--stack", "3x3/" + "9" * 18)
    assert code == 0 and out.strip() == "3"  # one 3×3 layer sees 3×3 pixels, whatever its stride


def test_report_batch_is_bounded(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli_main("report", "vgg16", "--batch", "1" + "0" * 4298, "-o", str(tmp_path / "x.html"))
    assert code == 2 and out == "" and "Traceback" not in err and "9223372036854775807" in err, err[-300:]


@pytest.mark.parametrize(("layer", "message"), [
    ("{dropout: 1.5}", "'p' must be a finite number ≥ 0 and ≤ 1, got 1.5"),  # reliability 3c: torch crashed
    ("{dropout: -1}", "'p' must be a finite number ≥ 0 and ≤ 1, got -1"),
    ("{bn: {eps: -1}}", "'eps' must be a finite number > 0, got -1"),
    ("{bn: {eps: .inf, momentum: .nan}}", "'.inf' is not a finite number"),
    ("{lrn: {alpha: .nan, beta: .inf, k: -1}}", "'.nan' is not a finite number"),
    ("{lrn: {k: -1}}", "'k' must be a finite number > 0, got -1"),  # NaN maps in torch
    ("{lrn: {alpha: -1}}", "'alpha' must be a finite number ≥ 0, got -1"),
])
def test_float_attributes_out_of_range_are_located(cli_main, tmp_path: Path, layer: str, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "f.yaml"
    path.write_text(f"input: 3x8x8\nlayers: [{layer}]\n")
    code, out, err = cli_main("summary", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"{path}:2:") and message in err, err


@pytest.mark.parametrize("layer", ["{maxpool: {k: 2, s: 9223372036854775807}}", "{avgpool: {k: 2147483648}}",
                                   "{subsample: {k: 2, s: 4611686018427387904}}"])
def test_pool_sizes_past_32_bits_are_located(cli_main, tmp_path: Path, layer: str) -> None:  # type: ignore[no-untyped-def]
    """Reliability defect 10: torch's pooling takes 32-bit sizes; a 2**63 - 1 stride crashed verify."""
    path = tmp_path / "f.yaml"
    path.write_text(f"input: 3x8x8\nlayers: [{layer}]\n")
    code, _, err = cli_main("summary", str(path))
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"{path}:2:"), err
    assert "must be at most 2147483647" in err, err
