"""Build hook: a wheel of medbrief carries the labelled articles and a default model.

Everything else is configured in pyproject.toml. When the wheel is built, ``build_py``
copies the labelled articles of ``seeds/`` (training and held-out folders, and the list of
sources) into ``medbrief/data/seeds`` and trains the default model from them, exactly as
`medbrief train` would (with cross-validation and the held-out scores in its card), into
``medbrief/data/model``. An editable install (a clone for development) skips this: it
reads ``seeds/`` and trains into ``models/`` itself.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
KEEP = ("*.labels.jsonl", "*.reference.json", "*.txt", "*.md", "*.html", "*.csv")


class BuildWithData(build_py):  # type: ignore[misc]
    """build_py, then the labelled articles and the default model into the package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "medbrief" / "data"
        seeds = target / "seeds"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(ROOT / "seeds", seeds, ignore=_not_labelled)
        sys.path.insert(0, str(ROOT))
        from medbrief.training.data import heldout_dirs
        from medbrief.training.train import train

        model = train(seeds, target / "model", heldout_dirs(seeds))
        print(f"default model {model.version} built into {target / 'model'}")


def _not_labelled(folder: str, names: list[str]) -> set[str]:
    """Names copytree leaves out: the annotation folder and anything not a labelled file."""
    from fnmatch import fnmatch

    return {
        name for name in names
        if name == "annotations"
        or (not (Path(folder) / name).is_dir() and not any(fnmatch(name, p) for p in KEEP))
    }


setup(cmdclass={"build_py": BuildWithData})
