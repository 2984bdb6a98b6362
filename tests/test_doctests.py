"""The examples in the modules' docstrings are run (they are documentation: they must stay true)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["archcalc.arith", "archcalc.report.fmt", "archcalc.analysis", "archcalc.plots.charts"]


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name: str) -> None:
    if name == "archcalc.plots.charts":
        pytest.importorskip("matplotlib")
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0
