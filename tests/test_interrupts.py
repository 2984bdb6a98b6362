"""Ctrl-C during ``import torch`` is not lost (issue 15, defect 12): torch's import swallows a
KeyboardInterrupt raised inside numpy's import and carries on, so 2 of 12 early Ctrl-Cs were ignored and
training ran to the end. The module below swallows one the same way."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from archcalc.cli.options import import_interruptibly

SWALLOWS = """
import os, signal, time
try:
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(1000):  # the handler runs between bytecodes, inside this try
        time.sleep(0.001)
except KeyboardInterrupt:
    pass  # what torch does with an interrupted optional import
"""


def test_a_swallowed_ctrl_c_during_an_import_is_raised_again(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "swallows_ctrl_c.py").write_text(SWALLOWS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "swallows_ctrl_c", raising=False)
    with pytest.raises(KeyboardInterrupt):
        import_interruptibly("swallows_ctrl_c")


def test_an_import_without_ctrl_c_is_quiet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "quiet_module.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "quiet_module", raising=False)
    import_interruptibly("quiet_module")
    assert sys.modules["quiet_module"].X == 1
