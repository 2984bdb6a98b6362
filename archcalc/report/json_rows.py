"""Report rows written straight as compact JSON: the text Python's C encoder gives, without its dicts.

``summary --format json`` of a deep spec is mostly rows (100,000 of them for a 100,000-layer chain):
building a dict per row and walking it in the encoder cost about as much as everything else in the
report. A row whose values are all of the plain kinds (str, int, bool, None, whole-number fields) is
written here by one f-string; any other row (a float in a field behind upsampling, a value a caller
put in by hand) returns None and goes through the encoder. A test holds the two to the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from json.encoder import encode_basestring

from archcalc.report.model import RFData, Row

#: the C encoder's own string writer when ``ensure_ascii`` is off (as archcalc's compact JSON has it)
_quote = encode_basestring


def _ints(values: Sequence[int | float]) -> str | None:
    for v in values:
        if type(v) is not int:
            return None
    return "[" + ",".join(map(str, values)) + "]"


def _rf(rf: RFData | None) -> str | None:
    if rf is None:
        return "null"
    size, jump, start = _ints(rf.size), _ints(rf.jump), _ints(rf.start)
    if size is None or jump is None or start is None or type(rf.aligned) is not bool or type(rf.envelope) is not bool:
        return None
    return (f'{{"size":{size},"jump":{jump},"start":{start},"aligned":{"true" if rf.aligned else "false"},'
            f'"envelope":{"true" if rf.envelope else "false"}}}')


def _opt(text: str | None) -> str | None:
    """An optional string's JSON, or None where the value is neither (the caller falls back)."""
    if text is None:
        return "null"
    return _quote(text) if type(text) is str else None


def row_json(r: Row) -> str | None:
    """One row as compact JSON, key for key as :func:`archcalc.report.model.row_dict` orders them; None
    where a value is not of the plain kinds (the caller encodes ``row_dict(r)`` instead)."""
    shape, rf, note, loc = _ints(r.shape), _rf(r.rf), _opt(r.rf_note), _opt(r.location)
    if (shape is None or rf is None or note is None or loc is None or type(r.name) is not str
            or type(r.type) is not str or type(r.family) is not str or type(r.trainable) is not bool
            or type(r.group) is not bool):
        return None
    ints = (r.depth, r.params, r.weights, r.biases, r.macs, r.ops, r.flops, r.bwd_macs, r.activations,
            r.memory_bytes, r.layers)
    for v in ints:
        if type(v) is not int:
            return None
    return (f'{{"name":{_quote(r.name)},"type":{_quote(r.type)},"family":{_quote(r.family)},"depth":{r.depth},'
            f'"shape":{shape},"params":{r.params},"weights":{r.weights},"biases":{r.biases},'
            f'"trainable":{"true" if r.trainable else "false"},"macs":{r.macs},"ops":{r.ops},"flops":{r.flops},'
            f'"bwd_macs":{r.bwd_macs},"activations":{r.activations},"memory_bytes":{r.memory_bytes},"rf":{rf},'
            f'"rf_note":{note},"location":{loc},"group":{"true" if r.group else "false"},"layers":{r.layers}}}')
