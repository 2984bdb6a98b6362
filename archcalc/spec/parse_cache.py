"""Zoo specs kept parsed between runs, so that reading one needs no PyYAML.

Importing PyYAML compiles its regular expressions: about as long as everything else ``archcalc summary
vgg16`` does after start-up. A zoo spec that parsed cleanly is kept in archcalc's cache folder
(``$XDG_CACHE_HOME/archcalc/parsed``, archcalc.cache; ``ARCHCALC_NO_CACHE=1`` turns it off) beside its
whole text, in :mod:`marshal`'s format (a file per Python version, like the bytecode cache, and trusted as
that is: it is the user's own; reading it needs no import, where ``json`` costs 5M instructions, and it
reads back several times faster). A later run whose file holds exactly that text, under the same name,
with the same loader modules and the same PyYAML, takes the stored values and locations instead of
parsing: they are what the parser gave for that text (a test holds every zoo spec to it). Anything else
(another text, a file outside the zoo, a cache that cannot be read or written) parses as before, and every
error comes from the parser.

Only the zoo's files are kept: they are few, so the folder stays small whatever specs a user reads.
"""

from __future__ import annotations

import marshal
import os
import sys
from functools import cache
from typing import TYPE_CHECKING, Any

from archcalc.errors import SourceLocation
from archcalc.spec.loader import LList, LMap, LStr

if TYPE_CHECKING:
    from pathlib import Path

#: the layout of a cache file; a different one is ignored
FORMAT = 2
#: the modules whose code decides what a text parses to
_PARSER_MODULES = ("loader.py", "yaml12.py", "numbers.py", "parse_cache.py")


def _file(path: str | Path, name: str) -> str | None:
    """Where the parse of zoo spec ``path`` is kept, or None (not a zoo file read by its own name, no cache)."""
    from archcalc.cache import cache_folder
    from archcalc.spec.zoo import zoo_folder

    folder, zoo, base = cache_folder(), zoo_folder(), os.path.basename(path)
    if folder is None or name != base or os.path.dirname(os.path.abspath(path)) != zoo:
        return None
    # a folder per zoo (per checkout or installation): two of them never take turns rewriting one file,
    # and a file per Python version: marshal's format may change between them
    stem = os.path.splitext(base)[0]
    version = f"py{sys.version_info[0]}{sys.version_info[1]}"
    return os.path.join(folder, "parsed", "".join(c if c.isalnum() else "_" for c in zoo[-120:]),
                        f"{stem}.{version}.marshal")


@cache
def fingerprint() -> list[Any]:
    """archcalc's version, the size and modification time of the parser's modules and of PyYAML's package."""
    from importlib.machinery import PathFinder

    from archcalc import __version__

    here = os.path.dirname(os.path.abspath(__file__))
    stamps: list[Any] = [FORMAT, __version__, sys.hexversion, marshal.version]
    for module in _PARSER_MODULES:
        st = os.stat(os.path.join(here, module))
        stamps.append([module, st.st_size, st.st_mtime_ns])
    found = PathFinder.find_spec("yaml")
    if found is not None and found.origin and found.submodule_search_locations:
        for where in (found.origin, *found.submodule_search_locations):  # its __init__ and its folder's files
            st = os.stat(where)
            stamps.append([where, st.st_size, st.st_mtime_ns])
    return stamps


def get(path: str | Path, name: str, text: str) -> Any | None:
    """The stored parse of ``text`` (zoo spec ``path`` read as ``name``), or None."""
    file = _file(path, name)
    if file is None:
        return None
    try:
        with open(file, "rb") as fh:
            entry = marshal.loads(fh.read())
        if (not isinstance(entry, dict) or entry.get("text") != text or entry.get("name") != name
                or entry.get("code") != fingerprint()):
            return None
        line, col, tree = entry["tree"]
        return decode(tree, SourceLocation(name, line, col), name)
    except (OSError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None  # absent, unreadable, corrupt or stale: parse again


def put(path: str | Path, name: str, text: str, data: Any) -> None:
    """Keep the parse of a zoo spec (nothing for other files; a cache that cannot be written is skipped)."""
    file = _file(path, name)
    if file is None:
        return
    from archcalc.errors import OptionError
    from archcalc.fileio import write_atomic

    root = getattr(data, "loc", None)
    if root is None:
        return
    entry = {"name": name, "code": fingerprint(), "text": text, "tree": [root.line, root.col, encode(data)]}
    try:
        os.makedirs(os.path.dirname(file), exist_ok=True)
        write_atomic(file, marshal.dumps(entry))
    except (OSError, OptionError):
        return


def encode(value: Any) -> Any:
    """Located data → plain lists: ``["m", [[key, line, col, line, col, value], …]]`` for a mapping (the key's and the
    value's positions), ``["s", [[line, col, value], …]]`` for a sequence, ``["t", text]`` for a string; null,
    booleans and numbers as themselves."""
    if isinstance(value, LMap):
        return ["m", [[key, value.key_locs[key].line, value.key_locs[key].col, value.value_locs[key].line,
                       value.value_locs[key].col, encode(item)] for key, item in value.items()]]
    if isinstance(value, LList):
        return ["s", [[loc.line, loc.col, encode(item)] for loc, item in zip(value.item_locs, value, strict=True)]]
    if isinstance(value, str):
        return ["t", str(value)]
    return value


def decode(tree: Any, loc: SourceLocation, name: str) -> Any:
    """:func:`encode`'s lists → the located data the parser built (``loc``: where the value was written)."""
    if not isinstance(tree, list):
        return tree
    kind, body = tree
    if kind == "t":
        text = LStr(body)
        text.loc = loc
        return text
    if kind == "m":
        out = LMap()
        out.loc, out.key_locs, out.value_locs = loc, {}, {}
        for key, key_line, key_col, line, col, item in body:
            where = SourceLocation(name, line, col)
            out.key_locs[key] = SourceLocation(name, key_line, key_col)
            out.value_locs[key] = where
            out[key] = decode(item, where, name)
        return out
    if kind == "s":
        seq = LList()
        seq.loc, seq.item_locs = loc, []
        for line, col, item in body:
            where = SourceLocation(name, line, col)
            seq.item_locs.append(where)
            seq.append(decode(item, where, name))
        return seq
    raise ValueError(kind)
