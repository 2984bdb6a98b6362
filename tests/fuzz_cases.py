"""The fuzz test's cases: seeded, so every run (and every machine) draws the same set.

Three sources, mixed:

* the seed corpus, ``tests/hostile/*.yaml``: one file per defect ever found (the reliability report's
  reproducers R01–R24 and the unbounded U1 specs); add a file there for every new one;
* special files made at run time: a FIFO, a ``/dev/zero`` symlink, a directory, a 5 MB file, a 1 MB value;
* mutants of the zoo specs (values, keys, structure, expressions, a hostile ``variants:`` table run as
  ``FILE.yaml:VARIANT``, then the text itself);
* random small networks drawn from the layer catalogue, so every layer type and every attribute kind is
  exercised as soon as it is registered, with no list here to update, inside every join (``add``,
  ``concat``, ``mul``, ``split:``), a repeat or a block;
* networks wired by name (``from:`` on items, joins over named layers), with hostile references.
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from archcalc import layers
from archcalc.spec import zoo
from archcalc.spec.loader import parse_text, plain

SEED = 20261201
HOSTILE = Path(__file__).parent / "hostile"


@dataclass(frozen=True)
class Case:
    """One spec to run: ``text`` written to ``<id>.yaml``, or ``special`` (fifo, dev_zero, directory)."""

    id: str
    text: bytes = b""
    special: str = ""
    #: layer types the case names, so a failure can be matched against known, owned defects
    types: tuple[str, ...] = ()
    #: run as ``FILE.yaml:VARIANT`` (one of the spec's variants) when set
    variant: str = ""


# ---- values ------------------------------------------------------------------------------------------------
HOSTILE_NUMBERS: list[Any] = [0, -1, 10**6, 10**12, 2**63, 10**30, 10**400, 3.5, 1e300, math.inf, -math.inf,
                              math.nan, "abc", None, [1, 2], {"a": 1}, True, "", 2**62, 1e-300, -0.0]
HOSTILE_STRINGS: list[Any] = ["ñ名字", "x" * 1000, "y" * 100_000, 5, None, [], "[/x]", "[link=http://e.x]l",
                              "a$\\frac{$b", "c1\n", "a.b", "", " ", "$nope", "${", "$", "on", "010", "1:30",
                              "\u202eevil", ":smile:", "<script>", "%s%n", "../x", "/etc/passwd"]
INJECTIONS = [
    "${__import__('os').system('touch PWNED')}", "${(1).__class__}", "${open('/etc/passwd')}", "${lambda: 1}",
    "${[x for x in range(10)]}", "${f'{1}'}", "${-'a'}", "${'a' < 1}", "${(-1)**0.5 < 1}", "${1e300**2}",
    "${int(1e308*10)}", "${((10**64)**64)**64}", "${'a'*10**9}", "${'%999999999d' % 1}", "${round(5, -(2**62))}",
    "${max()}", "${min(1)}", "${2**64}", "${1/0}", "${0**-1}", "${(-8)**(1/3)}", "${not not not 1}", "${'$'}",
    "${1 if 1 else}", "${a.b}", "${x[0]}", "${globals()}", "${__builtins__}", "${True + True}", "${2**63 - 1}",
    "${-(2**63)}", "${9999999999999999999 * 9999999999999999999}", "${int('9' * 5000)}", "${round(1e18, 30)}",
    "${" + "-" * 200 + "1}", "${" + "1+" * 600 + "1}", "$undefined_var", "${i}", "${i * 2**62}",
    "${'ab' == 'ab'}", "${'B' if 1 else 'A'}", "${1e18 * 10}", "${7 % 0}", "${2 ** -1074}", "${10 // 3}",
]
#: values for ``split:`` on a join (a count, the parts' widths) and for ``from:`` that no spec should get away with
SPLITS: list[Any] = [2, 2, [1, 1], [2, 1], [8, 8], 0, 3, -1, [1], [], "x", 10**30, 1.5, None, [0, 1], ["a", 1]]
HOSTILE_FROM: list[Any] = ["nope", 5, [], None, "l0.x", "${x}", "../x", "l0\n", ["l0", "l0"], [["l0"]], "input",
                           "$i", {"a": 1}, "l" * 300]
TEXT_JUNK = [b"\xff\xfe", b"\x00", b"\x07", b"\x1b[31m", b"\t", b"\xef\xbb\xbf", b"\r\n", b"\xe9", b"  ", b"- ",
             b": ", b"&a ", b"*a ", b"!!python/object/apply:os.system ", b"!foo ", b"<<: ", b"{", b"[", b"'", b'"']


# ---- the layer catalogue -------------------------------------------------------------------------------------
def public_types() -> list[str]:
    """Every layer type a spec may name, read from the catalogue (new types join automatically)."""
    return sorted(key for key in layers.CATALOGUE if layers.is_layer(key))


def _attr_value(rng: random.Random, attr: Any, hostile: bool) -> Any:
    """A value for one catalogue attribute: mostly valid for its kind, sometimes hostile."""
    kind = getattr(attr, "kind", "")
    low = int(getattr(attr, "min", 0) or 0)
    choices = tuple(getattr(attr, "choices", ()) or ())
    if hostile or rng.random() < 0.1:
        return rng.choice([*HOSTILE_NUMBERS, *HOSTILE_STRINGS[:8], rng.choice(INJECTIONS)])
    small = rng.choice([low, low + 1, 2, 3, 4, 7])
    if kind == "int":
        return max(small, low)
    if kind in ("pair", "size"):
        return max(small, low) if rng.random() < 0.7 else [max(small, low), max(rng.choice([1, 2, 3]), low)]
    if kind == "padding":
        return rng.choice([0, 1, 2, "same", "valid", [1, 0], [0, 1, 1, 0]])
    if kind == "float":
        return rng.choice([0.0, 0.1, 0.5, 1.0, 1e-5, 2.5])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "choice" and choices:
        return rng.choice(choices)
    if kind == "table":
        return rng.choice([None, [[0], [1, 2]], [[0, 1, 2]] * 4])
    if kind == "str":
        return rng.choice(["a", "zeros", "x1"])
    return rng.choice([1, 2, 0.5, True, "a", None])  # a kind this generator does not know yet


def catalogue_layer(rng: random.Random, key: str, hostile: bool = False) -> Any:
    """One layer item of type ``key`` with attributes drawn from its catalogue entry."""
    layer = layers.CATALOGUE[key]
    attrs: dict[str, Any] = {}
    for name, attr in dict(getattr(layer, "attrs", {}) or {}).items():
        required = getattr(attr, "default", None) is getattr(layers.base, "REQUIRED", object())
        if required or rng.random() < 0.5:
            attrs[name] = _attr_value(rng, attr, hostile and rng.random() < 0.5)
    if not attrs and rng.random() < 0.5:
        return key
    return {key: attrs}


def catalogue_spec(rng: random.Random, featured: str, hostile: bool) -> tuple[str, tuple[str, ...]]:
    """A small network around one featured layer type, sometimes inside a branch, a repeat or a block."""
    types = [featured, *rng.sample(public_types(), k=rng.randint(0, 4))]
    rng.shuffle(types)
    items: list[Any] = [catalogue_layer(rng, t, hostile and t == featured) for t in types]
    shape = rng.choice(["3x16x16", "1x8x8", "3x32x32", "16", "3x1x1", "8x7x5"])
    wrap = rng.random()
    if wrap < 0.15:
        items = [{"add": [items, []]}]
    elif wrap < 0.22:
        items = [{"mul": [items, rng.choice([[], ["gap", "sigmoid"]])]}]
    elif wrap < 0.35:
        join: dict[str, Any] = {rng.choice(["concat", "concat", "add"]): [items, [catalogue_layer(rng, featured)]]}
        if rng.random() < 0.5:  # each branch reads its part of the channels
            join["split"] = rng.choice(SPLITS)
        items = [join]
    elif wrap < 0.5:
        items = [{"repeat": rng.choice([0, 1, 2, 3]), "body": items}]
    elif wrap < 0.6:
        doc = {"input": shape, "blocks": {"blk": {"args": ["w"], "body": items}},
               "layers": [{"blk": [rng.choice([1, 4, "x"])]}, {"blk": {"w": 2, "name": "second"}}]}
        return _dump(doc), tuple(types)
    if rng.random() < 0.3:
        items += ["flatten", {"fc": rng.choice([1, 10])}]
    return _dump({"input": shape, "layers": items}), tuple(types)


def wiring_spec(rng: random.Random) -> tuple[str, tuple[str, ...]]:
    """A network wired by name: catalogue layers that read earlier ones (``from:``), then a join over the
    named layers nothing else reads (``concat: {from: [a, b]}``); sometimes a hostile reference (unknown,
    later, itself, not a name, a list where one name goes) or a join split over its branches."""
    n = rng.randint(2, 5)
    channels = rng.choice([1, 4, 8])
    keep = [{"conv": {"out": channels, "k": 1}}, {"conv": {"out": channels, "k": 3, "pad": 1}}, "relu", "bn",
            {"conv_transpose": {"out": channels, "k": 1}}, "identity", "sigmoid", {"mul": [[], []]}]
    types = [rng.choice(public_types()) for _ in range(n)]
    items: list[dict[str, Any]] = []
    read: set[int] = set()
    for i, t in enumerate(types):
        # mostly layers that keep the shape (so the joins meet and the wiring itself is what runs)
        layer = catalogue_layer(rng, t) if rng.random() < 0.3 else rng.choice(keep)
        item: dict[str, Any] = {**({layer: {}} if isinstance(layer, str) else layer), "name": f"l{i}"}
        if i and rng.random() < 0.5:
            source = rng.randrange(i)
            item["from"] = f"l{source}"
            read.add(source)
        elif i:
            read.add(i - 1)
        items.append(item)
    sources = [f"l{i}" for i in range(n) if i not in read]
    if len(sources) < 2:
        sources.insert(0, f"l{rng.randrange(n - 1)}")
    items.append({rng.choice(layers.JOINS): {"from": sources, "name": "joined"}})
    if rng.random() < 0.35:
        target = rng.choice(items)
        target["from"] = rng.choice([*HOSTILE_FROM, f"l{n + 1}", "joined", [f"l{n - 1}"]])
    if rng.random() < 0.3:
        items.append({"concat": [[], [{"conv": {"out": rng.choice([1, 4]), "k": 1}}]],
                      "split": rng.choice(SPLITS)})
    shape = rng.choice([f"{channels}x16x16", f"{channels}x5x7", "3x8x8", f"{channels}x1x1"])
    return _dump({"input": shape, "layers": items}), tuple(types)


def _dump(doc: Any, width: int = 80) -> str:
    """YAML text of a generated document (libyaml's emitter where present: the pure-Python one took
    most of the generation time)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(doc, Dumper=dumper, sort_keys=False, allow_unicode=True, width=width))


