"""Spec (located YAML data) → graph IR: variables, blocks, repeats, branches and names resolved.

The spec language, in brief (``docs/spec-language.md`` has the full reference)::

    name: vgg16
    input: 3x224x224
    vars: {num_classes: 1000}
    blocks:
      stage: {args: [width, n], inline: true, body: [...]}
    layers:
      - conv: {out: 64, k: 3, pad: 1, name: conv1_1}   # a layer with attributes
      - relu                                          # a layer with defaults
      - fc: $num_classes                               # the primary attribute, from a variable
      - stage: [128, 2]                                # a block call, positional arguments
      - repeat: 3                                      # repeat a sequence ($i is 1, 2, 3)
        body: [{conv: {out: 64, k: 3, pad: 1}}, relu]
      - concat: [[...], [...]]                         # parallel branches, channel concat
      - add: [[...], []]                               # residual: a path plus the identity
      - side: [...]                                    # an extra output (auxiliary classifier)
      - {seq: [...], name: group}                      # a named group
    # any item may carry  when: $expr  and is dropped when it is false
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from itertools import chain
from typing import Any

from archcalc import layers
from archcalc.errors import SourceLocation, SpecError, did_you_mean
from archcalc.frozen import new_record
from archcalc.ir import INPUT, Graph, Group, Node, Shape, SpecMeta
from archcalc.spec.expr import evaluate, has_refs, substitute
from archcalc.spec.loader import LList, LMap, loc_of, plain
from archcalc.spec.numbers import MAX_DIGITS, MAX_INT
from archcalc.spec.stamp import (
    AddGroup,
    AddNode,
    AddOutput,
    Change,
    DropGroup,
    EndGroup,
    Journal,
    Recording,
    Replayed,
    Stamp,
    call_key,
    frozen_items,
)

MAX_LAYERS = 250_000
MAX_REPEAT = 100_000
MAX_CALL_DEPTH = 32
#: Steps of expansion work: items visited, repeat iterations, values resolved, expression characters
#: (÷32). It bounds work that emits nothing (empty bodies, items dropped by 'when', block fan-out),
#: which the layer limit cannot see; a spec at the layer limit needs a few million.
MAX_WORK = 5_000_000
#: Steps of list expressions in all (nodes visited, elements built or scanned; see expr.evaluate): one
#: expression may take 200,000, and a comprehension in a big repeat is refused here after a second or two.
#: A generator spec's lists (RegNet's widths) take about a thousand.
MAX_LIST_WORK = 500_000
#: Groups (block calls, branches, named seqs): a block with an empty body opens one and emits nothing.
MAX_GROUPS = 100_000

TOP_KEYS = ("name", "description", "source", "published", "input", "vars", "variants", "blocks", "layers",
            "init", "recipe")
#: keys of a variant that describe it rather than set a variable
VARIANT_META = ("description", "published")
#: Keywords that shape the graph rather than name a layer: the joins come from the layer catalogue.
STRUCTURAL = ("repeat", *layers.JOINS, "side", "seq")
ITEM_MODIFIERS = ("name", "when", "from")
#: variables set from the input's shape (C, H, W) that every layer can read
INPUT_VARIABLES = ("input_c", "input_h", "input_w")
#: keys of a join's branch given as a mapping; an inline branch opens no group (torchvision's Bottleneck keeps
#: conv1 … bn3 beside its downsample branch)
BRANCH_KEYS = ("seq", "name", "when", "inline")
#: Used with fullmatch: with match, '$' also accepts a trailing newline ("c1\n" passed as a name).
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: layer and group names: letters, digits, _ and - (not first), dots for nested groups ('features.0',
#: 'block1-0', as torchvision's keys are)
_LAYER_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_][A-Za-z0-9_-]*)*")


class BlockDef:
    """A block as the spec defines it: its parameters (with defaults), its body and whether it is inline."""

    __slots__ = ("body", "defaults", "inline", "loc", "name", "params")

    def __init__(self, name: str, params: list[str], defaults: dict[str, Any], body: Any, inline: bool,
                 loc: SourceLocation | None) -> None:
        self.name, self.params, self.defaults, self.body, self.inline, self.loc = (
            name, params, defaults, body, inline, loc)


class _Scope:
    """Where new nodes go: the group path and the per-kind name counters of that group."""

    __slots__ = ("counters", "path")

    def __init__(self, path: tuple[str, ...]) -> None:
        self.path = path
        self.counters: dict[str, int] = {}


def input_variables(shape: Shape) -> dict[str, int]:
    """What the layers may read of the input's size (after ``--input``): ``input_c``, and for a map
    ``input_h`` and ``input_w`` — for sizes that follow the input's, as a segmentation head's upsampling
    back to the input size does."""
    if len(shape) == 3:
        return dict(zip(INPUT_VARIABLES, shape, strict=True))
    return {"input_c": shape[0]}


def parse_shape(value: Any, where: SourceLocation | None, what: str = "input") -> Shape:
    """'3x224x224', '3×224×224', [3, 224, 224] or an integer vector length → a shape tuple."""
    if isinstance(value, int) and not isinstance(value, bool):
        dims: list[Any] = [value]
    elif isinstance(value, str):
        dims = [d.strip() for d in re.split(r"[x×,]", value.strip())]
    elif isinstance(value, list):
        dims = list(value)
    else:
        raise SpecError(f"{what} must look like 3x224x224, got {value!r}", where)
    if len(dims) > 3 or any(isinstance(d, str) and len(d) > MAX_DIGITS for d in dims):
        raise SpecError(f"{what} must be C×H×W with sizes up to {MAX_INT:,}, got {value!r}", where)
    try:
        shape = tuple(int(d) for d in dims)
    except (TypeError, ValueError, OverflowError):
        raise SpecError(f"{what} must look like 3x224x224 (C×H×W), got {value!r}", where) from None
    if len(shape) not in (1, 3) or any(d <= 0 for d in shape):
        raise SpecError(f"{what} must be C×H×W with positive sizes, got {value!r}", where)
    if any(d > MAX_INT for d in shape):
        raise SpecError(f"{what} must be C×H×W with sizes up to {MAX_INT:,}, got {value!r}", where)
    return shape


class Expander:
    """Expands one spec document into a :class:`Graph`."""

    def __init__(self, doc: Any, filename: str, overrides: Mapping[str, Any] | None = None,
                 input_override: Shape | None = None, variant: str | None = None):
        if not isinstance(doc, LMap):
            raise SpecError("a spec is a YAML mapping with at least 'input' and 'layers'",
                            loc_of(doc) or SourceLocation(filename, 1, 1))
        self.doc = doc
        self.filename = filename
        self.work = 0
        self.list_work = 0
        for key in doc:
            if key not in TOP_KEYS:
                raise SpecError(f"unknown top-level key '{key}'", doc.key_locs[key], did_you_mean(key, TOP_KEYS))
        self.variant = variant
        self.variant_meta: dict[str, Any] = {}
        values: dict[str, Any] = {}
        if variant is not None:
            values, self.variant_meta = self._variant(variant)
        self.globals = self._variables(values, overrides or {})
        self.blocks = self._blocks()
        self.input_override = input_override
        self.nodes: list[Node] = []
        self.names: dict[str, SourceLocation | None] = {}
        self.groups: list[Group] = []
        self.outputs: list[str] = []
        self.call_stack: list[str] = []
        #: a finished group's output node (for 'from:' naming a block instance, a branch or a seq)
        self.group_ends: dict[str, str] = {}
        self.node_names: set[str] = {INPUT}
        #: every group path that has (or had) a name under it: a call's group must start empty to be
        #: recorded or replayed (a dotted name written earlier could be read by its 'from:')
        self.prefixes: set[str] = set()
        self.journal = Journal()
        #: a block call's recorded expansion by what it depends on (None: it reads outside its group)
        self.recordings: dict[Any, Recording | None] = {}
        self.globals_key: tuple[Any, ...] | None = None  # the spec's variables, frozen, once expansion starts

    # ---- top level ------------------------------------------------------------------------------
    def _variables(self, variant: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
        """The variables in order; a variant's values, then ``--set``'s, replace their defaults before the
        variables that follow (and may derive from them) are computed."""
        raw = self.doc.get("vars") or LMap()
        if not isinstance(raw, LMap):
            raise SpecError("'vars' must be a mapping of names to default values", self.doc.value_locs.get("vars"))
        for key in overrides:
            if key not in raw:
                raise SpecError(f"--set {key}: the spec has no variable '{key}'"
                                f" (it has: {', '.join(raw) or 'none'})", None, did_you_mean(key, raw))
        table = self.doc.get("variants")
        entry = table.get(self.variant) if isinstance(table, LMap) and self.variant is not None else None
        for key in variant:
            if key not in raw:
                where = entry.key_locs[key] if isinstance(entry, LMap) else None
                raise SpecError(f"variant '{self.variant}' sets '{key}', which is not a variable of the spec"
                                f" (it has: {', '.join(raw) or 'none'})", where, did_you_mean(key, raw))
        env: dict[str, Any] = {}
        for key, value in raw.items():
            if not _NAME_RE.fullmatch(key):
                raise SpecError(f"invalid variable name '{key}'", raw.key_locs[key])
            if key in INPUT_VARIABLES:
                raise SpecError(f"'{key}' is the input's size, set by archcalc: a spec cannot declare it",
                                raw.key_locs[key], f"the layers can read ${key}; name the variable otherwise")
            if key in overrides:
                env[key] = overrides[key]
            elif key in variant:
                env[key] = self._resolve(variant[key], env, entry.value_locs[key] if isinstance(entry, LMap) else None)
            else:
                env[key] = self._resolve(value, env, raw.value_locs[key])
        return env

    def _variant(self, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """A named variant's variable values and its own description/published figures."""
        table = self.doc.get("variants")
        if not isinstance(table, LMap):
            raise SpecError(f"the spec has no variants (asked for '{name}')", self.doc.loc)
        if name not in table:
            raise SpecError(f"the spec has no variant '{name}' (it has: {', '.join(table)})",
                            self.doc.key_locs["variants"], did_you_mean(name, table))
        entry = table[name]
        if entry is None:
            return {}, {}
        if not isinstance(entry, LMap):
            raise SpecError(f"variant '{name}' must be a mapping of variable values", table.value_locs[name])
        values = {k: v for k, v in entry.items() if k not in VARIANT_META}
        meta = {k: v for k, v in entry.items() if k in VARIANT_META}
        if meta.get("published") is not None and not isinstance(meta["published"], LMap):
            raise SpecError(f"variant '{name}': 'published' must be a mapping of names to values",
                            entry.value_locs["published"])
        return values, meta

    def _blocks(self) -> dict[str, BlockDef]:
        raw = self.doc.get("blocks") or LMap()
        if not isinstance(raw, LMap):
            raise SpecError("'blocks' must be a mapping of block names to definitions",
                            self.doc.value_locs.get("blocks"))
        out: dict[str, BlockDef] = {}
        for name, given in raw.items():
            where = raw.value_locs[name]
            spec = given
            if not _NAME_RE.fullmatch(name):
                raise SpecError(f"invalid block name '{name}'", raw.key_locs[name])
            if layers.is_layer(name) or name in STRUCTURAL:
                raise SpecError(f"block name '{name}' shadows a layer type or keyword", raw.key_locs[name])
            if isinstance(spec, LList):
                spec_map = LMap({"body": spec})
                spec_map.loc, spec_map.key_locs, spec_map.value_locs = where, {}, {"body": where}
                spec = spec_map
            if not isinstance(spec, LMap) or "body" not in spec:
                raise SpecError(f"block '{name}' needs a 'body' (a list of layers)", where)
            for key in spec:
                if key not in ("args", "body", "inline", "doc"):
                    raise SpecError(f"unknown key '{key}' in block '{name}'", spec.key_locs[key],
                                    did_you_mean(key, ("args", "body", "inline", "doc")))
            args = spec.get("args")
            params: list[str] = []
            defaults: dict[str, Any] = {}
            if args is None:
                pass
            elif isinstance(args, LList):
                params = [str(a) for a in args]
            elif isinstance(args, LMap):
                for arg, default in args.items():
                    params.append(arg)
                    if default is not None:
                        defaults[arg] = default
            else:
                raise SpecError(f"block '{name}' args must be a list of names or a mapping of defaults",
                                spec.value_locs.get("args", where))
            for p in params:
                if not _NAME_RE.fullmatch(p):
                    raise SpecError(f"invalid argument name '{p}' in block '{name}'", spec.value_locs.get("args"))
            out[name] = BlockDef(name, params, defaults, spec["body"], bool(spec.get("inline", False)), where)
        return out

    def expand(self) -> Graph:
        doc = self.doc
        top = doc.loc
        if "layers" not in doc:
            raise SpecError("spec has no 'layers'", top)
        if self.input_override is not None:
            shape = self.input_override
        elif "input" in doc:
            value = doc["input"]
            if isinstance(value, str) and has_refs(value):
                value = substitute(value, self.globals, doc.value_locs["input"])
            shape = parse_shape(value, doc.value_locs["input"])
        else:
            raise SpecError("spec has no 'input' (for example input: 3x224x224)", top)
        for key in ("published", "recipe"):
            if doc.get(key) is not None and not isinstance(doc[key], LMap):
                raise SpecError(f"'{key}' must be a mapping of names to values", doc.value_locs[key])
        name = self.variant or str(doc.get("name") or self.filename.rsplit("/", 1)[-1].removesuffix(".yaml"))
        declared = dict(self.globals)
        self.globals.update(input_variables(shape))  # the layers (and blocks) see the input's size
        self.globals_key = frozen_items(self.globals, self.globals)
        self.nodes.append(Node(INPUT, layers.INPUT, layers.input_config(shape), (), doc.value_locs.get("input", top)))
        self.names[INPUT] = doc.value_locs.get("input")
        main = self._sequence(doc["layers"], INPUT, _Scope(()), self.globals, doc.value_locs["layers"])
        outputs = (main, *self.outputs)
        meta = SpecMeta(
            name=name,
            description=str(self.variant_meta.get("description") or doc.get("description") or ""),
            source=plain(doc.get("source") or {}) if isinstance(doc.get("source"), dict)
            else {"paper": str(doc.get("source") or "")},
            published=plain(self.variant_meta.get("published") or doc.get("published") or {}),
            file=self.filename,
            variables=declared,
            recipe={"init": plain(doc.get("init")), **(plain(doc.get("recipe") or {}))},
        )
        graph = Graph(meta=meta, input_shape=shape, nodes=tuple(self.nodes), outputs=outputs,
                      groups=tuple(self.groups))
        _check_all_read(graph)
        return graph

    # ---- sequences and items --------------------------------------------------------------------
    def _sequence(self, items: Any, current: str, scope: _Scope, env: Mapping[str, Any],
                  where: SourceLocation | None) -> str:
        if items is None:
            return current
        if not isinstance(items, LList):
            return self._item(items, current, scope, env, where)
        for item, item_loc in zip(items, items.item_locs, strict=True):
            current = self._item(item, current, scope, env, item_loc)
        return current

    def _item(self, item: Any, current: str, scope: _Scope, env: Mapping[str, Any],
              where: SourceLocation | None) -> str:
        self._spend(1, where)
        if isinstance(item, str):
            word = str(substitute(item, env, where)) if has_refs(item) else str(item)
            return self._call(word, None, None, None, current, scope, env, where, where)
        if isinstance(item, LList):
            return self._sequence(item, current, scope, env, where)
        if not isinstance(item, LMap):
            raise SpecError(f"expected a layer (a name or a mapping), got {item!r}", where)
        if "when" in item and not self._condition(item["when"], env, item.value_locs["when"]):
            return current
        name = item.get("name")
        if name is not None:
            name = self._resolve(name, env, item.value_locs["name"])
        keys = [k for k in item if k not in ITEM_MODIFIERS]
        sources: tuple[str, ...] = ()
        if "from" in item:
            sources = self._from(item["from"], scope, env, item.value_locs["from"])
        structural = [k for k in keys if k in STRUCTURAL]
        if structural and structural[0] in layers.JOINS and not isinstance(item[structural[0]], LList):
            return self._wired_join(structural[0], item[structural[0]], item.key_locs[structural[0]], sources,
                                    name, scope, env)
        if len(sources) > 1 and not structural and len(keys) == 1 and self._takes_several(keys[0]):
            return self._call(keys[0], item[keys[0]], item.value_locs[keys[0]], name, sources, scope, env,
                              item.key_locs[keys[0]], where)
        if sources:
            current = self._one_source(sources, item.value_locs["from"])
        if structural:
            return self._structural(structural[0], item, name, current, scope, env)
        if len(keys) != 1:
            what = ", ".join(keys) if keys else "nothing"
            raise SpecError(f"a layer entry names exactly one layer type or block, found {what}",
                            item.loc, "write one layer per list item")
        word = keys[0]
        return self._call(word, item[word], item.value_locs[word], name, current, scope, env,
                          item.key_locs[word], where)

    def _takes_several(self, word: str) -> bool:
        """A layer type (not a join) that reads several inputs named by ``from:`` (an opaque op's operands)."""
        return word not in self.blocks and layers.is_layer(word) and layers.get(word).arity[1] > 1

    def _structural(self, kind: str, item: LMap, name: Any, current: str, scope: _Scope,
                    env: Mapping[str, Any]) -> str:
        allowed = {"repeat": ("repeat", "body", "index", "when", "name", "from"),
                   "seq": ("seq", "when", "name", "from"), "side": ("side", "when", "name", "from")
                   }.get(kind, (kind, "split", "inline", "when", "name", "from"))
        for key in item:
            if key not in allowed:
                raise SpecError(f"unexpected key '{key}' in a '{kind}' entry", item.key_locs[key],
                                did_you_mean(key, allowed))
        where = item.key_locs[kind]
        if kind == "repeat":
            count = self._resolve(item["repeat"], env, item.value_locs["repeat"])
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise SpecError(f"repeat count must be a non-negative integer, got {count!r}",
                                item.value_locs["repeat"])
            if count > MAX_REPEAT:
                raise SpecError(f"repeat count {count} exceeds the limit of {MAX_REPEAT}", item.value_locs["repeat"])
            if "body" not in item:
                raise SpecError("repeat needs a 'body' (the list of layers to repeat)", where)
            index = item.get("index") or "i"
            if not isinstance(index, str) or not _NAME_RE.fullmatch(index):
                raise SpecError(f"invalid repeat index name {index!r}", item.value_locs.get("index", where))
            for i in range(1, count + 1):
                self._spend(1, where)
                current = self._sequence(item["body"], current, scope, {**env, index: i}, item.value_locs["body"])
            return current
        if kind == "seq":
            if name is None:
                return self._sequence(item["seq"], current, scope, env, item.value_locs["seq"])
            inner = self._open_group(scope, str(name), "group", where)
            return self._close_group(inner, self._sequence(item["seq"], current, inner, env, item.value_locs["seq"]))
        if kind == "side":
            side_label = str(name) if name is not None else self._auto(scope, "aux")
            inner = self._open_group(scope, side_label, "side", where)
            self._apply(AddOutput(self._close_group(inner, self._sequence(item["side"], current, inner, env,
                                                                           item.value_locs["side"]))))
            return current
        # a join (concat, add, ...): parallel branches, then the join node
        branches = item[kind]
        if not isinstance(branches, LList) or not branches:
            raise SpecError(f"'{kind}' takes a list of branches (each a list of layers; [] is the identity)",
                            item.value_locs[kind])
        split = self._split(item, kind, len(branches), env) if "split" in item else None
        join_inline = self._inline(item, kind, env)
        ends = []
        for k, (branch, bloc) in enumerate(zip(branches, branches.item_locs, strict=True)):
            if split is None and (branch is None or (isinstance(branch, LList) and not branch)):
                ends.append(current)
                continue
            label: Any = None
            body: Any = branch
            inline = False
            if isinstance(branch, LMap) and "seq" in branch:
                if "when" in branch and not self._condition(branch["when"], env, branch.value_locs["when"]):
                    continue
                inline = self._branch_inline(branch, env)
                label = self._resolve(branch["name"], env, branch.value_locs["name"]) if "name" in branch else None
                body = branch["seq"]
            # an inline branch, or an unnamed one of an inline join: its layers join the enclosing group, as an
            # inline block's do
            if inline or (join_inline and label is None):
                inner = scope
            else:
                inner = self._open_group(scope, str(label) if label is not None else self._auto(scope, "b"),
                                         "branch", bloc)
            before = len(self.nodes)
            start = current
            if split is not None:  # the branch reads its part of the channels
                part = layers.split_part_config(k, *split)
                start = self._emit(part.key, part.config, (current,), None, inner, item.key_locs["split"])
            end = self._sequence(body, start, inner, env, bloc)
            if inner is scope:
                ends.append(end)
                continue
            ends.append(self._close_group(inner, end))
            if len(self.nodes) == before:  # every layer of the branch was dropped by 'when'
                self._apply(DropGroup(".".join(inner.path)))
        if not ends:
            raise SpecError(f"every branch of this '{kind}' was dropped by 'when'", where)
        if len(ends) == 1 and split is None:
            # the other branches were dropped by 'when': a join of one path is that path (named as the join)
            identity = layers.get("identity")
            return self._emit(identity.key, identity.config(), tuple(ends), name, scope, where)
        return self._emit(kind, layers.CATALOGUE[kind].config(), tuple(ends), name, scope, where)

    def _inline(self, item: LMap, kind: str, env: Mapping[str, Any]) -> bool:
        """A join's ``inline``: its unnamed branches open no group (their layers take the join's group's names,
        as a module whose forward branches names its layers: torchvision's ``layer1.0.conv1``)."""
        if "inline" not in item:
            return False
        value = self._resolve(item["inline"], env, item.value_locs["inline"])
        if not isinstance(value, bool):
            raise SpecError(f"'{kind}' attribute 'inline' must be true or false, got {value!r}",
                            item.value_locs["inline"])
        return value

    def _branch_inline(self, branch: LMap, env: Mapping[str, Any]) -> bool:
        """A branch ``{seq: [...], name: …, when: …, inline: …}``: check its keys; is it inline?"""
        for key in branch:
            if key not in BRANCH_KEYS:
                raise SpecError(f"unexpected key '{key}' in a branch", branch.key_locs[key],
                                did_you_mean(key, BRANCH_KEYS))
        if "inline" not in branch:
            return False
        inline = self._resolve(branch["inline"], env, branch.value_locs["inline"])
        if not isinstance(inline, bool):
            raise SpecError(f"a branch's 'inline' is true or false, got {inline!r}", branch.value_locs["inline"])
        if inline and "name" in branch:
            raise SpecError("an inline branch has no name: its layers are named in the enclosing group",
                            branch.key_locs["name"], "drop the name, or inline")
        return inline

    def _split(self, item: LMap, kind: str, branches: int, env: Mapping[str, Any]) -> tuple[tuple[int, ...] | None,
                                                                                           int | None]:
        """A join's ``split``: equal parts (an integer) or the parts' channel counts, one per branch."""
        where = item.value_locs["split"]
        value = self._resolve(item["split"], env, where)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            parts: int | None = value
            sizes: tuple[int, ...] | None = None
            count = value
        elif isinstance(value, list) and value and all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
            parts, sizes, count = None, tuple(value), len(value)
        else:
            raise SpecError(f"'split' takes a number of equal parts or a list of channel counts, got {value!r}",
                            where, "e.g. split: 2, or split: [58, 58]")
        if count != branches:
            raise SpecError(f"'{kind}' splits its input into {count} parts but has {branches} branches",
                            where, "one branch per part ([] passes a part on unchanged)")
        return sizes, parts

    # ---- layers and block calls -----------------------------------------------------------------
    def _call(self, word: str, value: Any, value_loc: SourceLocation | None, name: Any,
              current: str | tuple[str, ...], scope: _Scope, env: Mapping[str, Any], key_loc: SourceLocation | None,
              where: SourceLocation | None) -> str:
        if word in self.blocks:
            assert isinstance(current, str)  # several inputs go only to a layer type that takes them
            return self._block(self.blocks[word], value, value_loc, name, current, scope, env, key_loc)
        if not layers.is_layer(word):
            hint = (did_you_mean(word, [*filter(layers.is_layer, layers.CATALOGUE), *self.blocks])
                    if word not in layers.CATALOGUE  # an internal type ('input'): not a layer to suggest
                    else f"'{word}' is not a layer a spec writes; the network's input is the top-level 'input:'")
            raise SpecError(f"unknown layer type or block '{word}'", key_loc, hint)
        layer = layers.get(word, key_loc)
        raw: dict[str, Any] = {}
        locs: dict[str, SourceLocation] = {}
        if isinstance(value, LMap):
            for key, v in value.items():
                if key == "name":
                    name = self._resolve(v, env, value.value_locs[key])
                    continue
                if key == "when":
                    if not self._condition(v, env, value.value_locs[key]):
                        return current if isinstance(current, str) else current[0]
                    continue
                if key == "from":
                    named = self._from(v, scope, env, value.value_locs[key])
                    current = named if len(named) > 1 and layer.arity[1] > 1 else self._one_source(
                        named, value.value_locs[key])
                    continue
                raw[key] = self._resolve(v, env, value.value_locs[key])
                locs[key] = value.value_locs[key]
        elif value is not None:
            if layer.primary is None:
                raise SpecError(f"layer type '{layer.key}' takes a mapping of attributes, not {value!r}",
                                value_loc)
            raw[layer.primary] = self._resolve(value, env, value_loc)
            locs[layer.primary] = value_loc or where  # type: ignore[assignment]
        attrs = layer.normalize(raw, locs.get, key_loc)
        return self._emit(layer.key, attrs, (current,) if isinstance(current, str) else current, name, scope, key_loc)

    def _block(self, block: BlockDef, value: Any, value_loc: SourceLocation | None, name: Any, current: str,
               scope: _Scope, env: Mapping[str, Any], key_loc: SourceLocation | None) -> str:
        if block.name in self.call_stack:
            chain = " → ".join([*self.call_stack[self.call_stack.index(block.name):], block.name])
            raise SpecError(f"block cycle: {chain}", key_loc)
        if len(self.call_stack) >= MAX_CALL_DEPTH:
            raise SpecError(f"blocks nest deeper than {MAX_CALL_DEPTH} calls", key_loc)
        args: dict[str, Any] = {}
        if isinstance(value, LMap):
            for key, v in value.items():
                if key == "name":
                    name = self._resolve(v, env, value.value_locs[key])
                elif key == "when":
                    if not self._condition(v, env, value.value_locs[key]):
                        return current
                elif key == "from":
                    current = self._one_source(self._from(v, scope, env, value.value_locs[key]),
                                               value.value_locs[key])
                elif key not in block.params:
                    raise SpecError(f"block '{block.name}' has no argument '{key}'"
                                    f" (it takes: {', '.join(block.params) or 'none'})",
                                    value.key_locs[key], did_you_mean(key, block.params))
                else:
                    args[key] = self._resolve(v, env, value.value_locs[key])
        elif isinstance(value, LList):
            if len(value) > len(block.params):
                raise SpecError(f"block '{block.name}' takes {len(block.params)} arguments"
                                f" ({', '.join(block.params)}), got {len(value)}", value_loc)
            for param, v, vloc in zip(block.params, value, value.item_locs, strict=False):
                args[param] = self._resolve(v, env, vloc)
        elif value is not None:
            if not block.params:
                raise SpecError(f"block '{block.name}' takes no arguments", value_loc)
            args[block.params[0]] = self._resolve(value, env, value_loc)
        local: dict[str, Any] = dict(self.globals)
        for param in block.params:
            if param in args:
                local[param] = args[param]
            elif param in block.defaults:
                local[param] = self._resolve(block.defaults[param], local, block.loc)
            else:
                raise SpecError(f"block '{block.name}' needs argument '{param}'", key_loc)
        self.call_stack.append(block.name)
        try:
            if block.inline:
                if name is not None:
                    inner = self._open_group(scope, str(name), f"block:{block.name}", key_loc)
                else:
                    inner = scope
            else:
                label = str(name) if name is not None else self._auto(scope, block.name)
                inner = self._open_group(scope, label, f"block:{block.name}", key_loc)
            if inner is scope:
                return self._sequence(block.body, current, inner, local, block.loc)
            return self._close_group(inner, self._body(block, current, inner, local))
        finally:
            self.call_stack.pop()

    # ---- wiring by name ------------------------------------------------------------------------
    def _from(self, value: Any, scope: _Scope, env: Mapping[str, Any],
              where: SourceLocation | None) -> tuple[str, ...]:
        """The nodes that ``from:`` names: layers (or finished groups, meaning their output) written
        before this point, looked up from the current group outwards (``conv1`` in a block is its own)."""
        resolved = self._resolve(value, env, where)
        wanted = resolved if isinstance(resolved, list) else [resolved]
        if not wanted or not all(isinstance(w, str) and w for w in wanted):
            raise SpecError(f"'from' takes a layer name or a list of them, got {resolved!r}", where)
        found = []
        for label in wanted:
            for depth in range(len(scope.path), -1, -1):
                full = ".".join((*scope.path[:depth], label))
                if full in self.group_ends:
                    found.append(self.group_ends[full])
                elif full in self.node_names:
                    found.append(full)
                else:
                    continue
                if self.journal.open:
                    self.journal.named(full)
                break
            else:
                raise SpecError(f"from: no layer or finished group named '{label}' before this point", where,
                                did_you_mean(label, [*self.node_names, *self.group_ends])
                                or "a layer can read only layers written before it")
        return tuple(found)

    def _one_source(self, sources: tuple[str, ...], where: SourceLocation | None) -> str:
        if len(sources) != 1:
            raise SpecError(f"a layer reads one input; 'from' names {len(sources)} ({', '.join(sources)})", where,
                            "a join reads several: - concat: {from: [a, b]}")
        return sources[0]

    def _wired_join(self, kind: str, value: Any, where: SourceLocation | None, sources: tuple[str, ...], name: Any,
                    scope: _Scope, env: Mapping[str, Any]) -> str:
        """A join over named inputs (``- add: {from: [a, b]}``): any graph that nesting cannot write."""
        if isinstance(value, LMap):
            for key in value:
                if key not in ("from", "name"):
                    raise SpecError(f"unexpected key '{key}' in a '{kind}' over named inputs", value.key_locs[key],
                                    "a join over named inputs takes 'from' and 'name'")
            if "name" in value:
                name = self._resolve(value["name"], env, value.value_locs["name"])
            if "from" in value:
                sources = self._from(value["from"], scope, env, value.value_locs["from"])
        elif value is not None:
            raise SpecError(f"'{kind}' takes a list of branches, or {{from: [a, b]}} over named layers", where)
        if len(sources) < 2:
            raise SpecError(f"'{kind}' over named inputs needs at least two in 'from'", where)
        return self._emit(kind, layers.CATALOGUE[kind].config(), sources, name, scope, where)

    def _body(self, block: BlockDef, current: str, inner: _Scope, local: dict[str, Any]) -> str:
        """A block's body in its own group: replayed from an earlier call with the same variables where that
        cannot differ (archcalc.spec.stamp), else expanded (and recorded, the first time)."""
        prefix = ".".join(inner.path)
        key = call_key(block.name, tuple(self.call_stack), self.globals_key, block.params, local)
        if key is not None and prefix not in self.prefixes:
            earlier = self.recordings.get(key, False)
            if isinstance(earlier, Recording):
                end = self._replay(earlier, prefix, current)
                if end is not None:
                    return end
            elif earlier is False:
                work, list_work = self.work, self.list_work
                with self.journal.recording(Recording(prefix, current)) as rec:
                    end = self._sequence(block.body, current, inner, local, block.loc)
                rec.close(end, self.work - work, self.list_work - list_work)
                self.recordings[key] = rec if rec.relocatable() else None
                return end
        return self._sequence(block.body, current, inner, local, block.loc)

    def _replay(self, rec: Recording, prefix: str, source: str) -> str | None:
        """The recorded call's effects under this call's names; None (nothing changed) where a limit would
        be passed, so that the expansion itself raises the error at its place."""
        if (len(self.nodes) + rec.nodes > MAX_LAYERS or len(self.groups) + rec.peak_groups > MAX_GROUPS
                or self.work + rec.work > MAX_WORK or self.list_work + rec.list_work > MAX_LIST_WORK):
            return None
        self.work += rec.work
        self.list_work += rec.list_work
        if rec.stamp is None:
            rec.stamp = Stamp(rec)
        end = rec.stamp.apply(self, prefix, source)
        if self.journal.open:  # inside another call being recorded: one event for the whole copy
            self.journal.log(Replayed(rec.stamp, prefix, source))
        return end

    def _apply(self, event: Change) -> None:
        """Where an expanded layer or group changes the results (a replay's copy is its stamp's ``apply``):
        a node, a group, its end, a dropped group or a side output, logged for the recordings in progress.
        (The three of every block call, a node, a group and its end, have a method each below, which makes
        the event only where a recording is open.)"""
        if isinstance(event, AddNode):
            self._add_node(event.node)
        elif isinstance(event, AddGroup):
            self._add_group(event.group, ".".join(event.group.path))
        elif isinstance(event, EndGroup):
            self._end_group(event.path, event.end)
        else:
            if isinstance(event, DropGroup):
                self.groups.pop()
                del self.names[event.path]
            else:
                self.outputs.append(event.name)
            if self.journal.open:
                self.journal.log(event)

    def _add_node(self, node: Node) -> None:
        self.nodes.append(node)
        self.node_names.add(node.name)
        self._name(node.name, node.loc)
        if self.journal.open:
            self.journal.log(AddNode(node))

    def _add_group(self, group: Group, full: str) -> None:
        self.groups.append(group)
        self._name(full, group.loc)
        if self.journal.open:
            self.journal.log(AddGroup(group))

    def _end_group(self, path: str, end: str) -> None:
        self.group_ends[path] = end
        if self.journal.open:
            self.journal.log(EndGroup(path, end))

    def _name(self, full: str, where: SourceLocation | None) -> None:
        self.names[full] = where
        dot = full.rfind(".")
        while dot > 0:
            full = full[:dot]
            if full in self.prefixes:
                break
            self.prefixes.add(full)
            dot = full.rfind(".")

    def _close_group(self, inner: _Scope, end: str) -> str:
        self._end_group(".".join(inner.path), end)
        return end

    # ---- naming and emission --------------------------------------------------------------------
    def _auto(self, scope: _Scope, short: str) -> str:
        n = scope.counters[short] = scope.counters.get(short, 0) + 1
        return f"{short}{n}"

    def _full(self, scope: _Scope, label: str, where: SourceLocation | None) -> str:
        # (letters and digits alone, as most names are, match without the pattern: str's own tests are faster)
        if not (label.isascii() and label.isalnum()) and not _LAYER_NAME_RE.fullmatch(label):
            raise SpecError(f"invalid layer name {label!r}: use letters, digits, _ and - (not first), with dots"
                            " between nested groups (as in features.0.1 or block1-0)", where)
        full = ".".join((*scope.path, label))
        if full in self.names:
            first = self.names[full]
            at = f" (first at line {first.line})" if first else ""
            raise SpecError(f"duplicate layer name '{full}'{at}", where,
                            "names in a repeat can use the index, e.g. conv$i")
        return full

    def _open_group(self, scope: _Scope, label: str, kind: str, where: SourceLocation | None) -> _Scope:
        if len(self.groups) >= MAX_GROUPS:
            raise SpecError(f"spec opens more than {MAX_GROUPS} groups (block calls, branches)", where)
        full = self._full(scope, label, where)
        path = tuple(full.split("."))
        self._add_group(new_record(Group, (path, kind, where)), full)
        return _Scope(path)

    def _emit(self, op: str, attrs: layers.Config, inputs: tuple[str, ...], name: Any, scope: _Scope,
              where: SourceLocation | None) -> str:
        if len(self.nodes) >= MAX_LAYERS:
            raise SpecError(f"spec expands to more than {MAX_LAYERS} layers", where)
        short = layers.CATALOGUE[op].short or op
        label = str(name) if name is not None else self._auto(scope, short)
        full = self._full(scope, label, where)
        self._add_node(new_record(Node, (full, op, attrs, inputs, where, scope.path)))
        return full

    # ---- values ---------------------------------------------------------------------------------
    def _spend(self, steps: int, where: SourceLocation | None) -> None:
        """Count expansion work; past MAX_WORK the spec is refused where the work was being done."""
        self.work += steps
        if self.work > MAX_WORK:
            raise SpecError(f"spec takes more than {MAX_WORK:,} steps to expand (repeats, block calls,"
                            " expressions)", where, "a repeat or block call nested too deeply?")

    def _spend_lists(self, steps: int, where: SourceLocation | None) -> None:
        """Count the work of list expressions apart: past MAX_LIST_WORK the spec is refused."""
        self.list_work += steps
        if self.list_work > MAX_LIST_WORK:
            raise SpecError(f"list expressions take more than {MAX_LIST_WORK:,} steps in all", where,
                            "a comprehension evaluated in every iteration of a repeat? compute it once in vars")

    def _condition(self, value: Any, env: Mapping[str, Any], where: SourceLocation | None) -> bool:
        """A ``when`` value: a boolean, or an expression where ``$x`` and ``x`` mean the same."""
        if isinstance(value, str):
            self._spend(1 + len(value) // 32, where)
            expr = _when_expression(str(value))
            at = loc_of(value) or where
            return bool(evaluate(expr, env, at, lambda steps: self._spend_lists(steps, at)))
        return bool(self._resolve(value, env, where))

    def _resolve(self, value: Any, env: Mapping[str, Any], where: SourceLocation | None) -> Any:
        """Substitute variables in a value (recursively for lists and mappings)."""
        if isinstance(value, str):
            if not has_refs(value):
                self._spend(1, where)
                return str(value)
            self._spend(1 + len(value) // 32, where)  # (one call: it raises exactly where two would)
            at = loc_of(value) or where
            return substitute(value, env, at, lambda steps: self._spend_lists(steps, at))
        self._spend(1, where)
        if isinstance(value, LList):
            return [self._resolve(v, env, loc) for v, loc in zip(value, value.item_locs, strict=True)]
        if isinstance(value, LMap):
            return {k: self._resolve(v, env, value.value_locs[k]) for k, v in value.items()}
        return value


@functools.lru_cache(maxsize=1024)
def _when_expression(text: str) -> str:
    """A ``when`` text as an expression (``$x`` and ``${…}`` unwrapped); memoised: a block's conditions are
    read again at every call."""
    return re.sub(_BARE_REF, r"\1", re.sub(_BRACED_REF, r"(\1)", text))


def _check_all_read(graph: Graph) -> None:
    """A layer nothing reads (left behind by 'from:') would be computed for nothing: say so. (By position:
    the wiring is what every analysis reads next, built once here; every input is an earlier node, so all
    are read when the positions read number the nodes.)"""
    wiring, positions = graph.wiring, graph.positions
    read = set(chain.from_iterable(wiring))
    read.update([positions[o] for o in graph.outputs])
    read.add(0)  # the input
    if len(read) == len(wiring):
        return
    for k, node in enumerate(graph.nodes):
        if k not in read:
            raise SpecError(f"layer '{node.name}' is read by no other layer and is not an output", node.loc,
                            "wire it with 'from:', or make it an extra output with 'side:'")



#: (patterns, compiled by ``re`` where first used: most specs have no ``when``)
_BRACED_REF = r"\$\{([^}]*)\}"
_BARE_REF = r"\$([A-Za-z_]\w*)"


