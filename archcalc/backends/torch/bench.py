"""The bench harness: how fast a spec-built model runs, how much memory it takes, how close to peak.

Every measured figure sits beside archcalc's symbolic prediction, as nanoGPT's ``estimate_mfu`` pairs
analytic FLOPs with measured time:

* **throughput** = total images / total window time; latency per batch as median, p90, p99;
* **FLOPs** from archcalc's MACs: forward 2·MACs per image; train 3× forward (6·MACs: the backward
  pass costs about twice the forward), or with ``train_flops="exact"`` 2·(MACs + backward MACs) from
  archcalc's own backward count; the row says which;
* **MFU** = achieved FLOP/s / the device's dense peak for the precision (``peaks.py``), omitted with
  the reason for a device not in that table;
* **memory**: on CUDA ``max_memory_allocated`` against the training (or inference) estimate; on CPU
  autograd's saved-tensor bytes against ``Analysis.saved_bytes`` (which should match exactly), with
  the process's peak RSS beside.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from archcalc.analysis import Analysis
from archcalc.backends.torch import bench_memory, bench_timing, peaks
from archcalc.backends.torch.bench_env import device_name
from archcalc.backends.torch.device import resolve_device
from archcalc.backends.torch.optim import make_optimizer
from archcalc.errors import ArchcalcError, ExitCode, OptionError
from archcalc.report.fmt import human_bytes
from archcalc.vocab import PRECISIONS

MODES = ("infer", "train")
_AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}
#: Auto batch never proposes more than this (a sanity cap for tiny networks).
AUTO_BATCH_CAP = 1 << 16


class BenchOutOfMemory(ArchcalcError):
    """A configuration ran out of device memory; the message carries the prediction and a batch that fits."""

    exit_code = ExitCode.FAILURE


@dataclass(frozen=True)
class BenchOptions:
    """What to measure; mirrors the command line of ``archcalc bench``."""

    device: str = "cpu"
    modes: tuple[str, ...] = ("infer",)
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    compile_backend: str = "inductor"
    batches: tuple[int, ...] = (1,)
    auto_batch: bool = False
    warmup: int = 3
    iters: int | None = 20
    seconds: float | None = None
    optimizer: str = "momentum"
    budget: int | None = None
    vs_plain: bool = False
    train_flops: str = "3x"


@dataclass
class BenchResult:
    """One configuration's measurements beside archcalc's predictions (plain data, JSON-able)."""

    spec: str
    model: str  # "spec" or "plain"
    mode: str
    batch: int
    device: str
    device_name: str
    precision: str
    channels_last: bool
    compiled: bool
    status: str = "ok"  # "ok" or "oom"
    error: str | None = None
    iters: int = 0
    window_s: float = 0.0
    images_per_s: float | None = None
    ms_per_batch: float | None = None
    latency_median_ms: float | None = None
    latency_p90_ms: float | None = None
    latency_p99_ms: float | None = None
    compile_s: float | None = None
    mem_measured_bytes: int | None = None
    mem_measured_kind: str | None = None
    mem_predicted_bytes: int | None = None
    mem_ratio: float | None = None
    rss_peak_bytes: int | None = None
    weight_cast_bytes: int | None = None
    train_memory_predicted_bytes: int | None = None
    macs_per_image: int = 0
    flops_per_image: float = 0.0
    flops_basis: str = ""
    achieved_flops: float | None = None
    peak_flops: float | None = None
    mfu: float | None = None
    mfu_note: str = ""
    vs_plain_ratio: float | None = None
    auto_batch_note: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- device and precision --------------------------------------------------------------------

def check_options(opts: BenchOptions, device: torch.device) -> None:
    """Reject combinations that cannot be measured honestly."""
    if opts.precision not in PRECISIONS:
        raise OptionError(f"unknown precision '{opts.precision}' (choose from {', '.join(PRECISIONS)})")
    if opts.precision == "tf32" and device.type != "cuda":
        raise OptionError("--precision tf32 is a CUDA tensor-core mode", hint="use fp32 on cpu and mps")
    if opts.iters is None and opts.seconds is None:
        raise OptionError("give --iters N or --seconds S")
    if opts.iters is not None and opts.iters < 1:
        raise OptionError("--iters must be at least 1")
    if opts.seconds is not None and opts.seconds <= 0:
        raise OptionError("--seconds must be positive")
    if opts.train_flops not in ("3x", "exact"):
        raise OptionError("--train-flops must be 3x or exact")
    for mode in opts.modes:
        if mode not in MODES:
            raise OptionError(f"unknown mode '{mode}' (choose from infer, train, both)")


def configure_backends(device: torch.device, precision: str) -> None:
    """TF32 only for ``tf32`` (PyTorch enables it for cuDNN convolutions by default); cudnn.benchmark on."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        tf32 = precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32


