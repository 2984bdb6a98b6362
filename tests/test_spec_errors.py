"""Bad input: one line 'file:line:col: what is wrong', exit code 2, never a traceback."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from archcalc.errors import SpecError
from tests.conftest import analyse_text

LINE = re.compile(r"^[^\n]+\.yaml:\d+:\d+: [^\n]+$")


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


CASES = [
    ("unknown layer type", """
        input: 3x32x32
        layers:
          - conv: {out: 8, k: 3}
          - maxpul: {k: 2}
     """, 5, "unknown layer type or block 'maxpul'", "did you mean maxpool?"),
    ("input as a layer (issue 15, defect 14: 'did you mean input?')", """
        input: 3x32x32
        layers: [input]
     """, 3, "unknown layer type or block 'input'", "the network's input is the top-level 'input:'"),
    ("unknown attribute", """
        input: 3x32x32
        layers:
          - conv: {out: 8, kernal: 3}
     """, 4, "unknown attribute 'kernal'", "did you mean kernel?"),
    ("wrong type", """
        input: 3x32x32
        layers:
          - conv: {out: eight, k: 3}
     """, 4, "'conv' attribute 'out' must be an integer", None),
    ("channel mismatch at add", """
        input: 3x32x32
        layers:
          - conv: {out: 8, k: 3, pad: 1}
          - add:
              - [{conv: {out: 16, k: 3, pad: 1}}]
              - []
     """, 5, "channel mismatch at add: 16×32×32 + 8×32×32", "projection shortcut"),
    ("spatial mismatch at concat", """
        input: 3x32x32
        layers:
          - concat:
              - [{conv: {out: 8, k: 3}}]
              - [{conv: {out: 8, k: 1}}]
     """, 4, "concat of branches with different spatial sizes", None),
    ("collapse", """
        input: 3x8x8
        layers:
          - conv: {out: 8, k: 5}
          - conv: {out: 8, k: 5}
     """, 5, "computed output size would be 0×0 (zero or negative): input 4×4, kernel 5×5", None),
    ("undefined variable", """
        input: 3x32x32
        vars: {width: 8}
        layers:
          - conv: {out: $widht, k: 3}
     """, 5, "undefined variable 'widht'", "did you mean width?"),
    ("undefined block", """
        input: 3x32x32
        blocks:
          stage: {args: [w], body: [{conv: {out: $w, k: 3}}]}
        layers:
          - stgae: [8]
     """, 6, "unknown layer type or block 'stgae'", "did you mean stage?"),
    ("block cycle", """
        input: 3x32x32
        blocks:
          a: {body: [b]}
          b: {body: [a]}
        layers: [a]
     """, 5, "block cycle: a → b → a", None),
    ("fc on a map", """
        input: 3x32x32
        layers:
          - fc: 10
     """, 4, "'fc' needs a vector but gets a 3×32×32 map", "add 'flatten' before it"),
    ("duplicate name", """
        input: 3x32x32
        layers:
          - conv: {out: 8, k: 3, name: c}
          - conv: {out: 8, k: 3, name: c}
     """, 5, "duplicate layer name 'c' (first at line 4)", None),
    ("unknown top-level key", """
        input: 3x32x32
        layer: []
     """, 3, "unknown top-level key 'layer'", "did you mean layers?"),
    ("groups mismatch", """
        input: 3x32x32
        layers:
          - conv: {out: 8, k: 3, groups: 2}
     """, 4, "input channels 3 are not divisible by groups 2", None),
    ("invalid yaml", """
        input: 3x32x32
        layers: [conv: {out: 8
     """, 4, "invalid YAML", None),
    ("mul of incompatible shapes", """
        input: 3x16x16
        layers:
          - conv: {out: 8, k: 3, pad: 1}
          - mul: [[gap, {conv: {out: 4, k: 1}}], []]
     """, 5, "mul of incompatible shapes: 4×1×1 × 8×16×16", "each dimension must match or be 1"),
    ("upsample with neither scale nor size", """
        input: 3x16x16
        layers:
          - upsample: {mode: bilinear}
     """, 4, "'upsample' needs exactly one of 'scale' and 'size'", "e.g. {scale: 2}"),
    ("split parts do not sum to the channels", """
        input: 3x16x16
        layers:
          - conv: {out: 8, k: 1}
          - concat: [[], [relu]]
            split: [4, 3]
     """, 6, "split parts 4 + 3 = 7 do not sum to the input's 8 channels", None),
    ("split with a part per branch", """
        input: 3x16x16
        layers:
          - concat: [[], [relu]]
            split: 3
     """, 5, "'concat' splits its input into 3 parts but has 2 branches", "one branch per part"),
    ("crop larger than its input", """
        input: 3x16x16
        layers:
          - conv: {out: 8, k: 3}
          - crop: 15
     """, 5, "crop to 15×15 is larger than its 14×14 input", None),
    ("from an unknown layer", """
        input: 3x16x16
        layers:
          - conv: {out: 8, k: 3, name: c1}
          - conv: {out: 8, k: 3, from: c2, name: c2}
     """, 5, "from: no layer or finished group named 'c2' before this point", None),
    ("a layer from two", """
        input: 3x16x16
        layers:
          - conv: {out: 8, k: 3, name: a}
          - conv: {out: 8, k: 3, name: b}
          - {relu: {}, from: [a, b]}
     """, 6, "a layer reads one input; 'from' names 2 (a, b)", "a join reads several"),
    ("a layer nothing reads", """
        input: 3x16x16
        layers:
          - conv: {out: 8, k: 3, name: a}
          - conv: {out: 8, k: 3, name: b}
          - {conv: {out: 8, k: 3, name: c}, from: a}
     """, 5, "layer 'b' is read by no other layer and is not an output", "wire it with 'from:'"),
    ("layer name", """
        input: 3x16x16
        layers:
          - conv: {out: 8, k: 3, name: "conv 1"}
     """, 4, "invalid layer name 'conv 1': use letters, digits, _ and - (not first), with dots between nested"
        " groups", None),
    ("layer name starting with -", """
        input: 3x16x16
        layers:
          - conv: {out: 8, k: 3, name: "-conv1"}
     """, 4, "invalid layer name '-conv1'", None),
]


@pytest.mark.parametrize(("label", "text", "line", "message", "hint"), CASES, ids=[c[0] for c in CASES])
def test_bad_spec_is_one_line_with_position(cli_main, tmp_path: Path, label: str, text: str, line: int,  # type: ignore[no-untyped-def]
                                            message: str, hint: str | None) -> None:
    path = _write(tmp_path, text)
    code, out, err = cli_main("summary", path, "--format", "plain")
    assert code == 2, (out, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert LINE.match(lines[0]), lines[0]
    assert f"bad.yaml:{line}:" in lines[0], lines[0]
    assert message in lines[0]
    if hint:
        assert hint in lines[0]


def test_stride_that_does_not_fit_warns_then_errors_under_strict(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # seeds 002: output size (W − F + 2P)/S + 1 must be an integer; AlexNet on 224 does not fit
    path = _write(tmp_path, """
        input: 3x224x224
        layers:
          - conv: {out: 96, k: 11, s: 4}
    """)
    code, out, err = cli_main("summary", path, "--format", "json")
    assert code == 0
    assert "bad.yaml:4:5: warning: conv1: stride doesn't fit" in err
    assert "(224 − 11 + 0) = 213 is not divisible by stride 4" in err
    rows = json.loads(out)["rows"]
    assert rows[-1]["shape"] == [96, 54, 54]  # floored, as the frameworks do
    code, out, err = cli_main("summary", path, "--strict")
    assert code == 2 and "bad.yaml:4:5:" in err and "Traceback" not in err


def test_unknown_zoo_name(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli_main("summary", "alexnte")
    assert code == 2
    assert err.strip() == ("archcalc: unknown zoo spec 'alexnte' and no such file (did you mean alexnet?)")


def test_unknown_set_variable(cli_main) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli_main("summary", "vgg16", "--set", "num_clases=10")
    assert code == 2 and "did you mean num_classes?" in err


def test_missing_file(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli_main("summary", str(tmp_path / "nope.yaml"))
    assert code == 2 and "no such spec file" in err


# --- hostile specs: bounded work ------------------------------------------------------------------------
def test_billion_laughs_is_refused() -> None:
    text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    prev = "a"
    for i in range(1, 9):
        text += f"l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        prev = f"l{i}"
    text = "input: 3x8x8\nlayers: [relu]\nvars:\n  " + text.replace("\n", "\n  ")
    with pytest.raises(SpecError, match="too large"):
        analyse_text(text)


def test_huge_repeat_is_refused() -> None:
    with pytest.raises(SpecError, match="exceeds the limit"):
        analyse_text("""
            input: 3x8x8
            layers: [{repeat: 1000000000, body: [relu]}]
        """)


def test_nested_repeats_are_bounded() -> None:
    with pytest.raises(SpecError, match="more than"):
        analyse_text("""
            input: 3x8x8
            layers: [{repeat: 1000, body: [{repeat: 1000, body: [relu]}]}]
        """)


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(SpecError, match="deeper"):
        analyse_text("input: 3x8x8\nlayers: " + "[" * 100 + "relu" + "]" * 100)


def test_no_object_construction() -> None:
    with pytest.raises(SpecError):
        analyse_text("""
            input: !!python/object/apply:os.system ["echo hacked"]
            layers: [relu]
        """)


def test_flooring_that_drops_only_padding_is_not_a_warning(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # ResNet's 7×7/2 pad 3 on 224: (224 − 7 + 6) = 223 is odd, but the floor drops a padding column only;
    # a 1×1/2 projection on 32 skips its last pixel exactly as it skips every other one.
    path = _write(tmp_path, """
        input: 3x224x224
        layers:
          - conv: {out: 8, k: 7, s: 2, pad: 3}
          - conv: {out: 8, k: 1, s: 2}
    """)
    code, out, err = cli_main("summary", path, "--strict", "--format", "json")
    assert code == 0 and err == "" and '"params"' in out


@pytest.mark.parametrize("stride", [40, 64])
def test_a_stride_larger_than_the_remaining_extent_warns(cli_main, tmp_path: Path, stride: int) -> None:  # type: ignore[no-untyped-def]
    # 3×3 at stride 64 on 32×32: one window reads rows 0..2, the other 29 rows are never read
    path = _write(tmp_path, f"""
        input: 3x32x32
        layers:
          - conv: {{out: 16, k: 3, s: {stride}}}
    """)
    code, _, err = cli_main("summary", path, "--format", "json")
    assert code == 0
    assert "warning: conv1: stride doesn't fit" in err
    assert f"stride {stride} is larger than the 29 positions left after the first window" in err
    assert "the last 29 of 32 input rows never read" in err
    code, _, err = cli_main("summary", path, "--strict")
    assert code == 2 and "Traceback" not in err


def test_unquoted_expression_in_a_flow_mapping_gets_the_quoting_hint(cli_main, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _write(tmp_path, """
        input: 3x32x32
        vars: {w: 16}
        layers:
          - conv: {out: ${2*w}, k: 3}
    """)
    code, _, err = cli_main("summary", path)
    assert code == 2
    assert "invalid YAML" in err and len(err.strip().splitlines()) == 1
    assert 'quote ${…} inside a {…} flow mapping: out: "${2*w}"' in err


def test_a_layer_written_again_is_checked_again_by_the_type_of_each_value() -> None:
    # normalised attributes are memoised per (type, raw values): true == 1 to a dict, not to the checks
    ok = analyse_text("""
        input: 3x8x8
        layers:
          - conv: {out: 1, k: 1}
          - conv: {out: 1.0, k: 1}
    """)
    assert [r.params.total for r in ok.results.values()] == [0, 4, 2]
    with pytest.raises(SpecError, match=r"'conv' attribute 'out' must be an integer ≥ 1, got True"):
        analyse_text("""
            input: 3x8x8
            layers:
              - conv: {out: 1, k: 1}
              - conv: {out: true, k: 1}
        """)
