"""The zoo's parse cache (archcalc.spec.parse_cache): a stored spec reads back with the values and locations the
parser gives, only for the text it was parsed from, and a summary that reads it imports no PyYAML."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from archcalc.spec import parse_cache, zoo
from archcalc.spec.loader import LList, LMap, LStr, parse_text, read_spec

ROOT = Path(__file__).resolve().parent.parent


def _located(value: Any) -> Any:
    """Everything a consumer can see of located data: each value with its type, and every location."""
    if isinstance(value, LMap):
        return ("map", value.loc, [(key, value.key_locs[key], value.value_locs[key], _located(item))
                                   for key, item in value.items()])
    if isinstance(value, LList):
        return ("seq", value.loc, [(loc, _located(item)) for loc, item in zip(value.item_locs, value, strict=True)])
    if isinstance(value, LStr):
        return ("str", value.loc, str(value))
    return (type(value).__name__, value)


def test_every_zoo_spec_reads_back_as_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    files = sorted(zoo.zoo_dir().glob("*.yaml"))
    assert files
    for file in files:
        text = read_spec(file, file.name)
        parsed = parse_text(text, file.name)
        assert parse_cache.get(file, file.name, text) is None  # nothing stored yet
        parse_cache.put(file, file.name, text, parsed)
        cached = parse_cache.get(file, file.name, text)
        assert cached is not None and _located(cached) == _located(parsed), file.name
    (stored,) = (tmp_path / "archcalc" / "parsed").glob(f"*/{files[-1].stem}.py*.marshal")
    # only the text it was parsed from, read under its own name
    assert parse_cache.get(files[-1], files[-1].name, text + "\n") is None
    assert parse_cache.get(files[-1], "renamed.yaml", text) is None
    for corrupt in (b"{not marshal", stored.read_bytes()[:-9], b"", b"\xe9" + stored.read_bytes()[1:]):
        stored.write_bytes(corrupt)
        assert parse_cache.get(files[-1], files[-1].name, text) is None  # corrupt: parsed again


def test_files_outside_the_zoo_are_not_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = tmp_path / "mine.yaml"
    text = "input: 3x8x8\nlayers: [{conv: {out: 4, k: 3}}]\n"
    spec.write_text(text, encoding="utf-8")
    parse_cache.put(spec, spec.name, text, parse_text(text, spec.name))
    assert not (tmp_path / "cache").exists()


def _imports(cache: Path, *args: str) -> tuple[str, list[str]]:
    """A whole ``archcalc`` process: its output, and which of the heavy modules it imported."""
    probe = ("import sys\nfrom archcalc.cli.main import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
             "heavy = ('yaml', 'json', 'csv', 'html', 'rich', 'tabulate', 'pathlib', 'fractions', 'decimal',"
             " 'dataclasses', 'archcalc.analysis', 'archcalc.spec.expand')\n"
             "print(*[m for m in heavy if m in sys.modules], file=sys.stderr)")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    env.pop("ARCHCALC_NO_CACHE", None)
    done = subprocess.run([sys.executable, "-c", probe, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True)
    return done.stdout, done.stderr.split()


def test_a_cached_zoo_spec_needs_no_yaml(tmp_path: Path) -> None:
    first, imported = _imports(tmp_path, "summary", "vgg16", "--format", "text")
    assert "yaml" in imported and first.startswith("vgg16: input 3×224×224")
    second, imported = _imports(tmp_path, "summary", "vgg16", "--format", "text")
    assert second == first
    # the text summary reads the stored parse (marshal) and writes plain text: no YAML, JSON, CSV, HTML, rich
    # or tabulate, and none of the modules a zoo name, integer fields and the report need not (pathlib,
    # fractions, decimal, dataclasses)
    assert imported == ["archcalc.analysis", "archcalc.spec.expand"]


def test_a_cached_listing_needs_no_analysis(tmp_path: Path) -> None:
    first, imported = _imports(tmp_path, "list", "vgg1", "--format", "text")
    assert "archcalc.analysis" in imported and "vgg16" in first
    second, imported = _imports(tmp_path, "list", "vgg1", "--format", "text")
    assert second == first
    # every row from the cache: no spec is parsed, expanded or analysed (the listing globs the zoo with pathlib)
    assert imported == ["json", "pathlib"]