def autocast_factory(device: torch.device, precision: str) -> Callable[[], Any] | None:
    """A context-manager factory for the half precisions (autocast), None for fp32/tf32."""
    dtype = _AUTOCAST.get(precision)
    if dtype is None:
        return None

    def make() -> Any:
        return torch.autocast(device_type=device.type, dtype=dtype)

    return make


def is_oom(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocator failure (CUDA, MPS or the CPU allocator)."""
    if isinstance(exc, torch.cuda.OutOfMemoryError | MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text
                                              or "Storage size calculation overflowed" in text)  # --batch 2**62


def free_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


def memory_budget(device: torch.device) -> int:
    """Bytes a batch may use when none is given: free device memory, or half of available RAM on CPU.

    On CPU an over-allocation is not an exception but the kernel's OOM killer, so the CPU budget
    is deliberately conservative.
    """
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "mps":
        return int(torch.mps.recommended_max_memory())
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 // 2
    except OSError:
        pass
    return 4 * 10**9


# ---- predictions -----------------------------------------------------------------------------

def predicted_memory(a: Analysis, mode: str, batch: int, optimizer: str) -> int:
    """archcalc's memory estimate for one configuration, in bytes.

    Train: parameters + gradients + optimizer state + saved activations. Infer: parameters and
    buffers plus the liveness peak of activations.
    """
    if mode == "train":
        return a.training_memory(batch, optimizer).total
    return a.inference_memory(batch)


def predicted_max_batch(a: Analysis, mode: str, budget: int, optimizer: str) -> int:
    """The largest batch whose estimate fits ``budget`` (0 when even the weights do not)."""
    if mode == "train":
        return a.max_batch(budget, optimizer)
    return a.max_inference_batch(budget)


def flops_per_image(a: Analysis, mode: str, train_flops: str) -> tuple[float, str]:
    """FLOPs per image for the MFU and the basis in words (stated on every row)."""
    fwd = 2 * a.totals.macs
    if mode == "infer":
        return float(fwd), "forward 2·MACs"
    if train_flops == "exact":
        return float(2 * (a.totals.macs + a.totals.bwd_macs)), "train 2·(MACs + backward MACs), exact"
    return float(3 * fwd), "train ≈ 3× forward = 6·MACs"


# ---- one configuration -----------------------------------------------------------------------

@dataclass
class Subject:
    """A model under test: the spec-built one or its hand-written twin."""

    label: str
    module: nn.Module


class Runner:
    """Runs configurations of one spec (and optionally its plain twin) on one device."""

    def __init__(self, analysis: Analysis, spec_name: str, opts: BenchOptions, subjects: list[Subject]):
        graph = analysis.graph
        self.graph = graph
        self.spec_name = spec_name
        self.opts = opts
        self.device = resolve_device(opts.device)
        check_options(opts, self.device)
        if opts.channels_last and len(graph.input_shape) != 3:
            raise OptionError("--channels-last needs a C×H×W input")
        configure_backends(self.device, opts.precision)
        self.analysis = analysis.with_dtype(PRECISIONS[opts.precision])
        self.autocast = autocast_factory(self.device, opts.precision)
        self.subjects = subjects
        self.device_name = device_name(self.device)
        self.peak, self.peak_note = peaks.peak_flops(self.device_name, opts.precision)
        out_shape = self.analysis.output.shape
        self.num_classes = out_shape[0] if len(out_shape) == 1 else None

    # -- inputs and steps
    def _inputs(self, batch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = torch.randn(batch, *self.graph.input_shape, device=self.device)
        if self.opts.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = (torch.randint(0, self.num_classes, (batch,), device=self.device)
             if self.num_classes is not None else None)
        return x, y

    def _loss(self, out: Any, y: torch.Tensor | None) -> torch.Tensor:
        if isinstance(out, tuple | list):
            return sum((self._loss(o, y) for o in out), torch.zeros((), device=self.device))
        if y is not None and out.dim() == 2 and out.shape[1] == self.num_classes:
            return nn.functional.cross_entropy(out.float(), y)
        loss: torch.Tensor = out.float().mean()
        return loss

    def _optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        return make_optimizer(self.opts.optimizer, model.parameters(), lr=1e-4, foreach=True)

    def make_step(self, model: nn.Module, mode: str, batch: int) -> Callable[[], object]:
        """A closure running one batch: inference forward, or forward + backward + optimizer step."""
        x, y = self._inputs(batch)
        autocast = self.autocast or contextlib.nullcontext
        if mode == "infer":
            model.eval()

            def infer() -> object:
                with torch.inference_mode(), autocast():
                    return model(x)

            return infer
        model.train()
        opt = self._optimizer(model)
        scaler = (torch.amp.GradScaler(self.device.type) if self.opts.precision == "fp16" else None)

        def train() -> object:
            with autocast():
                loss = self._loss(model(x), y)
            if scaler is not None:
                scaler.scale(loss).backward()  # type: ignore[no-untyped-call]
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
            opt.zero_grad(set_to_none=True)
            return None

        return train

    def prepare(self, module: nn.Module) -> nn.Module:
        """Move a model to the device and layout; compile it if asked."""
        module = module.to(self.device)
        if self.opts.channels_last:
            module = module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if self.opts.compile:
            compiled: nn.Module = torch.compile(module, backend=self.opts.compile_backend)  # type: ignore[assignment]
            return compiled
        return module

    # -- measurement
    def _blank(self, subject: Subject, mode: str, batch: int) -> BenchResult:
        a = self.analysis
        fpi, basis = flops_per_image(a, mode, self.opts.train_flops)
        return BenchResult(
            spec=self.spec_name, model=subject.label, mode=mode, batch=batch, device=self.device.type,
            device_name=self.device_name, precision=self.opts.precision,
            channels_last=self.opts.channels_last, compiled=self.opts.compile,
            macs_per_image=a.totals.macs, flops_per_image=fpi, flops_basis=basis,
            mem_predicted_bytes=predicted_memory(a, mode, batch, self.opts.optimizer),
            train_memory_predicted_bytes=(a.training_memory(batch, self.opts.optimizer).total
                                          if mode == "train" else None),
            peak_flops=self.peak, mfu_note=self.peak_note,
        )

    def run(self, subject: Subject, mode: str, batch: int,
            on_iter: Callable[[int], None] | None = None) -> BenchResult:
        """Measure one (model, mode, batch) configuration; an OOM becomes a row, not an exception."""
        result = self._blank(subject, mode, batch)
        try:
            self._measure(self.prepare(subject.module), subject, mode, batch, result, on_iter=on_iter)
        except Exception as exc:
            if not is_oom(exc):
                raise
            result.status = "oom"
            result.error = self.oom_message(mode, batch)
        finally:
            self.release(subject)
        return result

    def release(self, subject: Subject) -> None:
        """Take a model off the accelerator so the next configuration's peak is its own."""
        if self.device.type != "cpu":
            subject.module.to("cpu")
        free_memory(self.device)

    def _saved_tensors(self, subject: Subject, mode: str, batch: int, result: BenchResult) -> None:
        """CPU training: autograd's saved bytes against ``saved_bytes(batch)`` (one extra forward)."""
        if self.device.type != "cpu" or mode != "train":
            return
        x, _ = self._inputs(batch)
        # measured on the eager module: saved-tensor hooks are not traced by torch.compile
        saved = bench_memory.saved_tensor_bytes(subject.module, x, self.autocast)
        del x
        result.mem_measured_bytes = saved.nbytes
        result.mem_measured_kind = "saved tensors"
        result.mem_predicted_bytes = self.analysis.saved_bytes(batch)
        if saved.weight_casts:
            result.weight_cast_bytes = saved.weight_casts
            result.notes.append(f"autocast also kept {human_bytes(saved.weight_casts)} of"
                                f" {self.opts.precision} weight copies for backward (counted apart)")

    def _read_peak(self, result: BenchResult) -> None:
        """The allocator's peak since the last reset (CUDA), or what MPS's driver holds."""
        if self.device.type == "cuda":
            result.mem_measured_bytes = int(torch.cuda.max_memory_allocated(self.device))
            result.mem_measured_kind = "cuda max allocated"
        elif self.device.type == "mps":
            result.mem_measured_bytes = int(torch.mps.driver_allocated_memory())
            result.mem_measured_kind = "mps driver allocated"

    def _fill(self, result: BenchResult, window: bench_timing.Window, batch: int) -> None:
        """Throughput, latency percentiles, achieved FLOP/s, MFU and the memory ratio."""
        if result.mem_measured_bytes is not None and result.mem_predicted_bytes:
            result.mem_ratio = result.mem_measured_bytes / result.mem_predicted_bytes
        med, p90, p99 = window.stats_ms()
        result.iters = window.iters
        result.window_s = window.total_s
        result.images_per_s = batch * window.iters / window.total_s
        result.ms_per_batch = window.total_s / window.iters * 1e3
        result.latency_median_ms, result.latency_p90_ms, result.latency_p99_ms = med, p90, p99
        result.achieved_flops = result.flops_per_image * result.images_per_s
        if self.peak is not None:
            result.mfu = result.achieved_flops / self.peak

    def _measure(self, model: nn.Module, subject: Subject, mode: str, batch: int, result: BenchResult, *,
                 on_iter: Callable[[int], None] | None) -> None:
        dev = self.device
        self._saved_tensors(subject, mode, batch, result)
        if dev.type == "cpu":
            bench_memory.reset_peak_rss()
        step = self.make_step(model, mode, batch)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        if self.opts.compile:
            result.compile_s = bench_timing.timed_first_call(step, dev)
        opts = self.opts
        window = bench_timing.measure(step, dev, opts.warmup, opts.iters, opts.seconds, on_iter=on_iter)
        self._read_peak(result)
        if dev.type == "cpu":
            result.rss_peak_bytes = bench_memory.peak_rss_bytes()
        self._fill(result, window, batch)

    def run_pair(self, mode: str, batch: int,
                 on_iter: Callable[[int], None] | None = None) -> list[BenchResult]:
        """Measure every subject at one configuration, their steps alternating (``--vs plain``).

        Memory is measured one model at a time first (each its own peak); then all are placed on the
        device together and timed step by step in rotation, so the ratio between them is not at the
        mercy of load that drifts between two separate windows.
        """
        results = [self._blank(s, mode, batch) for s in self.subjects]
        dev = self.device
        try:
            for subject, result in zip(self.subjects, results, strict=True):
                self._saved_tensors(subject, mode, batch, result)
                if dev.type != "cpu":
                    self._peak_pass(subject, mode, batch, result)
            if dev.type == "cpu":
                bench_memory.reset_peak_rss()
            steps = [self.make_step(self.prepare(s.module), mode, batch) for s in self.subjects]
            if self.opts.compile:
                for step, result in zip(steps, results, strict=True):
                    result.compile_s = bench_timing.timed_first_call(step, dev)
            opts = self.opts
            windows = bench_timing.measure_alternating(steps, dev, opts.warmup, opts.iters, opts.seconds,
                                                       on_iter=on_iter)
            rss = bench_memory.peak_rss_bytes() if dev.type == "cpu" else None
            for result, window in zip(results, windows, strict=True):
                result.rss_peak_bytes = rss
                result.notes.append("timed step by step in alternation with its twin")
                self._fill(result, window, batch)
        except Exception as exc:
            if not is_oom(exc):
                raise
            for result in results:
                result.status, result.error = "oom", self.oom_message(mode, batch)
        finally:
            for subject in self.subjects:
                self.release(subject)
        return results

    def _peak_pass(self, subject: Subject, mode: str, batch: int, result: BenchResult) -> None:
        """A short run of one model alone on the device, for its own peak memory."""
        try:
            step = self.make_step(self.prepare(subject.module), mode, batch)
            if self.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(self.device)
            for _ in range(max(2, self.opts.warmup)):
                step()
            bench_timing.synchronize(self.device)
            self._read_peak(result)
        finally:
            self.release(subject)

    def oom_message(self, mode: str, batch: int) -> str:
        need = predicted_memory(self.analysis, mode, batch, self.opts.optimizer)
        budget = self.opts.budget or memory_budget(self.device)
        fit = predicted_max_batch(self.analysis, mode, budget, self.opts.optimizer)
        advice = (f"largest batch predicted to fit {human_bytes(budget)}: {fit} (try --batch {fit} or"
                  " --batch auto)" if fit else f"even batch 1 does not fit {human_bytes(budget)}")
        return (f"out of memory at batch {batch} ({mode}, {self.opts.precision}) on {self.device_name}:"
                f" archcalc predicts {human_bytes(need)} needed; {advice}")

    # -- batch auto
    def fits(self, subject: Subject, mode: str, batch: int) -> bool:
        """Try two steps at ``batch``; False on an out-of-memory error."""
        try:
            step = self.make_step(self.prepare(subject.module), mode, batch)
            step()
            step()
            bench_timing.synchronize(self.device)
            return True
        except Exception as exc:
            if not is_oom(exc):
                raise
            return False
        finally:
            self.release(subject)

    def auto_batch(self, subject: Subject, mode: str) -> tuple[int, str]:
        """The largest batch that fits: archcalc's prediction, confirmed by trying, else bisected down.

        The prediction leaves out workspace and allocator slack, so it is an upper bound more often
        than not; bisection stops within 5% (or 1).
        """
        budget = self.opts.budget or memory_budget(self.device)
        start = min(predicted_max_batch(self.analysis, mode, budget, self.opts.optimizer), AUTO_BATCH_CAP)
        if start < 1:
            need = predicted_memory(self.analysis, mode, 1, self.opts.optimizer)
            raise BenchOutOfMemory(f"--batch auto: even batch 1 is predicted to need {human_bytes(need)},"
                                   f" more than the budget {human_bytes(budget)}")
        if self.fits(subject, mode, start):
            return start, f"predicted {start} for {human_bytes(budget)}; confirmed by trying"
        lo, hi, tries = 0, start, 1
        while hi - lo > max(1, hi // 20):
            mid = (lo + hi) // 2
            tries += 1
            if self.fits(subject, mode, mid):
                lo = mid
            else:
                hi = mid
        if lo < 1:
            raise BenchOutOfMemory(f"--batch auto: no batch fits (predicted {start} for"
                                   f" {human_bytes(budget)}, but batch 1 ran out of memory)")
        return lo, (f"predicted {start} for {human_bytes(budget)}; {start} ran out of memory,"
                    f" bisected to {lo} in {tries} tries")


# ---- the whole run ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Config:
    """One configuration to measure: mode and batch (None = decided by --batch auto)."""

    mode: str
    batch: int | None


def plan(opts: BenchOptions) -> list[Config]:
    """Every configuration in run order: modes, then batch sizes."""
    # fixed sizes first, then the largest that fits ('1,64,auto')
    batches: list[int | None] = [*opts.batches, *([None] if opts.auto_batch else [])]
    return [Config(mode, b) for mode in opts.modes for b in batches]


def run_all(runner: Runner, on_start: Callable[[Config, int], None] | None = None,
            on_iter: Callable[[int], None] | None = None) -> Iterator[BenchResult]:
    """Measure every planned configuration, yielding each result as it completes.

    With a plain twin both are measured together (``Runner.run_pair``) and each row carries the
    ratio. After an OOM in a mode, larger batches of that mode are skipped (they would fail too) and
    recorded as OOM rows with the same advice. ``--batch auto`` searches with the spec-built model.
    """
    auto: dict[str, tuple[int, str]] = {}
    oom_at: dict[str, int] = {}
    for cfg in plan(runner.opts):
        note = None
        if cfg.batch is None:
            if cfg.mode not in auto:
                auto[cfg.mode] = runner.auto_batch(runner.subjects[0], cfg.mode)
            batch, note = auto[cfg.mode]
        else:
            batch = cfg.batch
        if on_start is not None:
            on_start(cfg, batch)
        failed_at = oom_at.get(cfg.mode)
        if failed_at is not None and batch >= failed_at:
            results = [runner._blank(s, cfg.mode, batch) for s in runner.subjects]
            for r in results:
                r.status, r.error = "oom", runner.oom_message(cfg.mode, batch)
                r.notes.append(f"skipped: batch {failed_at} already ran out of memory")
        elif len(runner.subjects) > 1:
            results = runner.run_pair(cfg.mode, batch, on_iter)
        else:
            results = [runner.run(runner.subjects[0], cfg.mode, batch, on_iter)]
        if any(r.status == "oom" for r in results):
            oom_at[cfg.mode] = batch
        if len(results) > 1 and results[0].images_per_s and results[1].images_per_s:
            ratio = results[0].images_per_s / results[1].images_per_s
            for r in results:
                r.vs_plain_ratio = ratio
        for r in results:
            r.auto_batch_note = note
            yield r