# ---- mutating zoo specs -------------------------------------------------------------------------------------
def _slots(doc: Any) -> list[tuple[Any, Any]]:
    """Every (container, key-or-index) in the document, to pick a place to mutate."""
    out: list[tuple[Any, Any]] = []
    stack = [doc]
    while stack:
        node = stack.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
        for k in keys:
            out.append((node, k))
            stack.append(node[k])
    return out


def _mutate_value(rng: random.Random, doc: Any) -> None:
    slots = _slots(doc)
    if not slots:
        return
    parent, key = rng.choice(slots)
    value = parent[key]
    if isinstance(value, bool) or value is None:
        parent[key] = rng.choice(HOSTILE_NUMBERS + HOSTILE_STRINGS)
    elif isinstance(value, int | float):
        parent[key] = rng.choice(HOSTILE_NUMBERS)
    elif isinstance(value, str):
        parent[key] = rng.choice([*HOSTILE_STRINGS, rng.choice(INJECTIONS), value[::-1], value + value])
    elif isinstance(value, list):
        op = rng.randrange(5)
        if op == 0 and value:
            del value[rng.randrange(len(value))]
        elif op == 1 and value:
            value.insert(rng.randrange(len(value)), value[rng.randrange(len(value))])
        elif op == 2 and len(value) > 1:
            i, j = rng.sample(range(len(value)), 2)
            value[i], value[j] = value[j], value[i]
        elif op == 3:
            parent[key] = {"seq": value} if rng.random() < 0.5 else {str(i): v for i, v in enumerate(value)}
        else:
            nested: Any = value
            for _ in range(rng.choice([5, 20, 70])):
                nested = [nested]
            parent[key] = nested
    elif isinstance(value, dict):
        op = rng.randrange(4)
        if op == 0 and value:
            del value[rng.choice(list(value))]
        elif op == 1 and value:
            k = rng.choice(list(value))
            typo = k[:-1] + rng.choice(string.ascii_lowercase) if k else "x"
            value[typo] = value.pop(k)
        elif op == 2:
            value[rng.choice(["when", "name", "repeat", "body", "index", "unknown", "args"])] = rng.choice(
                [*HOSTILE_NUMBERS[:8], rng.choice(INJECTIONS), "false", False])
        else:
            parent[key] = list(value.values())


