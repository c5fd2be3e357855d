"""`import responses_stream` stays cheap: heavy optional parts load on first use."""

from __future__ import annotations

import subprocess
import sys


def test_import_does_not_load_optional_heavy_modules() -> None:
    """dataclasses-json (and marshmallow under it) and the testing kit are not imported up
    front, and the public names that live there still resolve when used."""
    code = (
        "import sys, responses_stream as rs\n"
        "heavy = ['dataclasses_json', 'marshmallow', 'responses_stream.testing', 'http.server']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
        "assert callable(rs.tool) and rs.tools.Tool is rs.Tool\n"
        "assert rs.testing.MockServer.__name__ == 'MockServer'\n"
        "print(rs.events.parse_event({'type': 'response.created'}).to_json())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    loaded, encoded = proc.stdout.splitlines()
    assert loaded == ""
    assert encoded == '{"type": "response.created"}'
