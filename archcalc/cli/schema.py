"""``archcalc schema``: print the spec language's JSON Schema."""

from __future__ import annotations

import json

import click

from archcalc.spec.schema import spec_schema


@click.command("schema", epilog="""\b
Examples:
  archcalc schema > archcalc-spec.schema.json   # then point your editor's YAML plugin at it""")
def schema_command() -> None:
    """Print the JSON Schema of the spec language (save it for your editor's YAML support)."""
    click.echo(json.dumps(spec_schema(), indent=2, ensure_ascii=False))
