"""The training loop of ``archcalc train``, meant to be read top to bottom.

The recipe is the seeds' (AlexNet, VGG): SGD with momentum 0.9, learning rate 1e-2, weight decay 5e-4,
batch 128, learning rate ÷10 when validation accuracy stops improving. Every epoch writes ``last.pt`` and,
when validation top-1 improves, ``best.pt``; a line of ``metrics.jsonl``; ``config.json`` sits beside
them. Launched by torchrun (RANK/WORLD_SIZE set), it trains with DistributedDataParallel and only rank 0
writes anything.

Exact resumption: the shuffling order is a function of (seed, epoch) and the augmentation RNG is
re-seeded from (seed, epoch, rank) at each epoch start, so a run resumed from an epoch boundary replays
the uninterrupted run bit for bit; a Ctrl-C stops at a step boundary and saves the RNG states with the
step count, so resuming mid-epoch continues exactly too.
"""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import FrameType
from typing import Any

import torch
import torch.nn.functional as F
from rich.console import Console
from torch import nn

from archcalc.backends.torch import checkpoint
from archcalc.backends.torch.augment import Augment, center_crop, ten_crops
from archcalc.backends.torch.data import Data, Loader, Prep, prefit
from archcalc.backends.torch.device import resolve_device
from archcalc.backends.torch.optim import make_optimizer
from archcalc.errors import ArchcalcError, ExitCode, OptionError
from archcalc.fileio import write_atomic
from archcalc.vocab import OPTIMIZERS, TRAIN_PRECISIONS

#: GoogLeNet: auxiliary classifier losses are added with weight 0.3.
AUX_WEIGHT = 0.3
SCHEDULES = ("plateau", "step", "cosine", "none")


#: the largest float32: a larger learning rate overflows in torch's optimizer ('cannot be converted')
FLOAT32_MAX = 3.4028234663852886e38


@dataclass
class Config:
    """Everything that defines a run; saved as ``config.json`` and inside every checkpoint."""

    spec: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)
    input: list[int] | None = None
    init: str | None = None
    data: str = "digits"
    epochs: int = 0  # 0: the data set's default
    batch: int = 128
    lr: float = 1e-2
    optimizer: str = "momentum"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "plateau"
    patience: int = 5  # the plateau schedule's: epochs without improvement before lr ÷ 10
    stop_patience: int = 0  # early stopping (--patience): epochs without a better val top-1; 0: off
    warmup: int = 0  # epochs of linear warm-up
    label_smoothing: float = 0.0
    clip: float = 0.0  # max gradient norm; 0 disables
    device: str = ""  # "": cuda if available, else cpu
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    seed: int = 0
    workers: int = 4
    augment: bool = True
    scale_jitter: bool = False
    ten_crop: bool = False
    run_dir: str = ""

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Config:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    @classmethod
    def type_problem(cls, values: Mapping[str, Any]) -> str | None:
        """The first value in ``values`` (a checkpoint's saved configuration) of the wrong type, or None."""
        for f in fields(cls):
            if f.name not in values:
                continue
            value = values[f.name]
            default = f.default_factory() if callable(f.default_factory) else f.default
            kind = type(default)
            if f.name == "input":
                ok = value is None or (isinstance(value, list) and all(type(v) is int and 0 < v < 2**62
                                                                       for v in value))
            elif f.name == "init":
                ok = value is None or isinstance(value, str)
            elif kind is dict:
                ok = isinstance(value, dict) and all(isinstance(k, str) for k in value)
            elif kind is float:
                ok = type(value) in (int, float) and math.isfinite(value)
            elif kind is int:
                ok = type(value) is int and abs(value) < 2**62
            else:
                ok = type(value) is kind
            if not ok:
                shown = repr(value)
                return f"config {f.name!r} is {shown if len(shown) <= 40 else shown[:39] + '…'}, not {_KIND[kind]}"
        return None

    def check(self) -> None:
        """Reject impossible option values with one-line errors, before any work."""
        for name, value, choices in (("optimizer", self.optimizer, OPTIMIZERS),
                                     ("schedule", self.schedule, SCHEDULES),
                                     ("precision", self.precision, TRAIN_PRECISIONS)):
            if value not in choices:
                raise OptionError(f"--{name} {value!r} is not one of {', '.join(choices)}")
        if self.epochs < 0 or self.batch < 1 or self.lr <= 0 or self.warmup < 0 or self.workers < 0:
            raise OptionError("--epochs, --warmup and --workers must be ≥ 0; --batch and --lr > 0")
        if not 0 <= self.label_smoothing < 1:
            raise OptionError(f"--label-smoothing {self.label_smoothing} is not in [0, 1)")
        if not self.clip >= 0:  # NaN too
            raise OptionError(f"--clip {self.clip} must be ≥ 0")
        if not (math.isfinite(self.lr) and self.lr <= FLOAT32_MAX):  # FloatRange lets NaN through
            raise OptionError(f"--lr {self.lr} must be a finite number up to {FLOAT32_MAX:.3g}"
                              " (torch keeps it as a 32-bit float)")
        if not 0 <= self.seed <= 2**62:
            raise OptionError(f"--seed {self.seed} must be between 0 and 2**62")
        if self.stop_patience < 0:
            raise OptionError(f"--patience {self.stop_patience} must be ≥ 0")


