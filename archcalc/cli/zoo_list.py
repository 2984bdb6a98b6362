"""``archcalc list``: the zoo, one line per spec.

Each spec's row is cached under its file's content hash and its variant (archcalc.cache). ``make install``
also writes the rows of the whole zoo beside the package (:data:`SEED`, by ``python -m
archcalc.cli.zoo_list``), tied to the content of archcalc's sources, so that even the first listing after an
install analyses nothing; any edit to a source file makes archcalc ignore it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from archcalc.cli.output import FORMAT_OPTION, emit_any
from archcalc.gc_pause import gc_paused
from archcalc.report.fmt import count, shape, si
from archcalc.report.table import Column, Table
from archcalc.spec import zoo

CSV_COLUMNS = ("name", "params", "macs", "in_c", "in_h", "in_w", "depth", "description")
#: the listing's seed: every zoo row, written by ``make install`` (not kept in git; see the module docstring)
SEED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "listing.json")


def _summarise(name: str) -> dict[str, Any]:
    """What a listing shows of zoo spec ``name`` (without its name): params, MACs, input, depth, description."""
    # imported here: a listing whose rows are all cached needs neither the analysis nor the expander
    from archcalc.analysis import Analysis
    from archcalc.report.model import weight_depth
    from archcalc.spec import load

    analysis = Analysis(load(name))
    # Only parameters and MACs are listed: skip the memory passes that `totals` would run.
    results = analysis.results.values()
    return {"params": sum(r.params.total for r in results), "macs": sum(r.cost.macs for r in results),
            "input": list(analysis.graph.input_shape), "depth": weight_depth(analysis),
            "description": " ".join(analysis.graph.meta.description.split())}


def _key(name: str, hashes: dict[Path, str]) -> str:
    """Zoo spec ``name``'s cache key: its file's content hash (each file hashed once) and its variant."""
    file, variant = zoo.index()[name]
    if file not in hashes:
        from archcalc.cache import content_hash

        hashes[file] = content_hash(file)
    return f"{hashes[file]}:{variant or ''}"


def write_seed(path: str = SEED) -> int:
    """Analyse the whole zoo and write its rows as the listing's seed; the number of rows."""
    from archcalc.cache import write_seed as write

    with gc_paused():
        hashes: dict[Path, str] = {}
        rows = {_key(name, hashes): _summarise(name) for name in zoo.names()}
        write(path, rows)
    return len(rows)


def _valid_row(row: Any) -> bool:
    """A cached row has the fields a listing shows, of the right types (else it is computed again)."""
    return (isinstance(row, dict) and isinstance(row.get("params"), int) and isinstance(row.get("macs"), int)
            and isinstance(row.get("input"), list) and all(isinstance(v, int) for v in row["input"])
            and isinstance(row.get("depth"), int) and isinstance(row.get("description"), str))


@click.command("list", epilog="""\b
Examples:
  archcalc list
  archcalc list resnet                 # names containing 'resnet'
  archcalc list --format csv > zoo.csv""")
@click.argument("pattern", required=False)
@FORMAT_OPTION
def list_command(pattern: str | None, fmt: str) -> None:
    """List the zoo specs (optionally those whose name contains PATTERN, e.g. 'resnet')."""
    with gc_paused(command=True):
        from archcalc.cache import ResultCache

        cached = ResultCache("list", seed=SEED)
        hashes: dict[Path, str] = {}
        rows: list[dict[str, Any]] = []
        for name in zoo.names():
            if pattern and pattern.lower() not in name.lower():
                continue
            key = _key(name, hashes)
            row = cached.get(key, _valid_row)
            if row is None:
                row = _summarise(name)
                cached.put(key, row)
            rows.append({"name": name, **row})
        cached.save(prune=not pattern)

        def records() -> list[dict[str, Any]]:
            out = []
            for r in rows:
                dims = [*r["input"], None, None][:3]
                out.append({**r, "in_c": dims[0], "in_h": dims[1], "in_w": dims[2]})
            return out

        def tables() -> list[Table]:
            cols = [Column("Name"), Column("Params", right=True), Column("MACs", right=True),
                    Column("Input", drop=2), Column("Depth", right=True, drop=1),
                    Column("Description", shrink=True, min_width=12, drop=3)]
            return [Table(cols, [[r["name"], count(r["params"]), si(r["macs"]), shape(r["input"]), str(r["depth"]),
                                  r["description"]] for r in rows],
                          caption=f"{len(rows)} specs · MACs are multiply-accumulates per image")]

        emit_any(fmt, "list", lambda: {"specs": rows}, CSV_COLUMNS, records, tables)


if __name__ == "__main__":  # `make install`: python -m archcalc.cli.zoo_list
    print(f"archcalc: wrote the listing of {write_seed()} zoo specs to {SEED}")
