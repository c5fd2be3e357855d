"""Annotations -> types, for the schemas of tools and structured outputs (``_schema``):
``typing.get_type_hints``, and on Pythons before 3.10 ``X | Y`` in string annotations too."""

from __future__ import annotations

import ast
import inspect
import re
import sys
import typing
from typing import Any, Dict, List, Optional, Union


class _UnionRewriter(ast.NodeTransformer):
    """``A | B`` -> ``__rs_Union__[A, B]``, so PEP 604 strings evaluate on Python 3.9."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        if not isinstance(node.op, ast.BitOr):
            return self.generic_visit(node)
        members: List[ast.expr] = []

        def flatten(n: ast.expr) -> None:
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr):
                flatten(n.left)
                flatten(n.right)
            else:
                members.append(typing.cast(ast.expr, self.visit(n)))

        flatten(node)
        return ast.Subscript(
            value=ast.Name(id="__rs_Union__", ctx=ast.Load()),
            slice=typing.cast(Any, ast.Tuple(elts=members, ctx=ast.Load())),
            ctx=ast.Load(),
        )


def _eval_annotation(text: str, namespace: Dict[str, Any]) -> Any:
    tree = ast.fix_missing_locations(_UnionRewriter().visit(ast.parse(text, mode="eval")))
    code = compile(tree, "<annotation>", "eval")
    return eval(code, {**namespace, "__rs_Union__": Union})


def _lost_module_globals(cls: type) -> Optional[Dict[str, Any]]:
    """The namespace of a class whose module is gone from ``sys.modules`` (a class from
    ``runpy.run_path`` or ``exec``): the globals of one of its functions, else ``None``."""
    if cls.__module__ in sys.modules:
        return None
    for value in vars(cls).values():
        found = getattr(value, "__globals__", None)  # e.g. the dataclass __init__
        if isinstance(found, dict):
            return found
    return None


_CLASS_VAR = re.compile(r"\s*(?:typing\.|t\.)?ClassVar\b")
"""A ``ClassVar[...]`` annotation, by its text: a class constant, not a field."""


def type_hints(obj: Any, owner: str) -> Dict[str, Any]:
    """``get_type_hints`` with extras, falling back to rewriting ``X | Y`` on old Pythons."""
    lost = _lost_module_globals(obj) if isinstance(obj, type) else None
    try:
        return typing.get_type_hints(obj, globalns=lost, include_extras=True)
    except Exception as exc:
        first_error = exc
    target = inspect.unwrap(obj) if callable(obj) and not isinstance(obj, type) else obj
    namespace: Dict[str, Any] = {}
    if isinstance(target, type):
        raw: Dict[str, Any] = {}
        for klass in reversed(target.__mro__):
            raw.update(getattr(klass, "__annotations__", {}))
        module = sys.modules.get(target.__module__)
        namespace.update(vars(module) if module is not None else lost or {})
        namespace.update({target.__name__: target})
    else:
        raw = dict(getattr(target, "__annotations__", {}))
        namespace.update(getattr(target, "__globals__", {}))
    hints: Dict[str, Any] = {}
    for name, value in raw.items():
        if not isinstance(value, str):
            hints[name] = value
            continue
        try:
            hints[name] = _eval_annotation(value, namespace)
        except Exception as exc:
            if name == "return" or _CLASS_VAR.match(value):
                continue  # no schema needs it (a type imported only for type checkers, say)
            raise TypeError(
                f"{owner}: cannot evaluate the annotation of {name!r} ({value!r}): "
                f"{exc} (first error: {first_error})"
            ) from exc
    return hints


__all__ = ["type_hints"]
