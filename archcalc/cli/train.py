"""``archcalc train``: train a spec on digits, MNIST, CIFAR-10 or an image folder; one process or many.

Torch is imported inside the command, so the symbolic commands never pay for it. Defaults are the
seeds' AlexNet/VGG recipe (see ``archcalc.backends.torch.trainer``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from archcalc.cli.completion import spec_argument_completion
from archcalc.cli.options import MAX_EPOCHS, SEED, FiniteFloatRange, force_build_option
from archcalc.cli.paths import check_folder
from archcalc.errors import ArchcalcError, OptionError
from archcalc.vocab import DEVICES, INIT_SCHEMES, OPTIMIZERS, TRAIN_PRECISIONS


@click.command("train", epilog="""\b
Examples:
  archcalc train lenet5                                # bundled 8×8 digits, no download
  archcalc train lenet5 --epochs 30 --patience 5       # stop after 5 epochs without a better val top-1
  archcalc train resnet20 --data cifar10:~/data/cifar10 --device cuda
  archcalc train --resume runs/lenet5-…/last.pt        # continue an interrupted run""")
@click.argument("spec", required=False, shell_complete=spec_argument_completion)
@force_build_option
@click.option("--data", default=None, metavar="SOURCE",
              help="digits (default; bundled, no download), synthetic, mnist:DIR, cifar10:DIR, "
                   "imagefolder:DIR.")
@click.option("--epochs", type=click.IntRange(1, MAX_EPOCHS), default=None,
              help="Epochs (default per data set: digits 60, mnist 10, cifar10 30, imagefolder 90).")
@click.option("--batch", type=click.IntRange(min=1), default=None, help="Batch size per process [128].")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Learning rate [1e-2 for SGD, 1e-3 for Adam/AdamW].")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=None,
              help="SGD with momentum 0.9 [momentum], plain sgd, nesterov, rmsprop, adam or adamw;"
                   " weight decay 5e-4.")
@click.option("--schedule", type=click.Choice(["plateau", "step", "cosine", "none"]), default=None,
              help="Learning rate ÷10 on a validation plateau [plateau], ÷10 at each third, or cosine.")
@click.option("--warmup", type=click.IntRange(0, MAX_EPOCHS), default=None, help="Epochs of linear warm-up [0].")
@click.option("--patience", "stop_patience", type=click.IntRange(0, MAX_EPOCHS), default=None, metavar="N",
              help="Stop early after N epochs without a better validation top-1 [0: off].")
@click.option("--label-smoothing", type=FiniteFloatRange(0, 1, max_open=True), default=None,
              help="Label smoothing [0].")
@click.option("--clip", type=click.FloatRange(min=0), default=None, help="Clip the gradient norm (0: off).")
@click.option("--device", type=click.Choice(DEVICES), default=None,
              help="Device [cuda if available, else cpu].")
@click.option("--precision", type=click.Choice(TRAIN_PRECISIONS), default=None,
              help="Autocast precision [fp32]; fp16 uses a gradient scaler (CUDA).")
@click.option("--channels-last", is_flag=True, default=None, help="Channels-last memory format.")
@click.option("--compile", "compile_", is_flag=True, default=None, help="torch.compile the model.")
@click.option("--run-dir", type=click.Path(), default=None, metavar="DIR",
              help="Where checkpoints and metrics go [runs/SPEC-TIME, or the resumed checkpoint's folder].")
@click.option("--resume", type=click.Path(dir_okay=False), default=None, metavar="CKPT",
              help="Continue a run from a checkpoint (last.pt); its configuration is the default.")
@click.option("--eval-only", is_flag=True, help="Evaluate the --resume checkpoint on the validation set.")
@click.option("--seed", type=SEED, default=None, help="Seed for initialisation, shuffling, augmentation [0].")
@click.option("--set", "assignments", multiple=True, metavar="NAME=VALUE",
              help="Override a spec variable, e.g. --set num_classes=100 (repeatable).")
