"""archcalc against the peers users reach for (torchinfo, fvcore), on the same networks, in one run.

For each network: archcalc's whole pipeline from the YAML file (parse, expand, analyse, report — no
tensors) against torchinfo.summary and fvcore's FlopCountAnalysis + parameter_count on the built model
(they need a model and run a forward pass; building the model is not counted against them). Prints the
median times, the ratio peer/archcalc, and each tool's parameter and MAC figures so they can be
reconciled with archcalc's methodology (README, "Methodology").

Run: ``make bench-peers`` (installs the peers into .venv-bench only) or
``python benchmarks/bench_peers.py [--repeat N] [NAME ...]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from archcalc.analysis import analyze
from archcalc.report import build_report
from archcalc.spec import load

NETWORKS = ["alexnet", "vgg16", "resnet50", "googlenet_tv", "inception_v3"]


def median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("names", nargs="*", default=NETWORKS)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import torch

    from archcalc.backends.torch.build import build_model

    try:
        import torchinfo
    except ImportError:
        torchinfo = None
    try:
        from fvcore.nn import FlopCountAnalysis, parameter_count
    except ImportError:
        FlopCountAnalysis = None

    torch.set_num_threads(max(torch.get_num_threads(), 1))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.repeat} runs;"
          " MACs are multiply-accumulates (fvcore's 'flops', torchinfo's 'mult-adds')\n")
    header = f"{'network':14s} {'tool':10s} {'seconds':>9s} {'× archcalc':>11s} {'params':>14s} {'MACs':>16s}"
    print(header)
    print("-" * len(header))
    for name in args.names:
        def ours(name: str = name) -> Any:
            a = analyze(load(name))
            build_report(a)
            return a

        t_ours, a = median_time(ours, args.repeat)
        print(f"{name:14s} {'archcalc':10s} {t_ours:9.4f} {1.0:11.1f} {a.totals.params:14,d} {a.totals.macs:16,d}")
        model = build_model(a.graph).eval()
        shape = (1, *a.graph.input_shape)
        if torchinfo is not None:
            def ti(model: Any = model, shape: tuple[int, ...] = shape) -> Any:
                return torchinfo.summary(model, input_size=shape, verbose=0)

            t, s = median_time(ti, args.repeat)
            print(f"{'':14s} {'torchinfo':10s} {t:9.4f} {t / t_ours:11.1f} {s.total_params:14,d}"
                  f" {s.total_mult_adds:16,d}")
        if FlopCountAnalysis is not None:
            x = torch.zeros(shape)

            def fv(model: Any = model, x: Any = x) -> Any:
                with torch.no_grad():
                    flops = FlopCountAnalysis(model, x)
                    flops.unsupported_ops_warnings(False)
                    flops.uncalled_modules_warnings(False)
                    return flops.total(), parameter_count(model)[""]

            t, (macs, params) = median_time(fv, args.repeat)
            print(f"{'':14s} {'fvcore':10s} {t:9.4f} {t / t_ours:11.1f} {params:14,d} {int(macs):16,d}")
    print("\nMAC differences come from what each tool counts; `archcalc verify NAME` itemises them against"
          " fvcore layer by layer (README, 'Methodology').")


if __name__ == "__main__":
    main()
