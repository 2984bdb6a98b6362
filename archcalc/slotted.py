"""Mutable records with slots: what the report's dataclasses gave (fields, equality, repr, a changed copy)
without their start-up price.

Defining a dataclass generates its methods with ``exec``: about 4 million instructions for a ten-field
class, and importing ``dataclasses`` another 3 million (counted with valgrind). The text and JSON paths of
every symbolic command defined seven (the report's rows, fields and tables, the graph and its metadata):
29M instructions, 8% of a cold ``archcalc summary vgg16``. A :class:`Slotted` subclass lists
its fields as annotations (in order: the JSON key order where it is serialised), names them again in
``__slots__`` (sorted; a class whose two lists differ is refused where it is defined) and writes its own
``__init__``; the base compares, prints and copies by those fields. A slot whose name begins with ``_``
is private state, not a field (no annotation; not compared, printed or copied by ``replace``). Immutable
values use :class:`archcalc.frozen.Frozen` instead.
"""

from __future__ import annotations

from typing import Any, ClassVar

from archcalc.frozen import equal_fields, own_fields, repr_fields


class Slotted:
    """Base of mutable records whose fields are their ``__slots__`` (see the module docstring)."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    __hash__ = None  # type: ignore[assignment]  # mutable and compared by value, as a dataclass with eq

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = own_fields(cls)
        slots = cls.__dict__.get("__slots__", ())
        if set(own) != {s for s in ((slots,) if isinstance(slots, str) else slots) if not s.startswith("_")}:
            raise TypeError(f"{cls.__name__}: __slots__ must name exactly its annotated fields {own}")
        cls._fields = (*cls._fields, *own)

    def __eq__(self, other: object) -> bool:
        return equal_fields(self, other)

    def __repr__(self) -> str:
        return repr_fields(self)

    def fields_dict(self) -> dict[str, Any]:
        """The fields by name, in order (values shared, not copied)."""
        return {name: getattr(self, name) for name in self._fields}

    def replace(self, **changes: Any) -> Any:
        """A copy with some fields changed."""
        return type(self)(**{**self.fields_dict(), **changes})
