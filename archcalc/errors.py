"""Source locations, the error types and their exit codes, mapped in one place.

Every error a user can cause is an :class:`ArchcalcError`; the CLI prints ``err.format()`` as one line on
stderr and exits with ``err.exit_code``. Nothing user-caused may end in a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import IntEnum

from archcalc.frozen import Frozen


class ExitCode(IntEnum):
    """Process exit codes: one meaning each."""

    OK = 0
    #: A check ran and found a disagreement (``verify``) or a run failed for a non-input reason.
    FAILURE = 1
    #: Bad input: a spec, an option, a file, an unavailable device.
    USAGE = 2
    #: Interrupted by the user (Ctrl-C), after saving what could be saved.
    INTERRUPTED = 130
    #: Stopped by SIGTERM (a scheduler, ``docker stop``), after saving what could be saved: 128 + 15.
    TERMINATED = 143


class SourceLocation(Frozen):
    """A position in a spec file; ``line`` and ``col`` are 1-based, as editors show them."""

    file: str
    line: int
    col: int

    def __init__(self, file: str, line: int, col: int) -> None:
        # written out: the loader makes three of these for every mapping entry of a spec
        values = self.__dict__
        values["file"], values["line"], values["col"] = file, line, col

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class ArchcalcError(Exception):
    """Base of every user-facing error: a message, an optional location and hint, an exit code."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, location: SourceLocation | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def format(self) -> str:
        """One line: ``file:line:col: message (hint)``, control characters escaped and long text cut."""
        text = one_line(self.message)
        if self.hint:
            text = f"{text} ({one_line(self.hint)})"
        if self.location is not None:
            return f"{re.sub(_CONTROL, '?', str(self.location))}: {text}"
        return f"archcalc: {text}"

    def __str__(self) -> str:
        return self.format()


class SpecError(ArchcalcError):
    """The spec is malformed or describes an impossible network."""


class ZooError(SpecError):
    """A zoo name that does not exist."""


class OptionError(ArchcalcError):
    """A command-line option value that cannot be used."""


class BackendError(ArchcalcError):
    """The torch backend cannot do what was asked (torch missing, device unavailable, ...)."""


class CheckFailed(ArchcalcError):
    """A verification found a disagreement; the report was already printed."""

    exit_code = ExitCode.FAILURE


#: The longest message or hint printed: an error that quotes a 1 MB value must still be one readable line.
MAX_MESSAGE = 300
#: (a pattern, compiled by ``re`` where first used: compiling costs start-up, and most runs print no error)
_CONTROL = r"[\x00-\x1f\x7f-\x9f\u2028\u2029]"


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` made safe for one terminal line: control characters shown escaped (a newline as the two
    characters backslash and n), then cut to ``limit`` characters with an ellipsis."""
    text = re.sub(_CONTROL, lambda m: repr(m.group())[1:-1], text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 1] + "…"


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean X?' hint for a misspelt name, or None when nothing is close."""
    import difflib  # only a mistake needs it: 1 ms of every start-up otherwise

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else None
