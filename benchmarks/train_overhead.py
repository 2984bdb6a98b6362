"""Does ``archcalc train`` cost anything over a hand-written loop? Training steps/s, side by side.

The archcalc trainer (``Run.train_epoch``: per-batch uint8 → float and normalisation on the device,
learning-rate schedule, on-device loss/top-1/top-5 meters, progress hook, Ctrl-C check) and a minimal
hand-written PyTorch loop (pre-normalised float tensors, forward, cross-entropy, backward, SGD step) train
two copies of the same spec-built model on the same data with the same recipe (SGD momentum 0.9,
lr 1e-2, weight decay 5e-4, batch 128). Augmentation is off for the comparison, since the hand loop has
none (``--augment`` times the trainer with its random crops too, for information).

One repetition is one epoch of each, in alternating order, so load from other processes falls on both
alike; reported are the median steps/s of each and the median of the per-repetition ratios
trainer ÷ hand loop. Target: ≥ 0.95.

    .venv/bin/python benchmarks/train_overhead.py                       # lenet5 on synthetic data
    .venv/bin/python benchmarks/train_overhead.py --spec lenet5 --data digits --reps 15 --threads 1
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
from collections.abc import Callable

# As ``archcalc train`` does (archcalc/cli/train.py): OpenMP threads sleep rather than spin while
# waiting, which keeps a shared CPU usable. Both loops run in this process, under the same policy.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn.functional as F
from torch import nn

from archcalc.backends.torch import data as datasets
from archcalc.backends.torch.build import build_model
from archcalc.backends.torch.trainer import Config, Run
from archcalc.spec import load


def hand_loop(model: nn.Module, x_all: torch.Tensor, y_all: torch.Tensor, batch: int) -> Callable[[int], float]:
    """The minimal loop: returns a function running one shuffled epoch and giving its steps/s."""
    opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9, weight_decay=5e-4)
    gen = torch.Generator().manual_seed(0)

    def epoch(_: int) -> float:
        model.train()
        order = torch.randperm(len(y_all), generator=gen)
        start = time.perf_counter()
        steps = 0
        for i in range(0, len(order), batch):
            idx = order[i: i + batch]
            loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
        return steps / (time.perf_counter() - start)

    return epoch


def trainer_loop(run: Run) -> Callable[[int], float]:
    def epoch(index: int) -> float:
        run.epoch, run.step_in_epoch = index, 0
        start = time.perf_counter()
        run.train_epoch()
        return len(run.train_loader) / (time.perf_counter() - start)

    return epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="lenet5")
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--augment", action="store_true", help="time the trainer with augmentation on")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    graph = load(args.spec)
    shape = tuple(int(v) for v in graph.input_shape)
    input_shape = (shape[0], shape[1], shape[2])
    model = build_model(graph, init="default", seed=0)
    data = datasets.load(args.data, input_shape)

    with tempfile.TemporaryDirectory() as tmp:
        cfg = Config(spec=args.spec, data=args.data, batch=args.batch, device="cpu", run_dir=tmp,
                     augment=args.augment, epochs=10 * args.reps)
        run = Run(copy.deepcopy(model), data, cfg, input_shape)
        assert data.train.images is not None
        x_all = torch.cat([run.prep(chunk) for chunk in torch.split(data.train.images, 1024)])
        hand = hand_loop(copy.deepcopy(model), x_all, data.train.labels, args.batch)
        ours = trainer_loop(run)
        hand(0)  # warm-up (allocator, kernels) for both
        ours(0)
        hand_rates: list[float] = []
        our_rates: list[float] = []
        ratios: list[float] = []
        for rep in range(args.reps):
            if rep % 2:
                r_ours, r_hand = ours(rep + 1), hand(rep + 1)
            else:
                r_hand, r_ours = hand(rep + 1), ours(rep + 1)
            hand_rates.append(r_hand)
            our_rates.append(r_ours)
            ratios.append(r_ours / r_hand)

    steps = len(run.train_loader)
    print(f"{args.spec} {'×'.join(map(str, input_shape))} on {args.data}: batch {args.batch}, {steps} steps/epoch, "
          f"{args.reps} repetitions, {torch.get_num_threads()} threads, augmentation "
          f"{'on (trainer only)' if args.augment else 'off'}")
    print(f"  hand-written loop  {statistics.median(hand_rates):8.1f} steps/s")
    print(f"  archcalc trainer   {statistics.median(our_rates):8.1f} steps/s")
    ratio = statistics.median(ratios)
    spread = f"{min(ratios):.3f}..{max(ratios):.3f}"
    print(f"  ratio trainer/hand {ratio:8.3f}  (median of per-repetition ratios; range {spread}; "
          f"target ≥ 0.95: {'met' if ratio >= 0.95 else 'NOT met'})")


if __name__ == "__main__":
    main()
