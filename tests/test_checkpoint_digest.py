"""Damaged checkpoints are refused (issue 15, defect 4): torch's zip reader does not check its CRCs, so 4 KiB
inverted inside a tensor of a good ``last.pt`` used to resume, evaluate and export silently. Each checkpoint
now carries a digest of what it holds, checked by every loader; NaN weights and a zero ``std`` are refused."""

from __future__ import annotations

import math
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from archcalc.backends.torch import checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def last_pt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``last.pt``: one epoch of lenet5 on synthetic data, through the CLI."""
    from click.testing import CliRunner

    from archcalc.cli.train import train_command

    run_dir = tmp_path_factory.mktemp("run") / "r"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = CliRunner().invoke(train_command, ["lenet5", "--epochs", "1", "--data", "synthetic", "--device",
                                                    "cpu", "--run-dir", str(run_dir)])
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    return run_dir / "last.pt"


def _largest_tensor_bytes(path: Path) -> tuple[int, int]:
    """Where the largest tensor's bytes lie in the zip: (offset, size)."""
    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        header = f.read(30)
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len, info.file_size


def flipped(good: Path, out: Path) -> Path:
    """The review's reproducer: 4 KiB inverted in the middle of the checkpoint's tensor data (the middle of
    its largest tensor, so that the zip's own headers stay intact and torch reads it without complaint)."""
    data = bytearray(good.read_bytes())
    start, size = _largest_tensor_bytes(good)
    assert size >= 4096
    middle = start + size // 2 - 2048
    for i in range(middle, middle + 4096):
        data[i] ^= 0xFF
    out.write_bytes(bytes(data))
    return out


def test_the_damage_is_invisible_to_torch(last_pt: Path, tmp_path: Path) -> None:
    """The reproducer is meaningful: torch itself loads the damaged file."""
    state = torch.load(flipped(last_pt, tmp_path / "bad.pt"), weights_only=True)
    good = torch.load(last_pt, weights_only=True)
    assert any(not torch.equal(state["model"][k], good["model"][k]) for k in good["model"])


@pytest.mark.parametrize("argv", [
    ("train", "--resume", "{bad}", "--epochs", "2"),
    ("train", "--eval-only", "--resume", "{bad}"),
    ("export", "lenet5", "--checkpoint", "{bad}", "-o", "{out}"),
], ids=["resume", "eval-only", "export"])
def test_flipped_bytes_are_refused_by_every_loader(cli_main, last_pt: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                   argv: tuple[str, ...]) -> None:
    bad = flipped(last_pt, tmp_path / "bad.pt")
    out = tmp_path / "x.pt2"
    code, stdout, err = cli_main(*(a.format(bad=bad, out=out) for a in argv))
    assert code == 2 and "Traceback" not in err, err[-500:]
    assert err.count("\n") == 1 and f"{bad} is corrupt: its weights do not match the digest" in err, err
    assert stdout == "" and not out.exists()


def test_the_good_checkpoint_passes_and_carries_a_digest(last_pt: Path) -> None:
    state = checkpoint.load(last_pt)
    assert state["digest"] == checkpoint.digest(state)
    assert state["digest"].startswith("sha256:") and len(state["digest"]) == 7 + 64


def _resaved(last_pt: Path, tmp_path: Path, **changes: Any) -> Path:
    state = {k: v for k, v in checkpoint.load(last_pt).items() if k not in ("format", "version", "digest")}
    state.update(changes)
    out = tmp_path / "edited.pt"
    checkpoint.save(state, out)  # a fresh, valid digest: the content is what is wrong
    return out


def test_an_edited_number_does_not_match_the_digest(last_pt: Path, tmp_path: Path) -> None:
    raw = torch.load(last_pt, weights_only=True)
    raw["epoch"] += 1
    edited = tmp_path / "edited.pt"
    torch.save(raw, edited)
    with pytest.raises(checkpoint.CheckpointError, match="is corrupt"):
        checkpoint.load(edited)


def test_nan_weights_are_refused(cli_main, last_pt: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = dict(checkpoint.load(last_pt)["model"])
    name = next(iter(model))
    model[name] = model[name].clone()
    model[name].view(-1)[0] = math.nan
    bad = _resaved(last_pt, tmp_path, model=model)
    for argv in (("train", "--eval-only", "--resume", str(bad)),
                 ("export", "lenet5", "--checkpoint", str(bad), "-o", str(tmp_path / "x.pt2"))):
        code, _, err = cli_main(*argv)
        assert code == 2 and err.count("\n") == 1, err[-500:]
        assert f"holds NaN or infinite weights ({name!r})" in err, err


def test_a_zero_std_is_refused(last_pt: Path, tmp_path: Path) -> None:
    bad = _resaved(last_pt, tmp_path, data_stats={"mean": [0.5], "std": [0.0]})
    with pytest.raises(checkpoint.CheckpointError, match="standard deviation that is not positive"):
        checkpoint.load(bad)


def test_a_checkpoint_without_a_digest_loads_with_a_warning(last_pt: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    raw = torch.load(last_pt, weights_only=True)
    del raw["digest"]
    old = tmp_path / "old.pt"
    torch.save(raw, old)
    assert checkpoint.load(old)["epoch"] == raw["epoch"]
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"warning: {old} has no digest" in err


@pytest.mark.parametrize("junk", [b"hello this is text\nmore\n", b"\x80\x02]q\x00(K\x01e." * 3, b"((((((((",
                                  b"}" * 50], ids=["text", "pickle_ops", "marks", "dicts"])
@pytest.mark.parametrize("argv", [("train", "--resume", "{bad}"), ("export", "lenet5", "--checkpoint", "{bad}",
                                                                   "-o", "{out}")], ids=["resume", "export"])
def test_a_file_of_junk_is_one_line(cli_main, tmp_path: Path, junk: bytes, argv: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """Reliability defect 11: a plain text file as a checkpoint was a KeyError/IndexError from torch.load."""
    bad = tmp_path / "junk.pt"
    bad.write_bytes(junk)
    code, _, err = cli_main(*(a.format(bad=bad, out=tmp_path / "x.pt2") for a in argv))
    assert code == 2 and "Traceback" not in err and err.count("\n") == 1, err[-500:]
    assert str(bad) in err
