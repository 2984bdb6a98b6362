"""The JSON Schema of the spec language, generated from the layer catalogue so it cannot drift.

Published as ``docs/archcalc-spec.schema.json`` (a test keeps the file equal to this output); editors
use it to validate and complete specs (e.g. ``# yaml-language-server: $schema=...``).
"""

from __future__ import annotations

from typing import Any

from archcalc import layers
from archcalc.spec.expand import STRUCTURAL, TOP_KEYS

_VAR = {"type": "string", "pattern": r"^\$", "description": "a variable reference ($name or ${expression})"}
_KIND: dict[str, dict[str, Any]] = {
    "int": {"type": "integer"},
    "pair": {"oneOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}, "minItems": 2,
                                                                 "maxItems": 2}]},
    "size": {"oneOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}, "minItems": 2,
                                                                 "maxItems": 2}]},
    "padding": {"oneOf": [{"type": "integer"}, {"enum": ["same", "valid"]},
                          {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 4}]},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "str": {"type": "string"},
    "table": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
}


def _attr_schema(attr: layers.Attr) -> dict[str, Any]:
    base = dict(_KIND.get(attr.kind, {})) if attr.kind != "choice" else {"enum": list(attr.choices)}
    schema: dict[str, Any] = {"anyOf": [base, _VAR]}
    if attr.doc:
        schema["description"] = attr.doc
    return schema


def spec_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an archcalc spec file."""
    defs: dict[str, Any] = {}
    layer_refs = []
    public = sorted(k for k, t in layers.CATALOGUE.items() if not t.internal)
    for key in public:
        layer = layers.CATALOGUE[key]
        props: dict[str, Any] = {"name": {"type": "string"}, "when": {}}
        for attr_name, attr in layer.attrs.items():
            props[attr_name] = _attr_schema(attr)
            for alias in attr.aliases:
                props[alias] = _attr_schema(attr)
        value: list[dict[str, Any]] = [{"type": "null"},
                                       {"type": "object", "properties": props, "additionalProperties": False}]
        if layer.primary:
            value.append(_attr_schema(layer.attrs[layer.primary]))
        defs[f"layer_{key}"] = {
            "type": "object", "description": layer.doc,
            "properties": {key: {"anyOf": value}, "name": {"type": "string"}, "when": {}},
            "required": [key], "additionalProperties": False,
        }
        layer_refs.append({"$ref": f"#/$defs/layer_{key}"})
    reserved = sorted({*layers.CATALOGUE, *(a for t in layers.CATALOGUE.values() for a in t.aliases),
                       *STRUCTURAL})
    item = {"anyOf": [
        {"type": "string", "description": "a layer type with defaults, a block name, or $variable"},
        *layer_refs,
        {"type": "object", "required": ["repeat", "body"], "properties": {
            "repeat": {"anyOf": [{"type": "integer", "minimum": 0}, _VAR]}, "body": {"$ref": "#/$defs/sequence"},
            "index": {"type": "string"}, "when": {}, "name": {"type": "string"}}, "additionalProperties": False},
        *({"type": "object", "required": [k], "properties": {
            k: {"type": "array", "items": {"anyOf": [{"$ref": "#/$defs/sequence"}, {"type": "null"},
                                                     {"$ref": "#/$defs/item"}]}},
            "split": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "array", "items": {"type": "integer"}},
                                _VAR], "description": "each branch reads its part of the input's channels"},
            "when": {}, "name": {"type": "string"}}, "additionalProperties": False} for k in layers.JOINS),
        *({"type": "object", "required": [k], "properties": {
            k: {"$ref": "#/$defs/sequence"}, "when": {}, "name": {"type": "string"}},
           "additionalProperties": False} for k in ("side", "seq")),
        {"type": "object", "description": "a block call: {block_name: [args] | {arg: value} | value}",
         "minProperties": 1, "propertyNames": {"not": {"enum": reserved}}},
    ]}
    defs["item"] = item
    defs["sequence"] = {"type": "array", "items": {"$ref": "#/$defs/item"}}
    assert set(STRUCTURAL) == {"repeat", "side", "seq", *layers.JOINS}  # each keyword has its schema above
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://archcalc.dev/schema/spec-v1.json",
        "title": "archcalc network spec",
        "type": "object",
        "required": ["input", "layers"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "source": {"anyOf": [{"type": "string"}, {"type": "object"}],
                       "description": "the publication the spec follows: paper, section, table, url"},
            "published": {"type": "object", "description": "figures the publication gives: name → {value,"
                                                           " rounding, source}",
                          "additionalProperties": {"type": "object", "required": ["value"],
                                                   "properties": {"value": {"type": "number"},
                                                                  "rounding": {"type": "number"},
                                                                  "rule": {"enum": ["round", "truncate"]},
                                                                  "source": {"type": "string"}}}},
            "input": {"anyOf": [{"type": "string", "pattern": r"^\s*\d+\s*([x×,]\s*\d+\s*){0,2}$"},
                                {"type": "array", "items": {"type": "integer"}}, {"type": "integer"}, _VAR]},
            "vars": {"type": "object", "description": "variables with defaults (--set NAME=VALUE overrides)"},
            "variants": {"type": "object", "description": "named settings of the variables (FILE.yaml:NAME)",
                         "additionalProperties": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {
                             "description": {"type": "string"}, "published": {"type": "object"}}}]}},
            "blocks": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["body"], "additionalProperties": False,
                "properties": {"args": {"anyOf": [{"type": "array", "items": {"type": "string"}},
                                                  {"type": "object"}]},
                               "body": {"$ref": "#/$defs/sequence"}, "inline": {"type": "boolean"},
                               "doc": {"type": "string"}}}},
            "layers": {"$ref": "#/$defs/sequence"},
            "init": {}, "recipe": {"type": "object"},
        },
        "$defs": defs,
    }
    assert set(schema["properties"]) == set(TOP_KEYS)
    return schema