@contextmanager
def _restoring(part: str) -> Iterator[None]:
    """Restoring one part of a checkpoint: torch's complaints about its contents as one line."""
    try:
        yield
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise checkpoint.CheckpointError(f"the checkpoint's {part} state cannot be restored ({detail})",
                                         hint="was it edited or damaged? resume from another checkpoint") from None


_KIND = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a mapping",
         type(None): "a value"}


class Interrupted(ArchcalcError):
    """Ctrl-C: the state was saved and the run can be resumed."""

    exit_code = ExitCode.INTERRUPTED


class Terminated(Interrupted):
    """SIGTERM: saved as after Ctrl-C, with the exit status a terminated process has (143)."""

    exit_code = ExitCode.TERMINATED


class DiskFull(ArchcalcError):
    """No room to write a checkpoint or a run file; checkpoints are atomic, so the last good one is whole."""

    exit_code = ExitCode.FAILURE


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` or an exception it was raised from says the disk (or the quota) is full: torch's
    writer reports ENOSPC as a RuntimeError ('unexpected pos') chained to the OSError."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


# ------------------------------------------------------------------------------------ processes, device

@dataclass(frozen=True)
class Dist:
    """Where this process sits in a torchrun launch (rank 0 of 1 when launched alone)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> Dist:
    """Join the process group when torchrun set RANK/WORLD_SIZE: nccl on CUDA, gloo on CPU."""
    dist = dist_from_env()
    if dist.world > 1:
        import torch.distributed as tdist

        if not tdist.is_initialized():
            tdist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist


def dist_from_env() -> Dist:
    """This process's place in a torchrun launch, from the environment torchrun sets."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    return Dist(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """The augmentation/dropout seed of one epoch on one process."""
    return (seed * 1_000_003 + epoch * 1009 + rank) % (2**63 - 1)


# ------------------------------------------------------------------------------------- optimisation

def optimizer_for(model: nn.Module, cfg: Config) -> torch.optim.Optimizer:
    return make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)


class LrSchedule:
    """Learning rate per step: linear warm-up, then step (÷10 at thirds), cosine, or ÷10 on a plateau of
    validation top-1 (AlexNet; ReduceLROnPlateau, mode max)."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: Config, epochs: int, steps_per_epoch: int):
        self.optimizer = optimizer
        self.kind = cfg.schedule
        self.base = [cfg.lr for _ in optimizer.param_groups]
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.warm_steps = cfg.warmup * self.steps_per_epoch
        self.total_steps = max(1, epochs * self.steps_per_epoch)
        self.step_every = max(1, epochs // 3) * self.steps_per_epoch
        self.plateau = (torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=0.1, patience=cfg.patience, threshold=1e-3, min_lr=1e-6)
            if self.kind == "plateau" else None)

    def factor(self, step: int) -> float:
        if step < self.warm_steps:
            return (step + 1) / self.warm_steps
        t = step - self.warm_steps
        if self.kind == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(1.0, t / max(1, self.total_steps - self.warm_steps))))
        if self.kind == "step":
            return float(0.1 ** (t // self.step_every))
        return 1.0

    def before_step(self, step: int) -> None:
        """Set the learning rate for global step ``step`` (the plateau rule owns it after warm-up)."""
        if self.kind in ("step", "cosine") or step < self.warm_steps:
            f = self.factor(step)
            for group, base in zip(self.optimizer.param_groups, self.base, strict=True):
                group["lr"] = base * f

    def after_epoch(self, epoch: int, val_top1: float) -> None:
        if self.plateau is not None and (epoch + 1) * self.steps_per_epoch > self.warm_steps:
            self.plateau.step(val_top1)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def state_dict(self) -> dict[str, Any]:
        return {"plateau": self.plateau.state_dict() if self.plateau is not None else None}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if self.plateau is not None and state.get("plateau") is not None:
            self.plateau.load_state_dict(state["plateau"])


# ------------------------------------------------------------------------------------------ metrics

class Meter:
    """Sums of loss, top-1 and top-5 hits and sample count, kept on the device (no sync per step)."""

    def __init__(self, device: torch.device, sums: list[float] | None = None):
        self.sums = torch.tensor(sums or [0.0, 0.0, 0.0, 0.0], dtype=torch.float64, device=device)

    def add(self, losses: torch.Tensor, logits: torch.Tensor, y: torch.Tensor, valid: torch.Tensor) -> None:
        k = min(5, logits.shape[1])
        hits = logits.topk(k, dim=1).indices == y.view(-1, 1)
        w = valid.to(losses.dtype)
        self.sums += torch.stack([(losses.detach() * w).sum(), (hits[:, 0] * w).sum(),
                                  (hits.any(1) * w).sum(), w.sum()]).double()

    def reduce(self, dist: Dist) -> dict[str, float]:
        """Totals over all processes, from true (unpadded) counts."""
        sums = self.sums.clone()
        if dist.world > 1:
            import torch.distributed as tdist

            tdist.all_reduce(sums)
        loss, top1, top5, n = sums.tolist()
        n = max(n, 1.0)
        return {"loss": loss / n, "top1": top1 / n, "top5": top5 / n, "count": n}


def split_outputs(out: Any) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(main, aux): a model with auxiliary classifiers returns a tuple (main, *aux) while training."""
    if isinstance(out, (tuple, list)):
        return out[0], list(out[1:])
    return out, []


# ------------------------------------------------------------------------------------------ the run

class Run:
    """One training (or evaluation) run: model, data, optimiser and the files of the run directory."""

    def __init__(self, model: nn.Module, data: Data, cfg: Config, input_shape: tuple[int, int, int], *,
                 console: Console | None = None, resume: Mapping[str, Any] | None = None,
                 extra_config: Mapping[str, Any] | None = None):
        cfg.check()
        self.cfg = cfg
        self.data = data
        self.device = resolve_device(cfg.device, dist_from_env().local_rank)  # binds this process to its GPU
        self.dist = init_distributed(self.device)
        self.console = console or Console(stderr=False)
        self.epochs = cfg.epochs or data.default_epochs
        self.run_dir = Path(cfg.run_dir or "runs/run")
        _, h, w = input_shape
        self.height, self.width = h, w
        if cfg.precision == "fp16" and self.device.type != "cuda":
            raise OptionError("--precision fp16 needs --device cuda", hint="use bf16 on CPU")

        # Data: per-batch preparation on the device, loaders sharded over the processes.
        data.train, data.val = prefit(data.train, h, w), prefit(data.val, h, w)
        self.prep = Prep(data, input_shape, self.device)
        if resume is not None and "data_stats" in resume:
            self.prep.set_stats(resume["data_stats"]["mean"], resume["data_stats"]["std"])
        else:
            self.prep.compute_stats(data.train)
        workers = cfg.workers if data.train.dataset is not None else 0
        self.train_loader = Loader(data.train, batch=cfg.batch, device=self.device, shuffle=True,
                                   seed=cfg.seed, rank=self.dist.rank, world=self.dist.world, workers=workers)
        self.val_loader = Loader(data.val, batch=cfg.batch, device=self.device, shuffle=False, seed=cfg.seed,
                                 rank=self.dist.rank, world=self.dist.world, workers=workers, pad=False)
        pad = 0 if data.mode == "crop" else max(1, min(h, w) // 10)
        self.augment = Augment(h, w, pad=pad, flips=data.flips, jitter=cfg.scale_jitter) if cfg.augment \
            else None

        # Model: channels-last, compile, DDP. ``self.model`` is the plain module (for state dicts).
        self.model = model.to(self.device)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        net: nn.Module = self.model
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            # A (C=1) conv weight's gradient may come back with other (equivalent) strides: harmless.
            warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
            net = DistributedDataParallel(net, device_ids=ids)
        self.train_net: Callable[..., Any] = torch.compile(net) if cfg.compile else net
        self.eval_net: Callable[..., Any] = (self.train_net if self.dist.world == 1 else
                                             torch.compile(self.model) if cfg.compile else self.model)

        self.optimizer = optimizer_for(self.model, cfg)
        self.schedule = LrSchedule(self.optimizer, cfg, self.epochs, len(self.train_loader))
        self.scaler = torch.amp.GradScaler("cuda", enabled=cfg.precision == "fp16")
        self.autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.precision)

        # Progress so far: epoch in progress, steps done in it, best val top-1, history of epoch metrics.
        self.epoch, self.step_in_epoch, self.best = 0, 0, -1.0
        self.history: list[dict[str, Any]] = []
        self.partial: list[float] | None = None
        self.partial_time = 0.0
        self.resume_rng: Mapping[str, Any] | None = None
        self.extra_config = dict(extra_config or {})
        #: the epoch of the last last.pt written (or resumed from): what survives a full disk
        self.saved_epoch: int | None = None
        if resume is not None:
            self.load_state(resume)
            self.saved_epoch = self.epoch
        self.stop_requested = False
        self.terminated = False
        self.stopped_early: int | None = None
        self.meter: Meter | None = None
        self.epoch_start = 0.0

    # ---- checkpoints

    def state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.schedule.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.epoch,
            "step": self.step_in_epoch,
            "best": self.best,
            "history": self.history,
            "partial": self.partial,
            "partial_time": self.partial_time,
            "rng": checkpoint.rng_state(),
            "config": asdict(self.cfg),
            "data_stats": {"mean": self.prep.mean.tolist(), "std": self.prep.std.tolist()},
            "num_classes": self.data.num_classes,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise checkpoint.CheckpointError(
                f"the checkpoint's weights do not fit this network ({str(exc).splitlines()[0]})",
                hint="resume with the spec and --set/--input it was trained with") from None
        # the structure was checked when the file was read (checkpoint.structure_problem); what torch's own
        # state formats hold inside is checked by torch, and any complaint is one line naming the part
        with _restoring("optimizer"):
            if "optimizer" in state:
                self.optimizer.load_state_dict(state["optimizer"])
        with _restoring("scheduler"):
            self.schedule.load_state_dict(state.get("scheduler") or {})
        with _restoring("scaler"):
            if state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
        self.epoch, self.step_in_epoch = int(state["epoch"]), int(state.get("step", 0))
        self.best = float(state.get("best", -1.0))
        self.history = list(state.get("history", []))
        self.partial = state.get("partial")
        self.partial_time = float(state.get("partial_time", 0.0))
        if "rng" in state:
            with _restoring("random-number generator"):
                checkpoint.set_rng_state(state["rng"])
            self.resume_rng = state["rng"]

    def save(self, name: str) -> Path:
        path = self.run_dir / name
        if self.dist.main:
            checkpoint.save(self.state(), path)
            if name == "last.pt":
                self.saved_epoch = self.epoch
        return path

    @contextmanager
    def disk_full_is_one_line(self) -> Iterator[None]:
        """A full disk while writing the run's files: one line naming the last good checkpoint, not a
        traceback (issue 15, defect 6). Checkpoints are written atomically, so that one is whole."""
        try:
            yield
        except (OSError, RuntimeError) as exc:
            if not disk_full(exc):
                raise
            last = self.run_dir / "last.pt"
            if self.saved_epoch is None:
                raise DiskFull(f"disk full in {self.run_dir}: no checkpoint of this run was written yet",
                               hint="free some space and start again") from None
            raise DiskFull(f"disk full in {self.run_dir}: nothing lost, the last good checkpoint is epoch "
                           f"{self.saved_epoch} ({last})",
                           hint=f"free some space, then continue with --resume {last}") from None

    # ---- files of the run directory

    def write_config(self) -> None:
        if not self.dist.main:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        checkpoint.remove_stale_temps(self.run_dir)
        resolved = {**asdict(self.cfg), "epochs": self.epochs, "device": str(self.device),
                    "world_size": self.dist.world, "num_classes": self.data.num_classes,
                    "data_mean": self.prep.mean.tolist(), "data_std": self.prep.std.tolist(),
                    **self.extra_config}
        _write_text(self.run_dir / "config.json", json.dumps(resolved, indent=2) + "\n")
        # The metrics file always agrees with the checkpoint's history (a killed run may have written more).
        _write_text(self.run_dir / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in self.history))

    def log_epoch(self, record: dict[str, Any]) -> None:
        if not self.dist.main:
            return
        with (self.run_dir / "metrics.jsonl").open("a") as f:
            f.write(json.dumps(record) + "\n")
        self.console.print(
            f"epoch {record['epoch']:>3}/{self.epochs}  "
            f"train loss {record['train_loss']:.4f} top1 {100 * record['train_top1']:5.1f}%  "
            f"val loss {record['val_loss']:.4f} top1 {100 * record['val_top1']:5.1f}% "
            f"top5 {100 * record['val_top5']:5.1f}%  lr {record['lr']:.2g}  "
            f"{record['images_per_s']:,.0f} img/s  {record['time_s']:.1f}s", highlight=False)

    # ---- one step, one epoch

    def autocast(self) -> Any:
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def train_step(self, x: torch.Tensor, y: torch.Tensor, valid: torch.Tensor, meter: Meter) -> None:
        with self.autocast():
            logits, aux = split_outputs(self.train_net(x))
            losses = F.cross_entropy(logits.float(), y, reduction="none",
                                     label_smoothing=self.cfg.label_smoothing)
            loss = losses.mean()
            for a in aux:
                aux_loss = F.cross_entropy(a.float(), y, label_smoothing=self.cfg.label_smoothing)
                loss = loss + AUX_WEIGHT * aux_loss
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
        if self.cfg.clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        meter.add(losses, logits.detach(), y, valid)

    def train_epoch(self) -> dict[str, float]:
        """One pass over the training set; stops early (state kept consistent) when a stop is requested."""
        self.train_net_mode(True)
        skip = self.step_in_epoch
        if skip and self.resume_rng is not None:
            checkpoint.set_rng_state(self.resume_rng)  # mid-epoch: continue the saved RNG streams
        else:
            torch.manual_seed(epoch_seed(self.cfg.seed, self.epoch, self.dist.rank))
        self.resume_rng = None
        meter = self.meter = Meter(self.device, self.partial if skip else None)
        self.train_loader.set_epoch(self.epoch)
        steps = len(self.train_loader)
        start = self.epoch_start = time.perf_counter() - (self.partial_time if skip else 0.0)
        seen = 0
        with self.progress(steps, skip) as advance:
            for batch in self.train_loader.batches(skip):
                self.schedule.before_step(self.epoch * steps + self.step_in_epoch)
                x = self.prep(batch.x)
                if self.augment is not None:
                    x = self.augment(x)
                x = x.contiguous(memory_format=self.memory_format)
                self.train_step(x, batch.y, batch.valid, meter)
                self.step_in_epoch += 1
                seen += batch.x.shape[0]
                advance(seen * self.dist.world / max(time.perf_counter() - start, 1e-9))
                if self.stop_requested:
                    raise KeyboardInterrupt
        elapsed = time.perf_counter() - start
        out = meter.reduce(self.dist)
        out["time_s"] = elapsed
        out["images_per_s"] = out["count"] / max(elapsed, 1e-9)
        return out

    def train_net_mode(self, training: bool) -> None:
        self.model.train(training)

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Loss, top-1, top-5 on the validation set (centre crop, or AlexNet's 10 crops averaged)."""
        self.train_net_mode(False)
        meter = Meter(self.device)
        for batch in self.val_loader.batches():
            if self.stop_requested:
                raise KeyboardInterrupt
            x = self.prep(batch.x)
            with self.autocast():
                if self.cfg.ten_crop:
                    probs = torch.stack([
                        F.softmax(split_outputs(self.eval_net(c.contiguous(memory_format=self.memory_format)))[0]
                                  .float(), dim=1) for c in ten_crops(x, self.height, self.width)]).mean(0)
                    scores = probs.clamp_min(1e-12).log()
                    losses = F.nll_loss(scores, batch.y, reduction="none")
                else:
                    if x.shape[-2:] != (self.height, self.width):
                        x = center_crop(x, self.height, self.width)
                    scores = split_outputs(self.eval_net(x.contiguous(memory_format=self.memory_format)))[0]
                    scores = scores.float()
                    losses = F.cross_entropy(scores, batch.y, reduction="none")
            meter.add(losses, scores, batch.y, batch.valid)
        return meter.reduce(self.dist)

    # ---- Ctrl-C

    @contextmanager
    def catch_sigint(self) -> Iterator[None]:
        """The first Ctrl-C asks the loop to stop at the next step boundary; a second one stops at once.
        SIGTERM (a batch scheduler, ``docker stop``) is handled the same way, so it saves too."""
        if self.dist.world > 1 or not _is_main_thread():
            yield
            return

        def handler(signum: int, frame: FrameType | None) -> None:
            self.terminated = self.terminated or signum == signal.SIGTERM
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    @contextmanager
    def progress(self, total: int, done: int) -> Iterator[Callable[[float], None]]:
        """A rich progress bar with images/s on a terminal (rank 0 only); nothing otherwise."""
        if not (self.dist.main and self.console.is_terminal):
            yield lambda ips: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        columns = (TextColumn(f"epoch {self.epoch + 1}/{self.epochs}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[ips]:>8,.0f} img/s"), TimeElapsedColumn())
        with Progress(*columns, console=self.console, transient=True) as bar:
            task = bar.add_task("train", total=total, completed=done, ips=0.0)
            yield lambda ips: bar.update(task, advance=1, ips=ips)

    # ---- the whole run

    def fit(self) -> dict[str, Any]:
        """Train from the current epoch to the last; returns the last epoch's metrics."""
        with self.disk_full_is_one_line():
            return self._fit()

    def _fit(self) -> dict[str, Any]:
        self.write_config()
        for note in self.data.notes:
            if self.dist.main:
                self.console.print(f"note: {note}", highlight=False)
        try:
            with self.catch_sigint():
                while self.epoch < self.epochs:
                    train = self.train_epoch()
                    val = self.evaluate()
                    self.schedule.after_epoch(self.epoch, val["top1"])
                    record = {"epoch": self.epoch + 1, "lr": self.schedule.lr,
                              **{f"train_{k}": train[k] for k in ("loss", "top1", "top5")},
                              **{f"val_{k}": val[k] for k in ("loss", "top1", "top5")},
                              "time_s": train["time_s"], "images_per_s": train["images_per_s"]}
                    improved = val["top1"] > self.best
                    self.best = max(self.best, val["top1"])
                    self.epoch += 1
                    self.step_in_epoch, self.partial, self.partial_time, self.meter = 0, None, 0.0, None
                    self.history.append(record)
                    self.save("last.pt")
                    if improved:
                        self.save("best.pt")
                    self.log_epoch(record)
                    if self.should_stop():
                        break
        except KeyboardInterrupt:
            # Saved as: the epoch in progress, its completed steps, their metric sums and the RNG states.
            if self.step_in_epoch and self.meter is not None:
                self.partial = self.meter.sums.tolist()
                self.partial_time = time.perf_counter() - self.epoch_start
            with _signals_held():  # a further Ctrl-C here would cut the save short and end by signal (-2)
                path = self.save("last.pt")
                if self.dist.main:
                    self.plot()  # the curves of the epochs that finished
            if self.terminated:
                raise Terminated(f"terminated (SIGTERM); saved {path}", hint=f"continue with --resume {path}") from None
            raise Interrupted(f"interrupted; saved {path}", hint=f"continue with --resume {path}") from None
        if self.dist.main:
            self.plot()
        return self.history[-1] if self.history else {}

    @property
    def best_epoch(self) -> int | None:
        """The epoch (1-based) with the best validation top-1 so far (the first, on a tie)."""
        if not self.history:
            return None
        return int(max(self.history, key=lambda r: (r["val_top1"], -r["epoch"]))["epoch"])

    def should_stop(self) -> bool:
        """Early stopping: ``stop_patience`` epochs in a row without a better validation top-1."""
        patience = self.cfg.stop_patience
        best = self.best_epoch
        if not patience or best is None or self.epoch - best < patience or self.epoch >= self.epochs:
            return False
        self.stopped_early = self.epoch
        if self.dist.main:
            self.console.print(f"early stop after epoch {self.epoch}: no better val top-1 for {patience} epochs"
                               f" (best at epoch {best})", highlight=False)
        return True

    def plot(self) -> None:
        """training curves → curves.png (matplotlib imported only here, Agg backend)."""
        if not self.history:
            return
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            self.console.print("note: matplotlib is not installed; no curves.png", highlight=False)
            return
        epochs = [r["epoch"] for r in self.history]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
        for side in ("train", "val"):
            ax1.plot(epochs, [r[f"{side}_loss"] for r in self.history], label=side)
            ax2.plot(epochs, [100 * r[f"{side}_top1"] for r in self.history], label=f"{side} top-1")
        ax2.plot(epochs, [100 * r["val_top5"] for r in self.history], "--", label="val top-5")
        best = self.best_epoch
        for ax in (ax1, ax2):
            if best is not None:
                ax.axvline(best, color="grey", ls=":", lw=1, label=f"best (epoch {best})")
            for prev, rec in zip(self.history, self.history[1:], strict=False):
                if rec["lr"] < prev["lr"] * 0.999:
                    ax.axvline(rec["epoch"] - 0.5, color="tab:red", ls="--", lw=0.7, alpha=0.5)
        ax1.set(xlabel="epoch", ylabel="loss", title="loss")
        ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy (red dashes: learning-rate drops)")
        ax1.legend()
        ax2.legend()
        name = self.extra_config.get("spec_name") or self.cfg.spec
        fig.suptitle(f"{name} on {self.data.name}: {len(self.history)} epochs", fontsize=10)
        fig.tight_layout()
        fig.savefig(self.run_dir / "curves.png", dpi=100)
        plt.close(fig)

    def close(self) -> None:
        if self.dist.world > 1:
            import torch.distributed as tdist

            if tdist.is_initialized():
                tdist.destroy_process_group()


@contextmanager
def _signals_held() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM for the block (the save after a Ctrl-C, under a second), main thread only."""
    if not _is_main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _write_text(path: Path, text: str) -> None:
    """Replace a small text file atomically."""
    write_atomic(path, text)
