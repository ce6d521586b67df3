"""pyproject's dependency floors are the versions CI tests (.ci/floors.txt)."""

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).parents[1]


def _release(version: str) -> tuple[int, ...]:
    parts = [int(p) for p in re.findall(r"\d+", version)[:3]]
    return tuple(parts + [0] * (3 - len(parts)))  # "0.12" is 0.12.0


def test_every_floor_is_pinned_for_ci_at_its_own_release():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {}
    for req in project["dependencies"] + project["optional-dependencies"]["dev"]:
        name, _, _, floor = re.match(r"([A-Za-z0-9_.-]+)(\[[\w,]+\])?\s*(>=\s*([\d.]+))?",
                                     req).groups()  # an extra (uvicorn[standard]) kept out
        floors[name.lower()] = floor
    pins = dict(line.split("==") for line in (ROOT / ".ci" / "floors.txt").read_text()
                .splitlines() if line and not line.startswith("#"))
    untested = {"torch", "ruff"}  # torch: the CPU build on disk; ruff: a linter, newest
    assert set(floors) - untested == set(pins)
    for name, pin in pins.items():
        floor = floors[name]
        # the pin is the floor's release, at most a patch above it (never below)
        assert _release(pin) >= _release(floor), name
        assert _release(pin)[:2] == _release(floor)[:2], (name, floor, pin)


# known code-execution advisories: no floor (nor CI's pin) may admit an affected release
ADVISORIES = {"skops": ("0.12.0", "CVE-2025-54412, CVE-2025-54413")}


def test_no_floor_admits_a_release_with_a_known_code_execution_advisory():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = {re.match(r"[A-Za-z0-9_.-]+", r).group().lower(): r for r in project["dependencies"]}
    pins = dict(line.split("==") for line in (ROOT / ".ci" / "floors.txt").read_text()
                .splitlines() if line and not line.startswith("#"))
    for name, (fixed, cves) in ADVISORIES.items():
        floor = re.search(r">=\s*([\d.]+)", reqs[name]).group(1)
        assert _release(floor) >= _release(fixed), (name, floor, cves)
        assert _release(pins[name]) >= _release(fixed), (name, pins[name], cves)
