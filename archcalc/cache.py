"""A small results cache in the user's cache folder: ``$XDG_CACHE_HOME/archcalc`` (else ``~/.cache/archcalc``).

``archcalc list`` keeps each zoo spec's totals there, keyed by the spec file's content hash and variant, so a
second listing reads 38 small records instead of analysing every network again. The whole cache is tied to
archcalc's version and to its source files (their sizes and modification times): another version, or an
edited checkout, starts from an empty cache. The file is replaced atomically (archcalc.fileio); one that
cannot be read, or holds something unexpected, is ignored and rebuilt, and one that cannot be written is
skipped silently (a read-only home still lists the zoo). ``ARCHCALC_NO_CACHE=1`` turns the cache off.

A cache can also have a *seed*: a read-only file of the same entries shipped beside the package (``make
install`` writes ``archcalc/listing.json``), so that the first listing after an install reads rows instead of
analysing 88 networks (1.1 s). Modification times differ from one installation to another, so a seed is
tied to archcalc's version and the *content* of its source files (:func:`source_digest`, 17 ms, paid only
when the user's cache misses); a seed made by other code is ignored, whatever its entries say. An entry
taken from the seed is copied into the user's cache, where the next run finds it without the digest.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

#: the layout of a cache file; a different one is ignored
FORMAT = 1


def cache_folder() -> str | None:
    """The folder of archcalc's caches, or None where caching is turned off (a string: a zoo command's start-up
    imports no pathlib, 16M instructions)."""
    if os.environ.get("ARCHCALC_NO_CACHE", "") not in ("", "0"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "archcalc")


def cache_dir() -> Path | None:
    """:func:`cache_folder` as a Path."""
    from pathlib import Path

    folder = cache_folder()
    return None if folder is None else Path(folder)


@cache
def code_fingerprint() -> str:
    """archcalc's version and the size and modification time of each of its source files."""
    import hashlib
    from pathlib import Path

    from archcalc import __version__

    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(f"{FORMAT}:{__version__}".encode())
    for source in sorted(package.rglob("*.py")):
        st = source.stat()
        digest.update(f"{source.relative_to(package)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


@cache
def source_digest() -> str:
    """archcalc's version and the content of each of its source files: what decides a computed result,
    wherever the package lies (a seed's key; :func:`code_fingerprint` is the cheap key of the user's cache)."""
    from archcalc import __version__

    return sources_digest(os.path.dirname(os.path.abspath(__file__)), f"{FORMAT}:{__version__}")


def sources_digest(package: str, stamp: str) -> str:
    """The digest of ``stamp`` and of the path and content of each ``.py`` file under ``package``."""
    import hashlib

    digest = hashlib.sha256(stamp.encode())
    for folder, subfolders, files in os.walk(package):
        subfolders.sort()
        for file in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(folder, file)
            with open(path, "rb") as fh:
                body = fh.read()
            digest.update(f"{os.path.relpath(path, package)}:{len(body)}\n".encode())
            digest.update(body)
    return digest.hexdigest()[:20]


def content_hash(path: Path) -> str:
    """The hash of a file's content (a key for results computed from it)."""
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()[:32]


class ResultCache:
    """One named cache file: a mapping of keys to JSON values, loaded once and saved once."""

    def __init__(self, name: str, seed: str | None = None) -> None:
        """``seed``: a read-only file of entries made by this very code (see the module docstring), if any."""
        folder = cache_dir()
        self.path = None if folder is None else folder / f"{name}.json"
        self.entries: dict[str, Any] = {}
        self.used: set[str] = set()
        self.dirty = False
        #: the seed's file until it is first needed, then its entries (None: none, or turned off with the cache)
        self._seed: str | dict[str, Any] | None = None if folder is None else seed
        if self.path is not None:
            self.entries = self._read(self.path, code_fingerprint)

    @staticmethod
    def _read(path: str | Path, code: Callable[[], str]) -> dict[str, Any]:
        """The entries of a cache file written by the code ``code()`` names; {} for anything else."""
        import json

        try:
            with open(path, encoding="utf-8") as fh:
                data = json.loads(fh.read())
        except (OSError, ValueError):
            return {}  # absent, unreadable or corrupt: start again
        if (not isinstance(data, dict) or data.get("format") != FORMAT or data.get("code") != code()
                or not isinstance(data.get("entries"), dict)):
            return {}
        entries: dict[str, Any] = data["entries"]
        return entries

    def get(self, key: str, valid: Callable[[Any], bool] = lambda _: True) -> Any | None:
        """The value stored under ``key`` (in the user's cache, else in the seed), or None (also where ``valid``
        rejects what is stored)."""
        value = self.entries.get(key)
        if value is not None and valid(value):
            self.used.add(key)
            return value
        if self._seed is None:
            return None
        if isinstance(self._seed, str):
            self._seed = self._read(self._seed, source_digest)
        value = self._seed.get(key)
        if value is None or not valid(value):
            return None
        self.put(key, value)  # the next run finds it without the source digest
        return value

    def put(self, key: str, value: Any) -> None:
        self.entries[key] = value
        self.used.add(key)
        self.dirty = True

    def save(self, prune: bool = False) -> None:
        """Write the cache if anything was added (``prune``: keep only the entries used in this run)."""
        if prune and set(self.entries) != self.used:
            self.entries = {k: v for k, v in self.entries.items() if k in self.used}
            self.dirty = True
        if self.path is None or not self.dirty:
            return
        import json

        from archcalc.errors import OptionError
        from archcalc.fileio import write_atomic

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps({"format": FORMAT, "code": code_fingerprint(), "entries": self.entries},
                              separators=(",", ":"), ensure_ascii=False)
            write_atomic(self.path, text)
        except (OSError, OptionError):
            return  # a cache that cannot be written is only a slower next run
        self.dirty = False


def write_seed(path: str | Path, entries: dict[str, Any]) -> None:
    """Write a seed file of ``entries``, tied to this code's :func:`source_digest`, atomically."""
    import json

    from archcalc.fileio import write_atomic

    write_atomic(path, json.dumps({"format": FORMAT, "code": source_digest(), "entries": entries},
                                  separators=(",", ":"), ensure_ascii=False))