def _mutate_structure(rng: random.Random, doc: dict[str, Any]) -> None:
    """Spec-level edits: a top-level key dropped or retyped, a repeat or branch list made hostile, a variant."""
    op = rng.randrange(7)
    if op == 0:
        doc.pop(rng.choice(["input", "layers", "vars", "blocks"]), None)
    elif op == 1:
        doc[rng.choice(["recipe", "published", "source", "vars", "blocks", "input"])] = rng.choice(
            [[1], "abc", 5, None, {"x": [1]}, "3x0x8", "3x8", [3, -1, 8]])
    elif op == 2:
        doc.setdefault("layers", []).insert(0, {"repeat": rng.choice([10**9, -5, 2.5, "x", math.inf, 100000]),
                                                "body": rng.choice([[], ["relu"], [{"relu": {"when": False}}]])})
    elif op == 3:
        doc.setdefault("layers", []).append({rng.choice(["add", "concat"]): rng.choice(
            [[], [[]], [["relu"], [{"conv": {"out": 7, "k": 1}}]], [{"seq": ["relu"], "when": False}], "x"])})
    elif op == 4:
        doc["vars"] = {**(doc.get("vars") or {}), rng.choice(["w\n", "1x", "ok"]): rng.choice(INJECTIONS)}
    elif op == 5:
        doc["name"] = rng.choice(HOSTILE_STRINGS)
    else:
        _add_variant(rng, doc)


