"""``dataclass`` for the ~100 event and model classes, without code generated per class.

``dataclasses.dataclass`` compiles an ``__init__`` (and, when frozen, ``__setattr__`` and
``__delattr__``) from source for every class: about 1 ms each, ~90 ms of ``import
responses_stream`` for the events and models alone. This decorator still makes each class a
real dataclass (``fields()``, ``asdict()``, ``replace()``, ``is_dataclass()`` and the
parameters in ``__dataclass_params__`` are what the standard decorator gives), but the
``__init__`` and the frozen ``__setattr__``/``__delattr__`` are shared functions that read the
class's fields. The streaming path never calls ``__init__`` (``from_wire`` fills ``__dict__``
directly), so the shared version costs nothing per event.

Type checkers see ``dataclasses.dataclass`` itself under the name ``dataclass`` (see the end of
this module), so constructor arguments and frozen fields are checked as usual.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Set, Tuple, Type, TypeVar

T = TypeVar("T")

# (name, default, default_factory) of each __init__ parameter, in order.
_InitSpec = Tuple[Tuple[str, Any, Any], ...]
_SPECS: Dict[type, _InitSpec] = {}
_MISSING = dataclasses.MISSING
_RECORDS: Set[type] = set()  # classes made by this decorator


def _spec(cls: type) -> _InitSpec:
    spec = _SPECS.get(cls)
    if spec is None:
        spec = _SPECS[cls] = tuple(
            (f.name, f.default, f.default_factory) for f in dataclasses.fields(cls) if f.init
        )
    return spec


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    """The ``__init__`` the standard decorator would generate, shared by every record class."""
    cls = type(self)
    spec = _spec(cls)
    if len(args) > len(spec):
        raise TypeError(f"{cls.__qualname__}.__init__() {_too_many(spec, len(args))}")
    attrs = self.__dict__
    for (name, _, _), value in zip(spec, args):
        if name in kwargs:
            raise TypeError(
                f"{cls.__qualname__}.__init__() got multiple values for argument {name!r}"
            )
        attrs[name] = value
    missing = []
    for name, default, factory in spec[len(args) :]:
        if name in kwargs:
            attrs[name] = kwargs.pop(name)
        elif default is not _MISSING:
            attrs[name] = default
        elif factory is not _MISSING:
            attrs[name] = factory()
        else:
            missing.append(name)
    if kwargs:
        raise TypeError(
            f"{cls.__qualname__}.__init__() got an unexpected keyword argument "
            f"{next(iter(kwargs))!r}"
        )
    if missing:
        raise TypeError(f"{cls.__qualname__}.__init__() {_missing(missing)}")


# CPython's own wording for these errors, so messages read as they do for any dataclass.
def _too_many(spec: _InitSpec, given: int) -> str:
    most = len(spec) + 1  # with self
    least = 1 + sum(1 for _, d, f in spec if d is _MISSING and f is _MISSING)
    takes = f"{most}" if least == most else f"from {least} to {most}"
    plural = "" if takes == "1" else "s"
    return f"takes {takes} positional argument{plural} but {given + 1} were given"


def _missing(names: List[str]) -> str:
    quoted = [repr(name) for name in names]
    if len(quoted) == 1:
        listed = quoted[0]
    elif len(quoted) == 2:
        listed = f"{quoted[0]} and {quoted[1]}"
    else:
        listed = ", ".join(quoted[:-1]) + f", and {quoted[-1]}"
    plural = "" if len(names) == 1 else "s"
    return f"missing {len(names)} required positional argument{plural}: {listed}"


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


class _InitSignature:
    """``cls.__signature__`` computed on access, so ``inspect.signature(cls)`` and ``help()``
    show the fields as parameters instead of the shared ``(*args, **kwargs)``."""

    def __get__(self, obj: Any, owner: type) -> Optional[inspect.Signature]:
        if obj is not None:
            return None  # an instance is not callable; inspect falls back to its own rules
        params = [
            inspect.Parameter(
                f.name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=(
                    f.default
                    if f.default is not _MISSING
                    else _FACTORY
                    if f.default_factory is not _MISSING
                    else inspect.Parameter.empty
                ),
                annotation=f.type,
            )
            for f in dataclasses.fields(owner)
            if f.init
        ]
        return inspect.Signature(params, return_annotation=None)


class _Factory:
    def __repr__(self) -> str:
        return "<factory>"  # what the standard decorator's signature shows


_FACTORY = _Factory()
_SIGNATURE = _InitSignature()


def record_dataclass(
    *, frozen: bool = False, repr: bool = True, eq: bool = True
) -> Callable[[Type[T]], Type[T]]:
    """Like ``dataclasses.dataclass(frozen=..., repr=..., eq=...)`` (see the module docstring)."""

    def wrap(cls: Type[T]) -> Type[T]:
        bases = [b.__dict__["__dataclass_params__"] for b in cls.__mro__[1:] if b in _RECORDS]
        if frozen and any(not p.frozen for p in bases):
            raise TypeError("cannot inherit frozen dataclass from a non-frozen one")
        if not frozen and any(p.frozen for p in bases):
            raise TypeError("cannot inherit non-frozen dataclass from a frozen one")
        # The standard decorator runs with init=False and frozen=False, so it compiles nothing.
        # It rejects a non-frozen class over a frozen base, so the bases (checked above) read
        # as not frozen while it runs; import runs this under the import lock, one at a time.
        for p in bases:
            p.frozen = False
        try:
            made = dataclasses.dataclass(init=False, repr=repr, eq=eq)(cls)
        finally:
            for p in bases:
                p.frozen = frozen
        if "__init__" not in made.__dict__:
            made.__init__ = _init  # type: ignore[method-assign]
        params = made.__dataclass_params__  # type: ignore[attr-defined]
        params.init = True
        params.frozen = frozen
        if frozen:
            made.__setattr__ = _frozen_setattr  # type: ignore[method-assign]
            made.__delattr__ = _frozen_delattr  # type: ignore[method-assign]
        made.__signature__ = _SIGNATURE  # type: ignore[attr-defined]
        _RECORDS.add(made)
        return made

    return wrap


if TYPE_CHECKING:
    from dataclasses import dataclass as dataclass  # noqa: PLC0414 - explicit re-export for mypy
else:
    dataclass = record_dataclass
