"""Shell completion of SPEC arguments: zoo names and YAML files (click's completion, see the README).

    eval "$(_ARCHCALC_COMPLETE=bash_source archcalc)"     # bash; zsh_source, fish_source likewise
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when completing: every command that takes a spec imports this module
    from click.shell_completion import CompletionItem


def complete_spec(incomplete: str) -> list[CompletionItem]:
    """Zoo names starting with ``incomplete``, then ``.yaml``/``.yml`` files and folders matching it."""
    from pathlib import Path

    from click.shell_completion import CompletionItem

    from archcalc.spec import zoo

    items = [CompletionItem(name, help="zoo") for name in zoo.names() if name.startswith(incomplete)]
    folder, _, stem = incomplete.rpartition("/")
    base = Path(folder) if folder else Path(".")
    try:
        entries = sorted(base.iterdir())
    except OSError:
        return items
    prefix = f"{folder}/" if folder else ""
    for entry in entries:
        if not entry.name.startswith(stem) or entry.name.startswith("."):
            continue
        if entry.is_dir():
            items.append(CompletionItem(f"{prefix}{entry.name}/", type="plain"))
        elif entry.suffix in (".yaml", ".yml"):
            items.append(CompletionItem(f"{prefix}{entry.name}", type="plain"))
    return items


def spec_argument_completion(ctx: object, param: object, incomplete: str) -> list[CompletionItem]:
    """The ``shell_complete`` callback of every SPEC argument."""
    return complete_spec(incomplete)