@click.option("--input", "input_text", metavar="CxHxW", help="Override the input shape, e.g. 3x32x32.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="DataLoader workers for image folders [4].")
@click.option("--scale-jitter", is_flag=True, default=None,
              help="VGG scale jittering: rescale each batch to S∈[256,512]/224 × the input, then crop.")
@click.option("--ten-crop", is_flag=True, default=None,
              help="AlexNet's 10-crop evaluation (corners, centre, mirrors; softmax averaged).")
@click.option("--no-augment", "augment", flag_value=False, default=None,
              help="Train without random crops and flips.")
@click.option("--init", type=click.Choice(INIT_SCHEMES), default=None,
              help="Weight initialisation [the spec's recipe, else torch's].")
@click.option("--weights", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Start from these weights (fine-tuning): a state dict in the spec's or the reference's"
                   " layout (.pt/.pth/.safetensors), or an archcalc checkpoint.")
def train_command(
        spec: str | None, data: str | None, epochs: int | None, batch: int | None, lr: float | None,
                  optimizer: str | None, schedule: str | None, warmup: int | None,
                  label_smoothing: float | None, clip: float | None, stop_patience: int | None,
                  device: str | None,
                  precision: str | None, channels_last: bool | None, compile_: bool | None,
                  run_dir: str | None, resume: str | None, eval_only: bool, seed: int | None,
                  assignments: tuple[str, ...], input_text: str | None, workers: int | None,
                  scale_jitter: bool | None, ten_crop: bool | None, augment: bool | None,
                  init: str | None, weights: str | None) -> None:
    """Train SPEC (a zoo name or a YAML file), or evaluate a checkpoint with --eval-only --resume CKPT."""
    given: dict[str, Any] = {
        "data": data, "epochs": epochs, "batch": batch, "lr": lr, "optimizer": optimizer,
        "schedule": schedule, "warmup": warmup, "label_smoothing": label_smoothing, "clip": clip,
        "stop_patience": stop_patience,
        "device": device, "precision": precision, "channels_last": channels_last, "compile": compile_,
        "run_dir": run_dir, "seed": seed, "workers": workers, "scale_jitter": scale_jitter,
        "ten_crop": ten_crop, "augment": augment, "init": init}
    given = {k: v for k, v in given.items() if v is not None}
    try:
        _train(spec, given, resume, eval_only, assignments, input_text, weights)
    except ArchcalcError as err:
        click.echo(err.format(), err=True)
        raise SystemExit(int(err.exit_code)) from None


def _train(spec: str | None, given: dict[str, Any], resume: str | None, eval_only: bool,
           assignments: tuple[str, ...], input_text: str | None, weights: str | None = None) -> None:
    from archcalc.cli.options import passive_openmp, require_torch

    passive_openmp()

    require_torch("torch,train")
    import torch

    from archcalc.analysis import Analysis
    from archcalc.backends.torch import checkpoint
    from archcalc.backends.torch import data as datasets
    from archcalc.backends.torch.trainer import Run
    from archcalc.backends.torch.weights import build_with_weights
    from archcalc.cli.output import plain_console
    from archcalc.spec import load

    console = plain_console(highlight=False, soft_wrap=True)
    if eval_only and resume is None:
        raise OptionError("--eval-only needs --resume CKPT (the checkpoint to evaluate)")
    if weights is not None and resume is not None:
        raise OptionError("give --weights (start a new run from weights) or --resume (continue a run), not both")
    state = checkpoint.load(Path(resume)) if resume is not None else None
    cfg = _config(spec, given, state, resume, assignments, input_text, console)
    if not eval_only:  # where checkpoints go, checked before the network is built or data loaded
        check_folder(cfg.run_dir, "--run-dir")

    analysis = Analysis(load(cfg.spec, cfg.overrides, tuple(cfg.input) if cfg.input else None))
    graph = analysis.graph
    shape3 = tuple(int(v) for v in graph.input_shape)
    if len(shape3) != 3:
        raise OptionError(f"{cfg.spec} takes a vector input {shape3}; archcalc train needs images (C×H×W)")
    input_shape = (shape3[0], shape3[1], shape3[2])
    out = analysis.output.shape
    if len(out) != 1:
        raise OptionError(f"the network's output has shape {out}, not (classes,); archcalc train needs a"
                          " classifier")
    classes = out[0]
    torch.manual_seed(cfg.seed)
    model, loaded = build_with_weights(analysis, weights, init=cfg.init, seed=cfg.seed)
    data = datasets.load(cfg.data, input_shape, num_classes=classes)
    if data.num_classes < classes:
        data.notes.append(f"{data.name} has {data.num_classes} classes; the classifier has {classes} outputs "
                          f"(--set num_classes={data.num_classes} matches them)")
    run = Run(model, data, cfg, input_shape, console=console, resume=state,
              extra_config={"spec_name": graph.meta.name, "input_shape": list(input_shape),
                            **({"weights": str(weights)} if weights is not None else {})})
    if loaded is not None and run.dist.main:
        console.print(f"weights from {weights}: matched {loaded.describe()}")
    try:
        if eval_only:
            metrics = run.evaluate()
            if run.dist.main:
                console.print(f"{resume}: val loss {metrics['loss']:.4f}  "
                              f"top-1 {100 * metrics['top1']:.2f}%  top-5 {100 * metrics['top5']:.2f}%  "
                              f"({int(metrics['count'])} images{', 10 crops' if cfg.ten_crop else ''})")
            return
        if run.dist.main:
            console.print(f"training {graph.meta.name} {'×'.join(map(str, input_shape))} on {data.name} "
                          f"({len(data.train)} train / {len(data.val)} val, {data.num_classes} classes) "
                          f"on {run.device}"
                          f"{f' × {run.dist.world} processes' if run.dist.world > 1 else ''}: "
                          f"{run.epochs} epochs, batch {cfg.batch}, {cfg.optimizer} lr {cfg.lr:g}, "
                          f"{cfg.schedule} schedule → {run.run_dir}")
        start = time.perf_counter()
        run.fit()
        if run.dist.main:
            stopped = f" (stopped early after epoch {run.stopped_early})" if run.stopped_early else ""
            console.print(f"done in {time.perf_counter() - start:.1f}s{stopped}: "
                          f"best val top-1 {100 * run.best:.2f}% at epoch {run.best_epoch}; {run.run_dir}/ has"
                          " last.pt, best.pt, metrics.jsonl, config.json, curves.png")
    finally:
        run.close()


def _config(spec: str | None, given: dict[str, Any], state: dict[str, Any] | None,
            resume: str | None, assignments: tuple[str, ...], input_text: str | None, console: Any) -> Any:
    """The run's configuration: the checkpoint's when resuming, with the options given on top."""
    from archcalc.backends.torch.checkpoint import CheckpointError
    from archcalc.backends.torch.trainer import Config
    from archcalc.cli.options import parse_assignments, parse_input

    if state is not None and resume is not None:
        problem = Config.type_problem(state["config"])
        if problem:
            raise CheckpointError(f"{resume} is not a checkpoint archcalc wrote: {problem}")
        values = {**state["config"], **given}
        if "run_dir" not in given:
            values["run_dir"] = str(Path(resume).parent)
        cfg = Config.from_dict(values)
        if spec is not None:
            cfg.spec = spec
        if assignments:
            cfg.overrides = {**cfg.overrides, **parse_assignments(assignments)}
        if input_text is not None:
            cfg.input = list(parse_input(input_text) or ()) or None
        cfg.check()
        return cfg
    if spec is None:
        raise OptionError("archcalc train needs a SPEC (a zoo name or a YAML file)",
                          hint="e.g. archcalc train lenet5")
    if given.get("optimizer") in ("adam", "adamw") and "lr" not in given:
        given["lr"] = 1e-3
        console.print("note: --optimizer adam(w) without --lr: using lr 1e-3")
    cfg = Config.from_dict({"spec": spec, **given})
    cfg.overrides = parse_assignments(assignments)
    shape = parse_input(input_text)
    cfg.input = list(shape) if shape is not None else None
    if not cfg.run_dir:
        name = Path(spec).stem if spec.endswith((".yaml", ".yml")) else spec
        cfg.run_dir = str(Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")
    cfg.check()
    return cfg
