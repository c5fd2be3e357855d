"""Docstrings -> descriptions: the summary and per-parameter (or per-field) text.

Google (``Args:``), NumPy (``Parameters`` + dashes) and reST (``:param x:``) styles are read;
used for tool descriptions and the descriptions in JSON Schemas.
"""

from __future__ import annotations

import inspect
import re
from typing import Dict, List, Optional, Tuple

_SECTION = re.compile(
    r"^(args|arguments|parameters|params|keyword args|keyword arguments|other parameters|"
    r"attributes|fields|returns?|yields?|raises|examples?|notes?|see also|warnings?|"
    r"references|todo)\s*:?\s*$",
    re.IGNORECASE,
)
ARG_SECTIONS = ("args", "arguments", "parameters", "params", "keyword args", "keyword arguments")
FIELD_SECTIONS = ("attributes", "fields", *ARG_SECTIONS)
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}(\w+)\*{0,2}\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_NUMPY_ENTRY = re.compile(r"^(\w+)\s*(?::.*)?$")
_REST_PARAM = re.compile(
    r"^:(?:param|parameter|arg|argument|ivar|var)\s+(?:[^:]*\s)?(\w+)\s*:(.*)$"
)


def _join(lines: List[str]) -> str:
    return " ".join(line.strip() for line in lines if line.strip())


def _numpy_entry_at(lines: List[str], i: int) -> bool:
    """Line ``i`` starts another NumPy parameter (entries may be apart by a blank line), not
    the next section (a title underlined with dashes)."""
    if i >= len(lines) or not _NUMPY_ENTRY.match(lines[i].strip()):
        return False
    return not (i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"})


def parse_docstring(
    doc: Optional[str], sections: Tuple[str, ...] = ARG_SECTIONS
) -> Tuple[str, Dict[str, str]]:
    """Split a docstring into its first paragraph and the descriptions of named parameters.

    Understands Google style (``Args:`` then ``name (type): text``), NumPy style
    (``Parameters`` underlined with dashes, ``name : type`` then indented text) and reST
    (``:param name: text``). Continuation lines are joined with single spaces.
    """
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: List[str] = []
    for line in lines:
        if not line.strip() or _SECTION.match(line.strip()) or line.strip().startswith(":"):
            break
        summary.append(line)
    params: Dict[str, str] = {}
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        rest = _REST_PARAM.match(stripped)
        if rest:
            text = [rest.group(2)]
            i += 1
            while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(":"):
                text.append(lines[i])
                i += 1
            params[rest.group(1)] = _join(text)
            continue
        header = _SECTION.match(stripped)
        numpy = (
            header is not None
            and i + 1 < len(lines)
            and set(lines[i + 1].strip()) == {"-"}
            and not stripped.endswith(":")
        )
        if header is None or (not numpy and not stripped.endswith(":")):
            i += 1
            continue
        wanted = header.group(1).lower() in sections
        i += 2 if numpy else 1
        base = None
        name: Optional[str] = None
        text = []
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                after = lines[i + 1] if i + 1 < len(lines) else ""
                if after.startswith(" ") or (numpy and _numpy_entry_at(lines, i + 1)):
                    i += 1
                    continue
                break
            indent = len(line) - len(line.lstrip())
            if base is None:
                base = indent
            if indent < base or (numpy and indent == 0 and _SECTION.match(line.strip())):
                break
            if indent == base:
                if name is not None and wanted:
                    params[name] = _join(text)
                entry = (_NUMPY_ENTRY if numpy else _GOOGLE_ENTRY).match(line.strip())
                name = entry.group(1) if entry else None
                text = [] if numpy or entry is None else [entry.group(2)]
            else:
                text.append(line)
            i += 1
        if name is not None and wanted:
            params[name] = _join(text)
    return _join(summary), params
