"""Checkpoints with wrongly typed fields (issue 15, defect 4: 37 of 69 gave tracebacks on resume): every field
a resume reads is checked when the file is read, and what torch's own state formats hold is restored under
a one-line error. The checkpoints are a real one (one epoch of the tiny digits network) with one field
changed each."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from archcalc.backends.torch import checkpoint  # noqa: E402
from tests.test_train import tiny_run  # noqa: E402


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_dir = tmp_path_factory.mktemp("run")
        tiny_run(run_dir, epochs=1).fit()
        return checkpoint.load(run_dir / "last.pt")
    finally:
        torch.set_num_threads(threads)


def _with(good: dict[str, Any], tmp_path: Path, path: tuple[str, ...], value: Any) -> Path:
    state = {k: v for k, v in good.items() if k not in ("format", "version")}
    state = torch.utils._pytree.tree_map(lambda x: x, state)  # a copy: the fixture is shared
    node = state
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    out = tmp_path / "bad.pt"
    checkpoint.save(state, out)
    return out


def test_the_real_checkpoint_passes(good: dict[str, Any]) -> None:
    assert checkpoint.structure_problem(good) is None


NAN = math.nan
BROKEN: list[tuple[tuple[str, ...], Any, str]] = [
    (("model",), {"w": 5}, "'model' is not a mapping of names to tensors"),
    (("model",), [torch.ones(1)], "'model' is not a mapping"),
    (("epoch",), "1", "'epoch' is '1', not a count"),
    (("epoch",), -1, "'epoch' is -1"),
    (("epoch",), 2**70, "not a count"),
    (("epoch",), True, "'epoch' is True"),
    (("epoch",), 1.0, "'epoch' is 1.0"),
    (("config",), [1], "'config' is not a mapping"),
    (("config",), {1: 2}, "'config' is not a mapping"),
    (("step",), None, "'step' is None"),
    (("best",), "0.9", "'best' is '0.9', not a finite number"),
    (("best",), NAN, "'best' is nan"),
    (("partial_time",), [1.0], "'partial_time'"),
    (("optimizer",), 5, "'optimizer' is 5, not a state mapping"),
    (("scheduler",), "x", "'scheduler'"),
    (("scaler",), [1], "'scaler'"),
    (("history",), {"epoch": 1}, "'history' is not a list"),
    (("history",), [5], "'history' record 0 is not an epoch record"),
    (("history", 0, "val_top1"), "x", "'history' record 0: 'val_top1'"),
    (("history", 0, "lr"), NAN, "'history' record 0: 'lr'"),
    (("history", 0, "epoch"), "1", "'history' record 0 is not an epoch record"),
    (("partial",), [1.0, 2.0], "'partial' is not the four running sums"),
    (("partial",), "x", "'partial'"),
    (("rng",), 5, "'rng' is not a mapping"),
    (("rng", "python"), [3, [1, 2], None], "'rng.python'"),
    (("rng", "numpy"), ["MT19937", torch.zeros(3), 0, 0, 0.0], "'rng.numpy'"),
    (("rng", "numpy"), ["PCG64", torch.zeros(624, dtype=torch.int64), 0, 0, 0.0], "'rng.numpy'"),
    (("rng", "torch"), torch.zeros(3), "'rng.torch'"),
    (("rng", "cuda"), [5], "'rng.cuda'"),
    (("data_stats",), {"mean": [0.1], "std": "x"}, "'data_stats'"),
    (("data_stats",), {"mean": [0.1], "std": [0.1, 0.2]}, "'data_stats'"),
    (("num_classes",), 0, "'num_classes' is 0"),
    (("num_classes",), "10", "'num_classes' is '10'"),
]


@pytest.mark.parametrize(("path", "value", "message"), BROKEN, ids=[f"{'.'.join(map(str, p))}={v!r}"[:40]
                                                                     for p, v, _ in BROKEN])
def test_a_wrongly_typed_field_is_one_line(good: dict[str, Any], tmp_path: Path, path: tuple[str, ...],
                                           value: Any, message: str) -> None:
    bad = _with(good, tmp_path, path, value)
    with pytest.raises(checkpoint.CheckpointError) as info:
        checkpoint.load(bad)
    text = info.value.format()
    assert message in text and "\n" not in text, text


@pytest.mark.parametrize(("path", "value", "message"), [
    (("optimizer", "param_groups"), 5, "optimizer state cannot be restored"),
    (("optimizer", "param_groups"), [], "optimizer state cannot be restored"),
    (("scheduler", "plateau"), {"mode": 5}, "scheduler state cannot be restored"),
    (("rng", "torch"), torch.zeros(10, dtype=torch.uint8), "random-number generator state cannot be restored"),
])
def test_torch_state_that_cannot_be_restored_is_one_line(good: dict[str, Any], tmp_path: Path,
                                                         path: tuple[str, ...], value: Any, message: str) -> None:
    state = checkpoint.load(_with(good, tmp_path, path, value))  # the structure is right: torch finds the fault
    with pytest.raises(checkpoint.CheckpointError) as info:
        tiny_run(tmp_path / "resumed", epochs=2, resume=state)
    assert message in info.value.format() and "\n" not in info.value.format()


@pytest.mark.parametrize(("key", "value", "message"), [
    ("lr", "0.1", "config 'lr' is '0.1', not a number"), ("epochs", 2.5, "config 'epochs' is 2.5, not an integer"),
    ("augment", "yes", "config 'augment' is 'yes', not true or false"), ("overrides", [1], "config 'overrides'"),
    ("input", ["3", 8], "config 'input'"), ("spec", None, "config 'spec' is None, not a string"),
    ("lr", math.inf, "config 'lr' is inf")])
def test_resume_with_a_wrongly_typed_option_is_one_line(cli_main, good: dict[str, Any], tmp_path: Path,  # type: ignore[no-untyped-def]
                                                        key: str, value: Any, message: str) -> None:
    bad = _with(good, tmp_path, ("config", key), value)
    code, out, err = cli_main("train", "--resume", str(bad))
    assert code == 2 and out == "" and "Traceback" not in err, err[-500:]
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_resume_cli_refuses_a_broken_field_before_training(cli_main, good: dict[str, Any], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = _with(good, tmp_path, ("history",), [5])
    code, out, err = cli_main("train", "--resume", str(bad))
    assert code == 2 and out == "" and "Traceback" not in err, err[-500:]
    assert err.count("\n") == 1 and "'history' record 0" in err


@pytest.mark.parametrize("model", [{"w": 5}, [torch.ones(1)], "x"])
def test_weights_from_a_broken_checkpoint_are_one_line(cli_main, good: dict[str, Any], tmp_path: Path,  # type: ignore[no-untyped-def]
                                                       model: Any) -> None:
    bad = _with(good, tmp_path, ("model",), model)
    code, out, err = cli_main("export", "lenet5", "--weights", str(bad), "-o", str(tmp_path / "x.pt2"))
    assert code == 2 and out == "" and "Traceback" not in err, err[-500:]
    assert err.count("\n") == 1 and "holds no state dict" in err, err
    assert not (tmp_path / "x.pt2").exists()
