"""archcalc train: data sources and their errors, augmentation, checkpoints, exact resumption, kill -9."""

from __future__ import annotations

import errno
import gzip
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from click.testing import CliRunner  # noqa: E402
from torch import nn  # noqa: E402

from archcalc import fileio  # noqa: E402
from archcalc.backends.torch import augment, checkpoint  # noqa: E402
from archcalc.backends.torch import data as D  # noqa: E402
from archcalc.backends.torch.trainer import Config, Interrupted, LrSchedule, Run  # noqa: E402
from archcalc.errors import ArchcalcError, OptionError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    """Tiny networks gain nothing from threads, and a busy 2-core machine loses a lot to them."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def one_line(err: ArchcalcError) -> str:
    text = err.format()
    assert "\n" not in text and "Traceback" not in text
    return text


# ------------------------------------------------------------------------------------ data fixtures

def write_idx(path: Path, array: np.ndarray[Any, Any], gz: bool = False) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(raw)
    else:
        path.write_bytes(raw)


@pytest.fixture
def mnist_dir(tmp_path: Path) -> Path:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    write_idx(raw / "train-images-idx3-ubyte", rng.integers(0, 256, (30, 28, 28)), gz=True)
    write_idx(raw / "train-labels-idx1-ubyte", np.arange(30) % 10, gz=True)
    write_idx(raw / "t10k-images-idx3-ubyte", rng.integers(0, 256, (10, 28, 28)))
    write_idx(raw / "t10k-labels-idx1-ubyte", np.arange(10) % 10)
    return tmp_path


@pytest.fixture
def cifar_dir(tmp_path: Path) -> Path:
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    rng = np.random.default_rng(0)
    for name, n in (("data_batch_1", 20), ("data_batch_2", 20), ("test_batch", 10)):
        batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"labels": list(np.arange(n) % 10)}
        (base / name).write_bytes(pickle.dumps(batch, protocol=2))
    return tmp_path


def make_imagefolder(root: Path, classes: int = 2, per_class: int = 3, size: tuple[int, int] = (20, 14)) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in range(classes):
            d = root / split / f"class{c}"
            d.mkdir(parents=True)
            for i in range(per_class):
                arr = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
                Image.fromarray(arr).save(d / f"{i}.png")
    return root


# ------------------------------------------------------------------------------------------- data

def test_digits_split_is_fixed_and_resized() -> None:
    a, b = D.load("digits", (1, 32, 32)), D.load("digits", (1, 32, 32))
    assert len(a.train) + len(a.val) == 1797 and len(a.val) == 359
    assert torch.equal(a.val.labels, b.val.labels)
    assert a.train.images is not None and a.train.images.dtype == torch.uint8
    prep = D.Prep(a, (1, 32, 32), torch.device("cpu"))
    prep.compute_stats(a.train)
    x = prep(a.train.images[:8])
    assert x.shape == (8, 1, 32, 32)
    assert abs(float(x.mean())) < 0.5


def test_digits_to_rgb_gives_a_note() -> None:
    data = D.load("digits", (3, 16, 16))
    assert any("repeated to 3" in n for n in data.notes)
    prep = D.Prep(data, (3, 16, 16), torch.device("cpu"))
    assert data.train.images is not None
    assert prep(data.train.images[:2]).shape == (2, 3, 16, 16)


def test_mnist_idx_plain_and_gzip(mnist_dir: Path) -> None:
    data = D.load(f"mnist:{mnist_dir}", (1, 32, 32))
    assert (len(data.train), len(data.val), data.num_classes) == (30, 10, 10)
    assert data.train.images is not None
    assert D.fit(data.train.images[:1].float(), 32, 32).shape[-2:] == (32, 32)  # padded 28 → 32


def test_mnist_truncated_file(mnist_dir: Path) -> None:
    f = mnist_dir / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-5])
    with pytest.raises(D.DataError, match="truncated") as info:
        D.load(f"mnist:{mnist_dir}", (1, 28, 28))
    one_line(info.value)


def test_cifar_pickles(cifar_dir: Path) -> None:
    data = D.load(f"cifar10:{cifar_dir}", (3, 32, 32))
    assert (len(data.train), len(data.val), data.channels) == (40, 10, 3)
    grey = D.load(f"cifar10:{cifar_dir}", (1, 32, 32))
    assert any("converted to 1" in n for n in grey.notes)


def test_cifar_pickle_cannot_run_code(cifar_dir: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, ("echo pwned",))

    (cifar_dir / "cifar-10-batches-py" / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(D.DataError, match="not a CIFAR-10") as info:
        D.load(f"cifar10:{cifar_dir}", (3, 32, 32))
    one_line(info.value)


def test_imagefolder_loads_and_batches(tmp_path: Path) -> None:
    root = make_imagefolder(tmp_path / "imgs")
    data = D.load(f"imagefolder:{root}", (3, 14, 14))
    assert data.num_classes == 2 and len(data.train) == 6 and data.mode == "crop"
    loader = D.Loader(data.train, batch=4, device=torch.device("cpu"), shuffle=True, seed=0)
    batches = list(loader.batches())
    assert [b.x.shape[0] for b in batches] == [4, 2]
    assert batches[0].x.shape[1:] == (3, 16, 16)  # stored at 256/224 of the input, then cropped


@pytest.mark.parametrize("workers", [0, 1])
def test_imagefolder_unreadable_image_is_one_line(tmp_path: Path, workers: int) -> None:
    root = make_imagefolder(tmp_path / "imgs")
    (root / "train" / "class0" / "0.png").write_bytes(b"not a png at all")
    data = D.load(f"imagefolder:{root}", (3, 14, 14))
    loader = D.Loader(data.train, batch=8, device=torch.device("cpu"), shuffle=False, seed=0, workers=workers)
    with pytest.raises(D.DataError, match="cannot read image") as info:
        list(loader.batches())
    assert "0.png" in one_line(info.value)


@pytest.mark.parametrize(("layout", "message"), [
    ("missing", "is not a directory"),
    ("noval", "has no val/ folder"),
    ("empty", "has no class folders"),
])
def test_imagefolder_layout_errors(tmp_path: Path, layout: str, message: str) -> None:
    root = tmp_path / "imgs"
    if layout == "noval":
        make_imagefolder(root)
        for f in (root / "val").rglob("*.png"):
            f.unlink()
        for d in sorted((root / "val").glob("*")):
            d.rmdir()
        (root / "val").rmdir()
    elif layout == "empty":
        (root / "train").mkdir(parents=True)
        (root / "val").mkdir()
    with pytest.raises(D.DataError, match=message) as info:
        D.load(f"imagefolder:{root}", (3, 14, 14))
    assert "imagefolder:DIR expects" in one_line(info.value)


def test_more_classes_than_the_classifier(tmp_path: Path) -> None:
    root = make_imagefolder(tmp_path / "imgs", classes=3, per_class=1)
    with pytest.raises(D.DataError) as info:
        D.load(f"imagefolder:{root}", (3, 14, 14), num_classes=2)
    assert "--set num_classes=3" in one_line(info.value)


@pytest.mark.parametrize("spec", ["nope", "mnist", "mnist:/does/not/exist", "cifar10:/nope", "digits:x"])
def test_bad_data_option(spec: str) -> None:
    with pytest.raises(D.DataError) as info:
        D.load(spec, (1, 32, 32))
    one_line(info.value)


def test_distributed_shards_count_true_samples() -> None:
    split = D.Split(torch.arange(7), torch.zeros(7, 1, 2, 2, dtype=torch.uint8))
    cpu = torch.device("cpu")
    train = [D.Loader(split, batch=2, device=cpu, shuffle=True, seed=0, rank=r, world=2) for r in (0, 1)]
    counts = [sum(int(b.valid.sum()) for b in ld.batches()) for ld in train]
    sizes = [sum(b.x.shape[0] for b in ld.batches()) for ld in train]
    assert sum(counts) == 7 and sizes == [4, 4]  # padded to equal steps, counted truly
    val = [D.Loader(split, batch=2, device=cpu, shuffle=False, seed=0, rank=r, world=2, pad=False) for r in (0, 1)]
    seen = sorted(int(y) for ld in val for b in ld.batches() for y in b.y)
    assert seen == list(range(7))


# --------------------------------------------------------------------------------------- augment

def test_crop_at_matches_slicing() -> None:
    x = torch.arange(2 * 3 * 6 * 5, dtype=torch.float32).view(2, 3, 6, 5)
    out = augment.crop_at(x, torch.tensor([1, 2]), torch.tensor([0, 1]), 4, 3)
    assert torch.equal(out[0], x[0, :, 1:5, 0:3]) and torch.equal(out[1], x[1, :, 2:6, 1:4])


def test_augment_shapes() -> None:
    x = torch.randn(4, 3, 18, 18)
    assert augment.random_crop(x, 16, 16).shape == (4, 3, 16, 16)
    assert augment.random_crop(torch.randn(4, 3, 16, 16), 16, 16, pad=2).shape == (4, 3, 16, 16)
    assert augment.Augment(16, 16, pad=0, flips=True, jitter=True)(x).shape == (4, 3, 16, 16)
    crops = augment.ten_crops(torch.randn(2, 1, 16, 16), 16, 16)
    assert len(crops) == 10 and all(c.shape == (2, 1, 16, 16) for c in crops)
    flipped = augment.random_flip(x)
    assert all(torch.equal(f, o) or torch.equal(f, o.flip(2)) for f, o in zip(flipped, x, strict=True))


# ------------------------------------------------------------------------------------- schedules

def test_warmup_then_cosine_and_step() -> None:
    p = [nn.Parameter(torch.zeros(1))]
    opt = torch.optim.SGD(p, lr=0.1)
    cos = LrSchedule(opt, Config(schedule="cosine", warmup=1, lr=0.1), epochs=5, steps_per_epoch=10)
    assert cos.factor(0) == pytest.approx(0.1) and cos.factor(9) == pytest.approx(1.0)
    assert cos.factor(49) < 0.01
    step = LrSchedule(opt, Config(schedule="step", lr=0.1), epochs=6, steps_per_epoch=10)
    assert [step.factor(s) for s in (0, 19, 20, 40)] == pytest.approx([1, 1, 0.1, 0.01])


# ------------------------------------------------------------------------------------- checkpoints

def test_checkpoint_round_trip_and_rng(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    rng = checkpoint.rng_state()
    expected = torch.rand(3)
    checkpoint.save({"model": {"w": torch.ones(2)}, "epoch": 1, "config": {"lr": 0.1}, "rng": rng}, path)
    state = checkpoint.load(path)
    checkpoint.set_rng_state(state["rng"])
    assert torch.equal(torch.rand(3), expected)
    assert not list(tmp_path.glob(".*.tmp"))


def test_checkpoint_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "last.pt"
    checkpoint.save({"model": {}, "epoch": 1, "config": {}}, path)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(fileio.os, "fsync", crash)  # checkpoints are written through archcalc.fileio
    with pytest.raises(OSError):
        checkpoint.save({"model": {}, "epoch": 2, "config": {}}, path)
    assert checkpoint.load(path)["epoch"] == 1  # the old checkpoint survives whole
    assert not list(tmp_path.glob(".*.tmp"))


def test_truncated_and_foreign_checkpoints(tmp_path: Path) -> None:
    good = tmp_path / "good.pt"
    checkpoint.save({"model": {"w": torch.ones(1000)}, "epoch": 1, "config": {}}, good)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.ones(1)}}, foreign)
    code = tmp_path / "code.pt"
    torch.save({"format": checkpoint.FORMAT, "x": Path("/")}, code)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00" * 100)
    cases = [(cut, "truncated"), (foreign, "not an archcalc checkpoint"), (code, "refusing"),
             (junk, "truncated or corrupt"), (tmp_path / "missing.pt", "does not exist")]
    for path, message in cases:
        with pytest.raises(checkpoint.CheckpointError, match=message) as info:
            checkpoint.load(path)
        one_line(info.value)


# ------------------------------------------------------------------------------------ training loop

class TinyNet(nn.Module):
    """A small CNN for 1×8×8 digits; with ``aux`` it returns (main, aux) while training, as GoogLeNet."""

    def __init__(self, aux: bool = False):
        super().__init__()
        torch.manual_seed(0)
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.head = nn.Linear(8 * 4 * 4, 10)
        self.aux = nn.Linear(8 * 4 * 4, 10) if aux else None

    def forward(self, x: torch.Tensor) -> Any:
        f = self.features(x)
        if self.training and self.aux is not None:
            return self.head(f), self.aux(f)
        return self.head(f)


def tiny_run(run_dir: Path, epochs: int = 3, resume: dict[str, Any] | None = None, **kw: Any) -> Run:
    cfg = Config(**{"spec": "tiny", "data": "digits", "epochs": epochs, "batch": 64, "lr": 0.05, "device": "cpu",
                    "run_dir": str(run_dir), **kw})
    return Run(TinyNet(), D.load("digits", (1, 8, 8)), cfg, (1, 8, 8), resume=resume)


def losses(run_dir: Path) -> list[float]:
    return [json.loads(line)["train_loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_training_learns_and_writes_its_files(tmp_path: Path) -> None:
    run = tiny_run(tmp_path / "run")
    last = run.fit()
    assert last["val_top1"] > 0.8
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"last.pt", "best.pt", "metrics.jsonl", "config.json", "curves.png"} <= files
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["lr"] == 0.05 and config["epochs"] == 3 and len(config["data_mean"]) == 1
    assert checkpoint.load(tmp_path / "run" / "last.pt")["epoch"] == 3


def test_resume_from_an_epoch_continues_exactly(tmp_path: Path) -> None:
    tiny_run(tmp_path / "full", epochs=3).fit()
    tiny_run(tmp_path / "part", epochs=2).fit()
    state = checkpoint.load(tmp_path / "part" / "last.pt")
    tiny_run(tmp_path / "part", epochs=3, resume=state).fit()
    assert losses(tmp_path / "part") == losses(tmp_path / "full")
    full = checkpoint.load(tmp_path / "full" / "last.pt")["model"]
    part = checkpoint.load(tmp_path / "part" / "last.pt")["model"]
    assert all(torch.equal(full[k], part[k]) for k in full)


def test_ctrl_c_mid_epoch_saves_and_resumes_exactly(tmp_path: Path) -> None:
    tiny_run(tmp_path / "full", epochs=2).fit()
    run = tiny_run(tmp_path / "cut", epochs=2)
    calls = {"n": 0}

    def stop_after_some(module: nn.Module, inputs: Any) -> None:
        calls["n"] += int(module.training)
        if calls["n"] == 30:  # epoch 2 (23 steps per epoch), step 7
            run.stop_requested = True

    run.model.register_forward_pre_hook(stop_after_some)
    with pytest.raises(Interrupted) as info:
        run.fit()
    assert info.value.exit_code == 130 and "--resume" in one_line(info.value)
    state = checkpoint.load(tmp_path / "cut" / "last.pt")
    assert (state["epoch"], state["step"]) == (1, 7)
    assert (tmp_path / "cut" / "curves.png").exists()  # the epochs that finished, drawn after Ctrl-C too
    tiny_run(tmp_path / "cut", epochs=2, resume=state).fit()
    assert losses(tmp_path / "cut") == losses(tmp_path / "full")


def test_patience_stops_early_and_names_the_best_epoch(tmp_path: Path) -> None:
    # a learning rate of zero: validation never improves after the first epoch
    run = tiny_run(tmp_path / "flat", epochs=10, stop_patience=2, lr=1e-12)
    run.fit()
    assert run.best_epoch == 1 and run.stopped_early == 3
    assert len(losses(tmp_path / "flat")) == 3
    assert (tmp_path / "flat" / "curves.png").exists()
    with pytest.raises(OptionError):
        Config(stop_patience=-1).check()


def test_cli_patience_and_the_final_line(tmp_path: Path) -> None:
    from archcalc.cli.train import train_command

    result = CliRunner().invoke(train_command, ["lenet5", "--epochs", "4", "--data", "synthetic", "--run-dir",
                                                str(tmp_path / "r"), "--device", "cpu", "--patience", "1",
                                                "--lr", "1e-12"])
    assert result.exit_code == 0, result.output
    assert "stopped early after epoch 2" in result.output
    assert "at epoch 1;" in result.output


@pytest.mark.parametrize("options", [
    {"optimizer": "adamw", "lr": 1e-3, "schedule": "cosine", "warmup": 1, "label_smoothing": 0.1, "clip": 1.0},
    {"scale_jitter": True, "ten_crop": True, "precision": "bf16", "channels_last": True, "schedule": "step"},
])
def test_recipe_options_train(tmp_path: Path, options: dict[str, Any]) -> None:
    cfg = Config(**{"data": "digits", "epochs": 2, "batch": 64, "device": "cpu", "run_dir": str(tmp_path),
                    **options})
    out = Run(TinyNet(), D.load("digits", (1, 8, 8)), cfg, (1, 8, 8)).fit()
    assert out["val_top1"] > 0.2 and math.isfinite(out["train_loss"])


def test_auxiliary_outputs_are_weighted(tmp_path: Path) -> None:
    cfg = Config(data="digits", epochs=1, batch=64, device="cpu", run_dir=str(tmp_path))
    run = Run(TinyNet(aux=True), D.load("digits", (1, 8, 8)), cfg, (1, 8, 8))
    out = run.fit()
    assert out["val_top1"] > 0.3  # eval mode returned the main tensor only


def test_eval_only_and_cli_errors(tmp_path: Path) -> None:
    from archcalc.cli.train import train_command

    runner = CliRunner()
    result = runner.invoke(train_command, ["lenet5", "--epochs", "1", "--data", "synthetic", "--run-dir",
                                           str(tmp_path / "r"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(train_command, ["--eval-only", "--resume", str(tmp_path / "r" / "last.pt")])
    assert result.exit_code == 0 and "top-1" in result.output
    for args, message in ((["--eval-only"], "--eval-only needs --resume"),
                          (["--resume", str(tmp_path / "nope.pt")], "does not exist"),
                          (["lenet5", "--data", "imagefolder:/nope"], "is not a directory"),
                          ([], "needs a SPEC")):
        result = runner.invoke(train_command, args)
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output


# --------------------------------------------------------------------------------------- kill -9

SLOW_NET = textwrap.dedent("""
    import time
    import torch
    from torch import nn

    class Slow(nn.Module):
        \"\"\"A small MLP whose training steps take a few ms, so a kill lands mid-epoch.\"\"\"
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
        def forward(self, x):
            if self.training:
                time.sleep(0.003)
            return self.net(x)
