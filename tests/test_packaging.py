"""The wheel holds every package: pyproject lists packages by name, so a new package must join the list."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOP_LEVEL = ("engine", "settlement", "gateway", "market_data", "surveillance", "web", "carbonx", "bench")


def setuptools() -> Any:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_every_package_of_the_source_tree_is_listed_in_pyproject() -> None:
    listed = set(setuptools()["packages"])
    data = set(setuptools()["package-data"])  # folders of files only (the website's page), no __init__.py
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in TOP_LEVEL
        for init in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }

    assert found - listed == set(), "add these packages to [tool.setuptools] packages in pyproject.toml"
    assert listed - found - data == set(), "pyproject lists packages the source tree does not have"
    assert data <= listed, "a package-data folder must be listed in packages too, or the wheel leaves it out"


def test_every_file_of_the_website_is_in_the_wheels_package_data() -> None:
    data: dict[str, list[str]] = setuptools()["package-data"]
    static = ROOT / "web" / "static"
    files = [path for path in static.rglob("*") if path.is_file() and "__pycache__" not in path.parts]

    left_out = [
        str(path.relative_to(ROOT))
        for path in files
        if not any(fnmatch.fnmatch(path.name, pattern) for pattern in data.get(_package(path), []))
    ]

    assert {"index.html", "app.js", "store.js", "app.css"} <= {path.name for path in files}
    assert left_out == [], "add these files' patterns to [tool.setuptools.package-data] in pyproject.toml"


def _package(path: Path) -> str:
    return ".".join(path.parent.relative_to(ROOT).parts)
