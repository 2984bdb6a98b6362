"""Writing files so that nothing is lost: a reader sees the old file or the whole new one, never half.

Every output archcalc writes (images, exports, checkpoints, result files, run metadata) goes through
:func:`atomic_path`: the writer fills a temporary file in the target's folder, which then replaces the
target in one rename. ``durable`` also flushes the file and the folder to disk (checkpoints). Temporary
files are named ``.NAME.XXXX.tmp`` so that a crashed writer's leftovers can be found and removed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archcalc.errors import OptionError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def plain_mode() -> int:
    """The permissions ``open(path, "w")`` gives a new file (0666 less the umask): what every file archcalc
    creates gets, where mkstemp's private 0600 would otherwise stay."""
    return 0o666 & ~_umask()


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, *, durable: bool = False, make_parents: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path``; when the block ends without an error it replaces ``path``.

    The new file gets the permissions an ordinary file would (mkstemp's 0600 is too private), or the
    old file's where one is replaced. A missing folder is an OptionError unless ``make_parents``.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if make_parents:
        folder.mkdir(parents=True, exist_ok=True)
    elif not folder.is_dir():
        raise OptionError(f"cannot write '{path}': folder '{folder}' does not exist")
    mode = target.stat().st_mode & 0o777 if target.is_file() else plain_mode()
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, mode)
        if durable:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, target)
        if durable:
            fsync_dir(folder)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | Path, data: bytes | str, *, durable: bool = False) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) through :func:`atomic_path`."""
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
