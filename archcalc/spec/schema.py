"""The JSON Schema of the spec language, generated from the layer catalogue so it cannot drift.

Published as ``docs/archcalc-spec.schema.json`` (a test keeps the file equal to this output); editors
use it to validate and complete specs (e.g. ``# yaml-language-server: $schema=...``).
"""

from __future__ import annotations

from typing import Any

from archcalc import layers
from archcalc.spec.expand import STRUCTURAL, TOP_KEYS

_VAR = {"type": "string", "pattern": r"^\$", "description": "a variable reference ($name or ${expression})"}
_FROM = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}],
         "description": "the layer(s) or finished group(s) read instead of the one before"}
_INT_OR_VAR = {"anyOf": [{"type": "integer"}, _VAR]}
#: one dimension of an input shape: a number, $name or ${expression} (3x${size}x${size})
_DIM = r"(\d+|\$[A-Za-z_][A-Za-z0-9_]*|\$\{[^}]*\})"
_KIND: dict[str, dict[str, Any]] = {
    "int": {"type": "integer"},
    # a pair's entries may each be a variable ([$input_h, $input_w], ["${2 * bh}", "${2 * bw}"])
    "pair": {"oneOf": [{"type": "integer"}, {"type": "array", "items": _INT_OR_VAR, "minItems": 2, "maxItems": 2}]},
    "size": {"oneOf": [{"type": "integer"}, {"type": "array", "items": _INT_OR_VAR, "minItems": 2, "maxItems": 2}]},
    "padding": {"oneOf": [{"type": "integer"}, {"enum": ["same", "valid"]},
                          {"type": "array", "items": _INT_OR_VAR, "minItems": 2, "maxItems": 4}]},
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
        props: dict[str, Any] = {"name": {"type": "string"}, "when": {}, "from": _FROM}
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
            "properties": {key: {"anyOf": value}, "name": {"type": "string"}, "when": {}, "from": _FROM},
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
            "index": {"type": "string"}, "when": {}, "name": {"type": "string"}, "from": _FROM},
         "additionalProperties": False},
        *({"type": "object", "required": [k], "properties": {
            k: {"anyOf": [
                {"type": "array", "items": {"anyOf": [{"$ref": "#/$defs/sequence"}, {"type": "null"},
                                                      {"$ref": "#/$defs/branch"}, {"$ref": "#/$defs/item"}]}},
                {"type": "object", "required": ["from"], "additionalProperties": False,
                 "properties": {"from": _FROM, "name": {"type": "string"}},
                 "description": "a join over named layers"}]},
            "split": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "array", "items": {"type": "integer"}},
                                _VAR], "description": "each branch reads its part of the input's channels"},
            "inline": {"anyOf": [{"type": "boolean"}, _VAR],
                       "description": "unnamed branches open no group: their layers take the join's group's names"},
            "when": {}, "name": {"type": "string"}, "from": _FROM}, "additionalProperties": False}
          for k in layers.JOINS),
        *({"type": "object", "required": [k], "properties": {
            k: {"$ref": "#/$defs/sequence"}, "when": {}, "name": {"type": "string"}, "from": _FROM},
           "additionalProperties": False} for k in ("side", "seq")),
        {"type": "object", "description": "a block call: {block_name: [args] | {arg: value} | value}",
         "minProperties": 1, "propertyNames": {"not": {"enum": reserved}}},
    ]}
    defs["item"] = item
    defs["branch"] = {"type": "object", "required": ["seq"], "properties": {
        "seq": {"$ref": "#/$defs/sequence"}, "name": {"type": "string"}, "when": {},
        "inline": {"anyOf": [{"type": "boolean"}, _VAR],
                   "description": "the branch's layers join the enclosing group (no namespace of their own)"}},
        "additionalProperties": False}
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
            "input": {"anyOf": [{"type": "string", "pattern": rf"^\s*{_DIM}\s*([x×,]\s*{_DIM}\s*){{0,2}}$"},
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
