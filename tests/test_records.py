"""The events and models are built by ``_records.dataclass``; they must behave like the standard
decorator's dataclasses (constructor, frozen fields, signature, dataclasses helpers)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from typing import Any, Dict, List, Type

import pytest

import responses_stream as rs
from responses_stream import events as ev
from responses_stream import models

EVENT_CLASSES: List[Type[Any]] = sorted(
    {*ev.EVENT_TYPES.values(), ev.UnknownEvent}, key=lambda c: c.__name__
)
MODEL_CLASSES: List[Type[Any]] = sorted(
    (
        obj
        for obj in vars(models).values()
        if isinstance(obj, type)
        and dataclasses.is_dataclass(obj)
        and obj.__module__ in (models.__name__, "responses_stream._model_types")
    ),
    key=lambda c: c.__name__,
)


def standard_twin(cls: Type[Any]) -> Type[Any]:
    """The same fields run through the standard ``dataclasses.dataclass``."""
    namespace: Dict[str, Any] = {"__annotations__": {}}
    for f in dataclasses.fields(cls):
        namespace["__annotations__"][f.name] = f.type
        if f.default_factory is not dataclasses.MISSING:
            namespace[f.name] = dataclasses.field(default_factory=f.default_factory)
        elif f.default is not dataclasses.MISSING:
            namespace[f.name] = f.default
    twin = type(cls.__name__, (), namespace)
    return dataclasses.dataclass(frozen=cls.__dataclass_params__.frozen)(twin)


def test_every_class_is_found() -> None:
    assert len(EVENT_CLASSES) >= 60 and len(MODEL_CLASSES) >= 25


@pytest.mark.parametrize("cls", EVENT_CLASSES + MODEL_CLASSES, ids=lambda c: c.__name__)
def test_constructor_and_signature_match_the_standard_decorator(cls: Type[Any]) -> None:
    twin = standard_twin(cls)
    assert str(inspect.signature(cls)) == str(inspect.signature(twin))
    names = [f.name for f in dataclasses.fields(cls)]
    assert names == [f.name for f in dataclasses.fields(twin)]
    # Defaults, positional and keyword arguments land in the same fields.
    for obj, other in ((cls(), twin()), (cls(*range(len(names))), twin(*range(len(names))))):
        assert dataclasses.asdict(obj) == dataclasses.asdict(other)
    kwargs = {name: f"v{i}" for i, name in enumerate(names[::2])}
    assert dataclasses.asdict(cls(**kwargs)) == dataclasses.asdict(twin(**kwargs))
    # The same errors, with the same messages (class names are equal).
    for args, kw in (
        (tuple(range(len(names) + 1)), {}),
        ((), {"not_a_field": 1}),
        ((1,), {names[0]: 2}),
    ):
        with pytest.raises(TypeError) as ours:
            cls(*args, **kw)
        with pytest.raises(TypeError) as theirs:
            twin(*args, **kw)
        assert str(ours.value).split("__init__", 1)[1] == str(theirs.value).split("__init__", 1)[1]


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_events_are_frozen(cls: Type[Any]) -> None:
    event = cls()
    assert cls.__dataclass_params__.frozen and cls.__dataclass_params__.init
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.type = "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        del event.type


def test_models_are_mutable_and_factories_are_per_instance() -> None:
    a, b = rs.Response(), rs.Response()
    a.output.append(rs.Message())
    assert b.output == [] and a.output != b.output
    a.status = "completed"
    assert a.status == "completed" and not rs.Response.__dataclass_params__.frozen


def test_dataclass_helpers_copy_and_pickle() -> None:
    event = ev.OutputTextDelta(delta="hi", sequence_number=3)
    assert dataclasses.replace(event, delta="yo").delta == "yo"
    assert dataclasses.asdict(event)["delta"] == "hi"
    assert pickle.loads(pickle.dumps(event)) == event
    assert copy.deepcopy(event) == event
    parsed = rs.events.parse_event({"type": "response.output_text.delta", "delta": "x", "extra": 1})
    clone = pickle.loads(pickle.dumps(parsed))
    assert clone == parsed and clone.to_dict() == parsed.to_dict()
    response = rs.Response(id="r1", output=[rs.FunctionCall(name="f", arguments="{}")])
    assert rs.Response.from_json(response.to_json()) == response


def test_standard_dataclass_subclasses_still_work() -> None:
    @dataclasses.dataclass(frozen=True)
    class Tagged(ev.OutputTextDelta):
        tag: str = ""

    tagged = Tagged(delta="a", tag="t")
    assert (tagged.delta, tagged.tag) == ("a", "t")
    with pytest.raises(dataclasses.FrozenInstanceError):
        tagged.tag = "u"  # type: ignore[misc]
    with pytest.raises(TypeError, match="non-frozen"):

        @dataclasses.dataclass
        class Loose(ev.OutputTextDelta):
            pass

    @dataclasses.dataclass
    class MyCall(rs.FunctionCall):
        note: str = ""

    assert MyCall(name="f", note="n").name == "f"


def test_required_fields_and_error_wording_match_cpython() -> None:
    """A record with required fields (none of the SDK's have any) reports them like CPython."""
    from responses_stream._records import dataclass as record

    @record(frozen=True)
    class Point:
        x: int
        y: int
        z: int
        label: str = ""

    @dataclasses.dataclass(frozen=True)
    class Twin:
        x: int
        y: int
        z: int
        label: str = ""

    assert str(inspect.signature(Point)) == str(inspect.signature(Twin))
    assert Point(1, 2, z=3) == Point(1, 2, 3, "") and Point(1, 2, 3).label == ""
    for args, kw in (((), {}), ((1,), {}), ((1, 2), {}), ((1, 2, 3, 4, 5), {}), ((1,), {"x": 1})):
        with pytest.raises(TypeError) as ours:
            Point(*args, **kw)
        with pytest.raises(TypeError) as theirs:
            Twin(*args, **kw)
        assert str(ours.value).split("__init__", 1)[1] == str(theirs.value).split("__init__", 1)[1]