def _add_variant(rng: random.Random, doc: dict[str, Any]) -> None:
    """A ``variants:`` table setting one of the spec's variables (or none) to a hostile value."""
    names = list(doc["vars"]) if isinstance(doc.get("vars"), dict) else []
    entry: Any = rng.choice([None, 5, [1]])
    if rng.random() < 0.8:
        entry = {rng.choice([*names, "nope"]): rng.choice(HOSTILE_NUMBERS + HOSTILE_STRINGS[:6])}
        if rng.random() < 0.4:
            entry[rng.choice(["published", "description"])] = rng.choice([[1], "x", {"top5_error": "x"}, None, 5])
    doc["variants"] = rng.choice([{"v1": entry}, {"v1": entry, "v2": None}, {"v1": entry}, [1], "x"])


def _mutate_text(rng: random.Random, text: bytes) -> bytes:
    lines = text.split(b"\n")
    op = rng.randrange(6)
    i = rng.randrange(len(lines))
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(i, lines[i])
    elif op == 2:
        lines[i] = rng.choice([b"  ", b"\t", b"", b"    "]) + lines[i]
    elif op == 3:
        return text[: rng.randrange(len(text) + 1)]
    elif op == 4:
        pos = rng.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:pos] + rng.choice(TEXT_JUNK) + lines[i][pos:]
    else:
        return text.replace(b"\n", b"\r\n") if rng.random() < 0.5 else b"\xef\xbb\xbf" + text
    return b"\n".join(lines)


