"""Files the commands write: checked before any work, and default names that a spec cannot steer.

``-o``, ``--out`` and ``--heatmap`` are checked as soon as the command starts (:func:`check_output`): a
folder given as the file, a folder that does not exist or cannot be written, a name the file system refuses
are one-line errors before a network is loaded, built, measured or drawn, not a traceback after it.

Default names come from the spec's ``name:``, which is data: ``name: ../x`` or ``name: /etc/x`` must not
choose where a file goes (:func:`default_output` keeps one plain file name in the current folder).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from archcalc.errors import OptionError

#: what a default file name keeps of a spec's name: letters and digits (any script), '_', '.', '+', '-'
_UNSAFE = re.compile(r"[^\w.+-]+")
#: the stem's length in bytes (UTF-8); most file systems allow 255 for the whole name
MAX_STEM_BYTES = 120
MAX_NAME_BYTES = 255


def safe_stem(name: str) -> str:
    """A spec's name as a plain file-name stem: no folder separators, no '..', no leading dot or dash,
    no control characters, at most :data:`MAX_STEM_BYTES` bytes; 'network' if nothing is left.

    >>> [safe_stem(n) for n in ("resnet50", "../x", "/etc/passwd", "a/b c", "..", "-rf", "ñ名字", "\\u202eevil")]
    ['resnet50', 'x', 'etc_passwd', 'a_b_c', 'network', 'rf', 'ñ名字', 'evil']
    """
    stem = _UNSAFE.sub("_", name).strip("._-+")
    stem = stem.encode()[:MAX_STEM_BYTES].decode(errors="ignore").rstrip("._-+")
    return stem or "network"


def default_output(name: str, tail: str) -> str:
    """The default file for a spec named ``name``: ``safe_stem(name) + tail`` in the current folder."""
    return safe_stem(name) + tail


def check_output(path: str, option: str = "-o", suffixes: Sequence[str] = ()) -> Path:
    """``path`` as a file this command can write, or a one-line :class:`OptionError` now, before any work.

    ``suffixes``: the extensions the command understands (checked case-insensitively), if it cares.
    """
    shown = repr(path)
    if not path or "\0" in path:
        raise OptionError(f"{option} {shown}: not a file name")
    p = Path(path)
    if len(p.name.encode(errors="surrogateescape")) > MAX_NAME_BYTES:
        raise OptionError(f"{option}: the file name is longer than {MAX_NAME_BYTES} bytes")
    try:
        _check(p, shown, option, suffixes)
    except OSError as exc:  # a path the file system refuses (too long in all, a loop of links, ...)
        raise OptionError(f"{option} {shown}: {exc.strerror or exc}") from None
    return p


def check_folder(path: str, option: str) -> Path:
    """``path`` as a folder this command can create or write into, or a one-line :class:`OptionError` now,
    before any work: a file of that name, a missing parent that is a file, a folder that cannot be written
    (no permission, a read-only file system, procfs) are refused. Nothing is created: the nearest existing
    folder is tried with a temporary file, removed at once."""
    shown = repr(path)
    if not path or "\0" in path:
        raise OptionError(f"{option} {shown}: not a folder name")
    p = Path(path)
    try:
        if p.exists() and not p.is_dir():
            raise OptionError(f"{option} {shown} exists and is not a folder")
        existing = p
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise OptionError(f"{option} {shown}: {str(existing)!r} is not a folder")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise OptionError(f"{option} {shown}: no permission to write in {str(existing)!r}")
        import tempfile  # here: it imports shutil, random and the compressors (4 ms of every rf's start-up)

        fd, probe = tempfile.mkstemp(dir=existing, prefix=".archcalc-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:  # procfs, a read-only file system, a name too long, a loop of links, ...
        raise OptionError(f"{option} {shown}: cannot write there ({exc.strerror or exc})") from None
    return p


def _check(p: Path, shown: str, option: str, suffixes: Sequence[str]) -> None:
    if p.is_dir():
        example = p / ("out" + (suffixes[0] if suffixes else ""))
        raise OptionError(f"{option} {shown} is a folder; give a file name (e.g. {example})")
    if p.exists() and not p.is_file():
        raise OptionError(f"{option} {shown} exists and is not a regular file (a device, a pipe?)")
    if suffixes and p.suffix.lower() not in suffixes:
        raise OptionError(f"{option} {shown}: the file name should end in {' or '.join(suffixes)}")
    folder = p.parent
    if not folder.exists():
        raise OptionError(f"{option} {shown}: the folder {str(folder)!r} does not exist", hint="create it first")
    if not folder.is_dir():
        raise OptionError(f"{option} {shown}: {str(folder)!r} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OptionError(f"{option} {shown}: no permission to write in {str(folder)!r}")


__all__ = ["MAX_NAME_BYTES", "MAX_STEM_BYTES", "check_folder", "check_output", "default_output", "safe_stem"]
