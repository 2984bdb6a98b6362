"""Frozen value objects that cost nothing to define: the dataclass contract without its start-up price.

Defining a dataclass generates its methods with ``exec`` — about 0.9 ms of CPU each (measured here:
40 frozen dataclasses, 37 ms; 40 plain classes, 0.4 ms). The layer catalogue declares some forty
configuration and record types, and every symbolic command imports them all before it reads a spec,
so as dataclasses they would cost more than the analysis of VGG16 itself.

A :class:`Frozen` subclass is an ordinary class. Its fields are its annotations (``ClassVar`` excepted)
in definition order, base classes' first; a class attribute is the field's default. Instances are
immutable, compare and hash by their values, repr like dataclasses and match positionally in field
order; type checkers see a dataclass (PEP 681's ``dataclass_transform``). Mutable defaults are not
supported (nothing here needs them).

The values made once or more per layer (graph nodes and groups, per-node results, receptive fields) are
:class:`Record` classes instead, named tuples with the same contract (but for being tuples: they index and
unpack), at a fraction of the cost of a dict per instance.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from typing import dataclass_transform
else:
    def dataclass_transform(**_: Any) -> Any:
        return lambda cls: cls


def own_fields(cls: type) -> tuple[str, ...]:
    """The fields a class declares itself: its own annotations, in order, ``ClassVar`` excepted (read from the
    class dict: ``inspect.get_annotations`` would import inspect, 3 ms of start-up)."""
    return tuple(_annotated(cls.__dict__))


def _annotated(namespace: Mapping[str, Any]) -> list[str]:
    """A class body's annotated names, in order, ``ClassVar`` excepted."""
    return [name for name, kind in namespace.get("__annotations__", {}).items()
            if not str(kind).startswith(("ClassVar", "typing.ClassVar"))]


def equal_fields(a: Any, b: object) -> bool:
    """``a == b`` field by field (``_fields``), for classes that keep more than their fields (an ``__eq__``:
    NotImplemented for another type)."""
    names: tuple[str, ...] = a._fields
    if type(b) is not type(a):
        return NotImplemented  # type: ignore[no-any-return]
    return all(getattr(a, name) == getattr(b, name) for name in names)


def repr_fields(value: Any) -> str:
    """A dataclass-like repr from ``_fields``."""
    inner = ", ".join(f"{name}={getattr(value, name)!r}" for name in value._fields)
    return f"{type(value).__name__}({inner})"


class FrozenInstanceError(AttributeError):
    """An attempt to change a frozen value."""


class _RecordMeta(type):
    """Makes ``class X(Record)`` a named tuple of X's annotated fields (class attributes are their defaults),
    frozen by :func:`_freeze`. The annotations are read as the strings they are: ``typing.NamedTuple`` would
    compile each into a ForwardRef (1.3 ms of every command's start-up for four classes)."""

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> Any:
        if not bases:  # Record itself
            return super().__new__(mcls, name, bases, namespace)
        fields = _annotated(namespace)
        defaults = [namespace.pop(f) for f in fields if f in namespace]  # (namedtuple: trailing ones only)
        module = namespace.get("__module__")
        base = namedtuple(name, fields, defaults=defaults, module=module)  # type: ignore[misc]
        namespace["__slots__"] = ()
        return _freeze(type(name, (base,), namespace))


class Record(metaclass=_RecordMeta):
    """Base of the values made once or more per layer (graph nodes, per-node results, receptive fields): a
    ``class X(Record)`` is a named tuple of its annotated fields, frozen like :class:`Frozen`'s values (equal
    only to its own type, hashed with its type's name, an assignment refused with FrozenInstanceError).
    Type checkers see ``typing.NamedTuple`` (import it as ``Record`` under ``TYPE_CHECKING``).

    A tuple is made in C, without a dict, and read through C descriptors: on ResNet-1202 warm (4,209
    layers) these values as Frozen classes cost about a tenth of the whole call more, in making, reading
    and freeing them. The hot places make them with :data:`new_record`.
    """


#: ``new_record(Node, (name, op, ...))``: a record made in C from every field, in order, without the named
#: tuple's own ``__new__`` (a Python function, a third of the cost)
new_record = tuple.__new__


def _freeze(cls: type) -> type:
    for name, method in (("__eq__", _record_eq), ("__ne__", _record_ne), ("__hash__", _record_hash),
                         ("__setattr__", _record_setattr), ("__delattr__", _record_delattr)):
        setattr(cls, name, method)
    return cls


def _record_eq(self: tuple[Any, ...], other: object) -> Any:
    if type(other) is not type(self):  # (a plain tuple would compare its items, on either side: refused)
        return False if isinstance(other, tuple) else NotImplemented
    return tuple.__eq__(self, other)


def _record_ne(self: tuple[Any, ...], other: object) -> Any:
    if type(other) is not type(self):
        return True if isinstance(other, tuple) else NotImplemented
    return tuple.__ne__(self, other)


def _record_hash(self: tuple[Any, ...]) -> int:
    return hash((type(self).__qualname__, *self))


def _record_setattr(self: object, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field '{name}' of a frozen {type(self).__name__}")


def _record_delattr(self: object, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field '{name}' of a frozen {type(self).__name__}")


@dataclass_transform(frozen_default=True)
class Frozen:
    """Base of frozen value objects (see the module docstring)."""

    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}
    __match_args__: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = own_fields(cls)
        fields = (*cls._fields, *(n for n in own if n not in cls._fields))
        defaults = dict(cls._defaults)
        for name in own:
            if name in cls.__dict__ and cls._is_default(cls.__dict__[name]):
                defaults[name] = cls.__dict__[name]
        cls._fields, cls._defaults = fields, defaults
        cls.__match_args__ = fields  # type: ignore[misc]  # positional patterns in field order

    @classmethod
    def _is_default(cls, value: Any) -> bool:
        """Whether a class attribute on a field is its default (subclasses may hold other markers there)."""
        return True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self._fields
        if not kwargs and len(args) == len(fields):  # every field in order: the common case, kept short
            self.__dict__.update(zip(fields, args, strict=True))
            return
        if args:
            if len(args) > len(fields):
                raise TypeError(f"{type(self).__name__} takes {len(fields)} fields, got {len(args)} positional")
            for name, value in zip(fields, args, strict=False):
                if name in kwargs:
                    raise TypeError(f"{type(self).__name__} got field '{name}' twice")
                kwargs[name] = value
        values = self.__dict__
        for name in fields:
            if name in kwargs:
                values[name] = kwargs[name]
            elif name in self._defaults:
                values[name] = self._defaults[name]
            else:
                raise TypeError(f"{type(self).__name__} needs field '{name}'")
        if len(kwargs) > len(values):
            unknown = sorted(set(kwargs) - set(fields))
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(unknown)}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field '{name}' of a frozen {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field '{name}' of a frozen {type(self).__name__}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, *self.__dict__.values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in self.__dict__.items())
        return f"{type(self).__name__}({inner})"

    def replace(self, **changes: Any) -> Any:
        """A copy with some fields changed."""
        return type(self)(**{**self.__dict__, **changes})