def zoo_mutant(rng: random.Random, name: str, variant: bool = False) -> tuple[bytes, str]:
    """A zoo spec with 1–3 mutations of its data (``variant``: first a hostile variants table), then
    sometimes of its text; and a variant to run it as, if it has any."""
    text = zoo.path(name).read_text()
    doc = plain(parse_text(text, f"{name}.yaml"))
    if variant:
        _add_variant(rng, doc)
    for _ in range(rng.randint(1, 3)):
        (_mutate_structure if rng.random() < 0.25 else _mutate_value)(rng, doc)
    out = _dump(doc, width=120).encode()
    if rng.random() < 0.25:
        out = _mutate_text(rng, out)
    variants = doc.get("variants") if isinstance(doc, dict) else None
    variant = rng.choice([*variants, "missing"]) if isinstance(variants, dict) and variants else ""
    return out, str(variant)


# ---- the whole set -----------------------------------------------------------------------------------------
SPECIALS = ("fifo", "dev_zero", "directory")


def _generated_seeds() -> list[Case]:
    return [
        *(Case(f"special_{kind}", special=kind) for kind in SPECIALS),
        Case("R22_long_value", b'input: 3x8x8\nlayers: [{conv: {out: 4, k: "' + b"x" * 1_000_000 + b'"}}]\n'),
        Case("oversized", b"input: 3x8x8\nlayers: [relu]\n" + b"#" * (5 << 20) + b"\n"),
        Case("long_line_3mb", b"input: 3x8x8\nlayers: [relu]\n# " + b"y" * (3 << 20) + b"\n"),
    ]


def _types_in(text: str) -> tuple[str, ...]:
    return tuple(t for t in public_types() if t in text)


def cases(seed: int = SEED, mutants_per_spec: int = 4, per_type: int = 4, wirings: int = 24) -> list[Case]:
    """The fuzz set: the seed corpus, the specials, zoo mutants, catalogue networks and wirings by name."""
    rng = random.Random(seed)
    out = [Case(f"seed_{p.stem}", p.read_bytes(), types=_types_in(p.read_text(errors="replace")))
           for p in sorted(HOSTILE.glob("*.yaml"))]
    out += _generated_seeds()
    files = {zoo.path(n): n for n in reversed(zoo.names())}  # a family's file once, by its first variant
    for name in zoo.names():
        if files[zoo.path(name)] != name:
            continue
        for i in range(mutants_per_spec):
            text, variant = zoo_mutant(rng, name, variant=i == mutants_per_spec - 1)
            out.append(Case(f"zoo_{name}_{i}", text, types=_types_in(text.decode(errors="replace")), variant=variant))
    mutators: list[Callable[[random.Random, bytes], bytes]] = [_mutate_text]
    for key in public_types():
        for i in range(per_type):
            text, types = catalogue_spec(rng, key, hostile=i == per_type - 1)
            data = text.encode()
            if i == 0 and rng.random() < 0.3:
                data = rng.choice(mutators)(rng, data)
            out.append(Case(f"layer_{key}_{i}", data, types=types))
    for i in range(wirings):
        text, types = wiring_spec(rng)
        out.append(Case(f"wiring_{i}", text.encode(), types=types))
    return out
