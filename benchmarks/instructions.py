"""Instructions executed by a cold ``archcalc`` command, counted by valgrind: a measure this noisy machine
cannot blur.

Wall and CPU times of the same command spread by a third here from one minute to the next (the VM's CPU
speed varies), so a change worth a few percent of a cold start cannot be seen in them. valgrind's callgrind
tool counts the instructions a process executes; with ``PYTHONHASHSEED=0`` the count of a command repeats
to within a few parts in ten thousand (the A/A column shows it). Time is what the targets are about
(``make bench``); this is for deciding whether a change to start-up or per-layer work helps, and by how much.

Run: ``make bench-instructions`` or ``python benchmarks/instructions.py [--baseline REV] [COMMAND ...]``
(a command is an ``archcalc`` argument list in one string, e.g. ``"summary vgg16"``). Each command runs once
first, uncounted, so that the zoo's parse cache is filled as for a user's second command. ``--baseline REV``
counts another revision's commands too (a detached git worktree, as ``bench_symbolic.py`` makes) and prints
this ÷ baseline. valgrind must be installed (``apt install valgrind``); a process takes about 50× its
normal time under it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_symbolic is a sibling script, not a package
from bench_symbolic import ROOT, checkout

COMMANDS = ("summary vgg16", "summary resnet50 --format json", "summary resnet1202 --format json")


def count(args: list[str], tree: Path) -> int:
    """Instructions executed by ``python -m archcalc ARGS`` with ``tree``'s archcalc (after one uncounted run)."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "0"}
    cmd = [sys.executable, "-m", "archcalc", *args]
    subprocess.run(cmd, env=env, cwd="/tmp", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd], env=env,
                          cwd="/tmp", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"instructions: valgrind gave no count for {' '.join(args)}:\n{done.stderr[-500:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commands", nargs="*", default=list(COMMANDS), help="archcalc arguments, one string each")
    parser.add_argument("--baseline", metavar="REV", help="also count this git revision's commands")
    opts = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("instructions: valgrind is not installed (apt install valgrind)")
    base = checkout(opts.baseline) if opts.baseline else None
    if base is not None:
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-f", str(base / "archcalc")], check=True)
    print(f"{'command':40s} {'this':>14s} {'again (A/A)':>12s}" + (f" {'baseline':>14s} {'this÷base':>9s}"
                                                                   if base else ""))
    for text in opts.commands:
        args = text.split()
        this, again = count(args, ROOT), count(args, ROOT)
        line = f"{text:40s} {this / 1e6:13.1f}M {again / this:12.4f}"
        if base is not None:
            old = count(args, base)
            line += f" {old / 1e6:13.1f}M {this / old:9.3f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
