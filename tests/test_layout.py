"""The package's layout rules: imports run one way, modules stay small and say what they do,
the generated catalogues are current, and the public surface is small and documented."""

from __future__ import annotations

import ast
import json
import pydoc
from pathlib import Path
from typing import Dict, List, Set

import pytest

import responses_stream as rs
from responses_stream import _codegen
from responses_stream._base import _EVENT_CLASSES

PACKAGE = Path(rs.__file__).parent
GENERATED = {"_event_types.py", "_model_types.py", "_wire_callbacks.py"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> Set[str]:
    """Every package module ``name`` imports, anywhere in its source: at the top, inside
    functions (lazy) and under ``TYPE_CHECKING``."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: Set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names}
            found.update(submodules)
            if not submodules <= set(MODULES):  # names from the module itself, not submodules
                found.add(base)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                target = arg.value
                found.add(package + target if target.startswith(".") else target)
    return {m for m in found if m in MODULES and m != name}


GRAPH: Dict[str, Set[str]] = {name: imports_of(name) for name in MODULES}


def test_the_graph_is_read() -> None:
    """The checker sees real edges (a broken checker would pass every rule below)."""
    assert "responses_stream.events" in GRAPH["responses_stream._accumulator"]
    assert "responses_stream.testing" in GRAPH["responses_stream"]  # the lazy import
    assert "responses_stream._sse" in GRAPH["responses_stream.testing._server"]


def test_no_import_cycles() -> None:
    """No module reaches itself through the imports of others, lazy and TYPE_CHECKING ones
    included: imports run one way, from the verbs down to the bytes."""
    cycles: List[List[str]] = []

    def visit(node: str, path: List[str], done: Set[str]) -> None:
        for nxt in sorted(GRAPH[node]):
            if nxt in path:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in done:
                visit(nxt, [*path, nxt], done)
        done.add(node)

    done: Set[str] = set()
    for start in sorted(GRAPH):
        if start not in done:
            visit(start, [start], done)
    assert cycles == []


def test_the_bytes_know_nothing_of_events() -> None:
    """The lowest steps import no higher step of the flow."""
    higher = {"client", "handler", "_stream", "events", "models", "_accumulator"}
    for low in ("_body", "_sse", "errors"):
        reached = {m.rpartition(".")[2] for m in GRAPH[f"responses_stream.{low}"]}
        assert not reached & higher, (low, reached)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_is_small_and_says_what_it_does(name: str) -> None:
    path = MODULES[name]
    source = path.read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(source))
    assert doc and len(doc.splitlines()[0]) > 20, f"{name} needs a first docstring line"
    if path.name not in GENERATED:
        assert source.count("\n") <= 600, f"{name}: {source.count(chr(10))} lines"


def test_generated_catalogues_are_current() -> None:
    """Regenerating from _catalogue.json gives the committed files byte for byte."""
    for file_name, text in _codegen.generate().items():
        assert (PACKAGE / file_name).read_text(encoding="utf-8") == text, file_name
    assert set(_codegen.generate()) == GENERATED


def test_a_new_event_type_is_one_line_of_data() -> None:
    """A line added to the catalogue yields the class (with its wire type and callback name)
    and the handler's callback for it, as valid Python."""
    data = _codegen.DATA.read_text(encoding="utf-8")
    line = (
        '  {"type": "response.widget.delta", "fields": ["delta:str", "item_id:str"], '
        '"doc": "A widget grew."},\n'
    )
    texts = {
        name: make(json.loads(data.replace(' "events": [\n', ' "events": [\n' + line)))
        for name, make in _codegen.OUTPUTS.items()
    }
    events = texts["_event_types.py"]
    assert "class WidgetDelta(Event):" in events
    assert 'TYPE: ClassVar[str] = "response.widget.delta"' in events
    assert 'HANDLER: ClassVar[str] = "on_widget_delta"' in events
    assert "    delta: Optional[str] = None\n    item_id: Optional[str] = None\n" in events
    callbacks = texts["_wire_callbacks.py"]
    assert "def on_widget_delta(self, event: ev.WidgetDelta) -> None:" in callbacks
    for name, text in texts.items():
        compile(text, name, "exec")


def test_an_event_class_registers_its_wire_type() -> None:
    """Defining an Event subclass with a TYPE is all parse_event needs to build it."""

    class Probe(rs.events.Event):
        TYPE = "response.probe.test"

    try:
        event = rs.events.parse_event({"type": "response.probe.test", "x": 1})
        assert type(event) is Probe and event.to_dict() == {"type": "response.probe.test", "x": 1}
    finally:
        _EVENT_CLASSES.pop("response.probe.test")


def test_public_surface_is_small_and_all_documented() -> None:
    """At most 30 names, every one importable and shown by help(responses_stream)."""
    assert len(rs.__all__) <= 30
    text = pydoc.render_doc(rs, renderer=pydoc.plaintext)
    for name in rs.__all__:
        assert getattr(rs, name) is not None
        assert name in text, f"help(responses_stream) does not show {name}"
    for name in ("tool", "function_call_output", "testing"):
        assert f"\n    {name}" in text or f"\n        {name}" in text, name
    assert len(text.splitlines()) < 3000