""")

KILL_SCRIPT = SLOW_NET + textwrap.dedent("""
    import sys
    from pathlib import Path
    from archcalc.backends.torch import checkpoint, data as D
    from archcalc.backends.torch.trainer import Config, Run

    torch.set_num_threads(1)
    run_dir, epochs = Path(sys.argv[1]), int(sys.argv[2])
    last = run_dir / "last.pt"
    state = checkpoint.load(last) if last.exists() else None
    cfg = Config(data="digits", epochs=epochs, batch=64, lr=0.05, device="cpu", run_dir=str(run_dir))
    Run(Slow(), D.load("digits", (1, 8, 8)), cfg, (1, 8, 8), resume=state).fit()
""")


def slow_config(run_dir: Path, epochs: int) -> Config:
    """The KILL_SCRIPT's configuration."""
    return Config(data="digits", epochs=epochs, batch=64, lr=0.05, device="cpu", run_dir=str(run_dir))


def test_kill_9_mid_epoch_then_resume(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    epochs = 6

    def start(run_dir: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, str(script), str(run_dir), str(epochs)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    namespace: dict[str, Any] = {}
    exec(SLOW_NET, namespace)  # the uninterrupted reference, in this process
    Run(namespace["Slow"](), D.load("digits", (1, 8, 8)), slow_config(tmp_path / "full", epochs),
        (1, 8, 8)).fit()

    killed = tmp_path / "killed"
    rng = np.random.default_rng(0)
    for _ in range(2):
        proc = start(killed)
        deadline = time.time() + 60
        before = checkpoint.load(killed / "last.pt")["epoch"] if (killed / "last.pt").exists() else 0
        while time.time() < deadline and proc.poll() is None:  # wait for a fresh epoch, then kill mid-way
            if (killed / "last.pt").exists() and checkpoint.load(killed / "last.pt")["epoch"] > before:
                break
            time.sleep(0.02)
        time.sleep(float(rng.uniform(0.02, 0.15)))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        state = checkpoint.load(killed / "last.pt")  # never torn
        assert 1 <= state["epoch"] <= epochs and state["step"] == 0
    proc = start(killed)
    assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    assert losses(killed) == losses(tmp_path / "full")  # lost only unfinished epochs, replayed exactly
    assert not list(killed.glob(".*.tmp"))


@pytest.mark.parametrize(("sig", "code", "said"), [(signal.SIGINT, 130, "interrupted; saved"),
                                                     (signal.SIGTERM, 143, "terminated (SIGTERM); saved")])
def test_a_stop_signal_saves_and_exits(tmp_path: Path, sig: signal.Signals, code: int, said: str) -> None:
    """Ctrl-C, and SIGTERM (a batch scheduler, ``docker stop``: issue 15, defect 12, it saved nothing), save the
    run and say how to resume, in one line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "archcalc", "train", "lenet5", "--epochs", "200", "--device",
                             "cpu", "--run-dir", str(run_dir)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 90
    while time.time() < deadline and not (run_dir / "last.pt").exists():
        time.sleep(0.05)
    time.sleep(0.1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err.decode()
    assert said in err.decode() and "--resume" in err.decode()
    assert err.decode().count("\n") == 1
    assert checkpoint.load(run_dir / "last.pt")["epoch"] >= 1


# ------------------------------------------------------------------------- a full disk (issue 15, defect 6)

def _no_space() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("how", ["oserror", "torch"])
def test_a_full_disk_is_one_line_and_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   how: str) -> None:
    real_save = checkpoint.save
    calls: list[Path] = []

    def save(state: dict[str, Any], path: Path) -> None:
        calls.append(path)
        if len(calls) <= 2:  # epoch 1: last.pt and best.pt; then the disk is full
            real_save(state, path)
        elif how == "oserror":
            raise _no_space()
        else:  # torch's writer: a RuntimeError raised while the OSError is handled
            try:
                raise _no_space()
            except OSError:
                raise RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos 64 vs 0") from None

    monkeypatch.setattr(checkpoint, "save", save)
    with pytest.raises(trainer_module().DiskFull) as info:
        tiny_run(tmp_path / "run", epochs=3).fit()
    text = one_line(info.value)
    assert "disk full" in text and "nothing lost, the last good checkpoint is epoch 1" in text, text
    assert f"--resume {tmp_path / 'run' / 'last.pt'}" in text
    assert checkpoint.load(tmp_path / "run" / "last.pt")["epoch"] == 1


def test_a_full_disk_before_any_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(path: Path, text: str) -> None:
        raise _no_space()

    monkeypatch.setattr(trainer_module(), "_write_text", full)
    with pytest.raises(trainer_module().DiskFull) as info:
        tiny_run(tmp_path / "run", epochs=1).fit()
    assert "no checkpoint of this run was written yet" in one_line(info.value)


def test_other_write_errors_are_not_called_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(state: dict[str, Any], path: Path) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(checkpoint, "save", broken)
    with pytest.raises(OSError, match="Input/output"):
        tiny_run(tmp_path / "run", epochs=1).fit()


def trainer_module() -> Any:
    from archcalc.backends.torch import trainer

    return trainer


def test_a_second_ctrl_c_during_the_save_does_not_cut_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15, defect 12: a second Ctrl-C 50 ms after the first ended the process by signal (status -2)."""
    real_save = checkpoint.save

    def save(state: dict[str, Any], path: Path) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # the second Ctrl-C, while the first one's save runs
        time.sleep(0.05)
        real_save(state, path)

    run = tiny_run(tmp_path / "run", epochs=2)
    run.stop_requested = True  # the first Ctrl-C: stop at the next step
    monkeypatch.setattr(checkpoint, "save", save)
    with pytest.raises(Interrupted):
        run.fit()
    assert checkpoint.load(tmp_path / "run" / "last.pt")["epoch"] == 0
