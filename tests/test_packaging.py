"""What `pip install .` (not only an editable install) ships: every package and config file."""

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_on_disk_is_listed_for_setuptools():
    """An editable install finds any folder under rlkit/; a wheel holds only listed packages."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    dirs = {"rlkit": ROOT / "rlkit", **{name: ROOT / path
                                        for name, path in setuptools["package-dir"].items()}}
    on_disk = set()
    for name, folder in dirs.items():
        for init in folder.rglob("__init__.py"):
            parts = init.parent.relative_to(folder).parts
            on_disk.add(".".join((name, *parts)))
    assert on_disk == listed
