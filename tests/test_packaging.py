"""Honest packaging: the licence file matches the metadata, the dependencies have upper bounds,
the test extra installs on every supported Python, the version and the CHANGELOG are those of a
release, no URL is a placeholder, and the sdist carries its tests, which pass in it."""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Dict, List

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement

import responses_stream as rs

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "responses_stream"


def setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    return config


def requirements(value: str) -> List[Requirement]:
    lines = (line.split("#")[0].strip() for line in value.splitlines())
    return [Requirement(line) for line in lines if line]


def supported_pythons() -> List[str]:
    """The Python versions of setup.cfg's classifiers, e.g. ["3.9", "3.10", ...]."""
    classifiers = setup_cfg()["metadata"]["classifiers"]
    return re.findall(r"Programming Language :: Python :: (3\.\d+)$", classifiers, re.M)


def test_the_licence_file_matches_the_metadata() -> None:
    metadata = setup_cfg()["metadata"]
    assert metadata["license"] == "MIT"
    assert metadata["license_files"].split() == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) ")
    assert "Permission is hereby granted, free of charge" in text


def test_every_dependency_has_an_upper_bound() -> None:
    """A new major version of a dependency cannot break an installed release."""
    install = requirements(setup_cfg()["options"]["install_requires"])
    assert {r.name for r in install} == {"requests", "sseclient-py", "dataclasses-json"}
    for requirement in install:
        assert any(s.operator == "<" for s in requirement.specifier), requirement
    assert str(next(r for r in install if r.name == "dataclasses-json").specifier) in (
        "<1,>=0.5.7",
        ">=0.5.7,<1",
    )


@pytest.mark.parametrize("python", supported_pythons())
def test_the_test_extra_pins_each_tool_once_on_every_supported_python(python: str) -> None:
    """Each package of the test extra is pinned exactly once (==) for every Python in the
    classifiers, so `pip install -e ".[test]"` resolves the same way everywhere."""
    extra = requirements(setup_cfg()["options.extras_require"]["test"])
    environment = {"python_version": python, "python_full_version": python + ".0"}
    chosen: Dict[str, List[str]] = {}
    for requirement in extra:
        if requirement.marker is None or requirement.marker.evaluate(environment):
            chosen.setdefault(requirement.name, []).append(str(requirement.specifier))
    assert chosen.keys() == {r.name for r in extra}, python
    for name, specs in chosen.items():
        assert len(specs) == 1 and specs[0].startswith("=="), (python, name, specs)
    assert Marker('python_version < "3.10"').evaluate(environment) == (python == "3.9")


def test_the_version_is_a_release_with_a_dated_changelog_section() -> None:
    """A release, not a .dev version; the CHANGELOG opens with the Unreleased section, then
    has one dated section per released version, this one included."""
    assert re.fullmatch(r"\d+\.\d+\.\d+", rs.__version__), rs.__version__
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+)$", changelog, re.M)
    assert sections[0] == "[Unreleased]"
    for section in sections[1:]:
        assert re.fullmatch(r"\[\d+\.\d+\.\d+\] - \d{4}-\d{2}-\d{2}", section), section
    assert sections[1].startswith(f"[{rs.__version__}] - ")


def test_no_placeholder_urls() -> None:
    """The metadata, the docs and the examples point at nothing invented."""
    placeholder = re.compile(
        r"example\.(com|org|net)|your[-_]?(org|name|user|project)|<(owner|user|org)>|"
        r"github\.com/(OWNER|USER|ORG)|TODO|XXX",
        re.I,
    )
    files = [ROOT / "setup.cfg", ROOT / "pyproject.toml", ROOT / "README.md", ROOT / "CHANGELOG.md"]
    files += sorted((ROOT / "docs").glob("*.md")) + sorted((ROOT / "examples").rglob("*.md"))
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not placeholder.search(line), f"{path.name}:{number}: {line}"
    metadata = setup_cfg()["metadata"]
    assert "url" not in metadata and "project_urls" not in metadata  # none until one is real


def test_dataclasses_json_is_used_through_its_public_api_only() -> None:
    """No private name or module of dataclasses-json (`_ExtendedEncoder`, `.core`, `.mm`)."""
    private = re.compile(
        r"dataclasses_json\.(core|mm|utils|undefined|api|cfg)\b|"
        r"from dataclasses_json[\w.]* import [^\n]*\b_\w+|dataclasses_json\._"
    )
    for path in sorted(PACKAGE.rglob("*.py")):
        found = private.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.name}: {found.group()}"


def test_ci_runs_the_slow_tests_and_the_oldest_python() -> None:
    """The default run leaves the slow tests out; CI runs them, and the suite on 3.9."""
    addopts = setup_cfg()["tool:pytest"]["addopts"]
    assert '-m "not slow"' in addopts
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest -W error -m slow" in ci
    assert 'uv python install "$oldest"' in ci and "Python versions tested" in ci
    assert setup_cfg()["options"]["python_requires"] == ">=" + supported_pythons()[0]


def _sdist(directory: Path) -> Path:
    """Build the sdist of the working tree into ``directory`` (setuptools, no network)."""
    code = (
        "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(directory)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return directory / proc.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_the_sdist_carries_its_tests_and_they_pass_in_it(tmp_path: Path) -> None:
    """Every file of tests/ (conftest and fixtures included), examples/, docs/, .ci/, the LICENSE,
    README and CHANGELOG is in the sdist; unpacked, `python -m pytest -W error` passes there,
    with the package imported from the unpacked tree."""
    archive = _sdist(tmp_path / "dist")
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(tmp_path / "unpacked", **safe)  # type: ignore[arg-type]
    wanted = {"LICENSE", "README.md", "CHANGELOG.md", "MANIFEST.in", "setup.cfg", "pyproject.toml"}
    for folder in ("tests", "examples", "docs", "responses_stream", ".ci"):
        wanted |= {
            str(p.relative_to(ROOT))
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        }
    assert sorted(wanted - names) == []
    assert "tests/conftest.py" in names and "tests/fixtures/event_types.json" in names
    tree = next((tmp_path / "unpacked").iterdir())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "OPENAI_"))}
    env["PYTHONPATH"] = str(tree)
    where = subprocess.run(
        [sys.executable, "-c", "import responses_stream as rs; print(rs.__file__)"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).parent == tree / "responses_stream"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-W", "error", "-q", "-x"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert re.search(r"\d+ passed", proc.stdout.splitlines()[-1]), proc.stdout[-500:]
