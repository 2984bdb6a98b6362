"""One peer's analysis of one network, as a user runs it: ``python benchmarks/peer_run.py TOOL NETWORK``.

The process imports torch, builds the network (from archcalc's zoo spec with ``build_model``: the same
layers and parameter counts as archcalc analyses; the build costs the peer a little of archcalc's own
time, which only narrows the ratio) and runs the peer's per-layer analysis at batch 1:

* ``torchinfo``: ``summary(model, input_size, verbose=0)`` (per-layer table and totals);
* ``fvcore``: ``FlopCountAnalysis`` + ``flop_count_table`` + ``parameter_count``;
* ``ptflops``: ``get_model_complexity_info`` with per-layer statistics (pytorch backend), to /dev/null;
* ``none``: import torch, build the network and run one forward pass (the floor under every peer).

``--warm N`` instead times N analyses of the already built model in this process and prints the median
seconds (benchmarks/bench.py's in-process comparison). It prints the parameter count it found so that the
runner can check that like was compared with like.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def analysis(tool: str, model: Any, shape: tuple[int, ...]) -> Callable[[], int]:
    """A call that runs ``tool``'s analysis of ``model`` and returns the parameter count it found."""
    import torch

    if tool == "torchinfo":
        import torchinfo

        def run() -> int:
            return int(torchinfo.summary(model, input_size=shape, verbose=0).total_params)
    elif tool == "fvcore":
        from fvcore.nn import FlopCountAnalysis, flop_count_table, parameter_count

        x = torch.zeros(shape)

        def run() -> int:
            with torch.no_grad():
                flops = FlopCountAnalysis(model, x)
                flops.unsupported_ops_warnings(False)
                flops.uncalled_modules_warnings(False)
                flop_count_table(flops)
                return int(parameter_count(model)[""])
    elif tool == "ptflops":
        from ptflops import get_model_complexity_info

        def run() -> int:
            sink = io.StringIO()
            _macs, params = get_model_complexity_info(model, shape[1:], as_strings=False, backend="pytorch",
                                                      print_per_layer_stat=True, ost=sink, verbose=False)
            return int(params or 0)
    elif tool == "none":
        x = torch.zeros(shape)

        def run() -> int:
            with torch.no_grad():
                model(x)
            return sum(p.numel() for p in model.parameters())
    else:
        raise SystemExit(f"unknown tool {tool}")
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("tool", choices=["torchinfo", "fvcore", "ptflops", "none"])
    parser.add_argument("network")
    parser.add_argument("--warm", type=int, default=0, help="time this many analyses in process")
    args = parser.parse_args()

    import torch

    from archcalc.backends.torch.build import build_model
    from archcalc.spec import load

    graph = load(args.network)
    model = build_model(graph).eval()
    shape = (1, *graph.input_shape)
    run = analysis(args.tool, model, shape)
    if not args.warm:
        print(f"params {run()}")
        return
    run()  # warm-up
    times = []
    for _ in range(args.warm):
        t0 = time.perf_counter()
        params = run()
        times.append(time.perf_counter() - t0)
    print(f"params {params} median_s {statistics.median(times):.6f} threads {torch.get_num_threads()}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
