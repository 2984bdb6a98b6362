"""The documented Python API: docs/api.md's examples run as doctests, and what they do not cover."""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import pytest

import archcalc
from archcalc.errors import ArchcalcError

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def test_docs_api_examples_run() -> None:
    result = doctest.testfile(str(DOC), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 15
    assert result.failed == 0


def test_import_archcalc_stays_light() -> None:
    code = ("import sys, archcalc; r = archcalc.analyze('lenet5'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'rich', 'tabulate', 'matplotlib')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_path_and_text_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text("input: 1x28x28\nlayers: [{conv: {out: 4, k: 3}}, flatten, {fc: 10}]\n")
    assert archcalc.analyze(str(path)).totals["params"] == 4 * 9 + 4 + 4 * 26 * 26 * 10 + 10
    assert archcalc.analyze(path).totals["params"] == archcalc.analyze(path.read_text()).totals["params"]
    with pytest.raises(ArchcalcError, match="did you mean"):
        archcalc.analyze("vgg61")
    with pytest.raises(ArchcalcError, match="depth"):
        archcalc.analyze("vgg16", depth=0)
    with pytest.raises(AttributeError):
        archcalc.no_such_function  # noqa: B018


def test_jupyter_view_and_dataframe() -> None:
    r = archcalc.analyze("resnet18")
    html = r._repr_html_()
    assert "<table>" in html and "layer1" in html and "11,689,512" in html
    assert "<table>" in archcalc.rf("lenet5")._repr_html_()
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ArchcalcError, match="pip install pandas"):
            r.to_dataframe()
    else:
        df = r.to_dataframe()
        assert int(df["params"].sum()) == 11_689_512
