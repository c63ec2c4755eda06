"""Where medbrief keeps models and finds labelled articles, whatever folder it runs from.

- **The model folder** (where `medbrief train` writes, and where a model is looked for
  first): ``MEDBRIEF_MODEL_DIR`` if set; else ``models/`` in the current folder if there is
  one (a clone of the project); else the user data folder, e.g.
  ``~/.local/share/medbrief/models`` on Linux (``platformdirs``).
- **The default model**, built into the package (``medbrief/data/model``): used when the
  model folder holds no model yet, so an installed medbrief works with no training.
- **Corrections** saved from the web page: ``MEDBRIEF_CORRECTIONS_DIR`` if set; else
  ``seeds/corrections`` in a clone (so that training from ``seeds/`` learns from them);
  else ``corrections`` in the user data folder.
- **The labelled articles** (what `train` learns from and `evaluate` scores on):
  ``MEDBRIEF_DATA_DIR`` if set; else ``seeds/`` in the current folder if there is one;
  else the copy built into the package (``medbrief/data/seeds``).
"""

from __future__ import annotations

import os
from pathlib import Path

from medbrief.errors import ModelError

PACKAGED = Path(__file__).resolve().parent / "data"  # built into the wheel by setup.py


def _chosen(variable: str, clone: Path, here: Path, user: str) -> Path:
    """The folder the environment variable names; else ``here`` when the current folder
    has ``clone`` (a clone of the project); else ``user`` in the user data folder."""
    given = os.environ.get(variable)
    if given:
        return Path(given)
    if clone.is_dir():
        return here
    import platformdirs

    return platformdirs.user_data_path("medbrief") / user


def model_dir() -> Path:
    """The folder models are written to and looked for in first."""
    return _chosen("MEDBRIEF_MODEL_DIR", Path("models"), Path("models"), "models")


def packaged_model() -> Path | None:
    """The default model built into the package, if this install has one."""
    folder = PACKAGED / "model"
    return folder if (folder / "CURRENT").is_file() else None


def model_to_read(folder: Path | None = None) -> Path:
    """The model folder to load: ``folder`` when one is given (it must hold a model);
    else the model folder if it holds one, else the packaged default model."""
    from medbrief.model import current_version

    if folder is not None:
        return folder
    chosen = model_dir()
    if current_version(chosen) is not None:
        return chosen
    packaged = packaged_model()
    if packaged is None:
        raise ModelError(
            f"{chosen}: no model here, and this install has no default model "
            "(train one with `medbrief train`)"
        )
    return packaged


def data_dir() -> Path:
    """The folder of labelled articles `train` learns from by default."""
    given = os.environ.get("MEDBRIEF_DATA_DIR")
    if given:
        return Path(given)
    if Path("seeds").is_dir():
        return Path("seeds")
    return PACKAGED / "seeds"


def corrections_dir() -> Path:
    """Where the web page's corrections are saved as labelled articles (in a clone, within
    ``seeds/`` even before the first one is saved)."""
    return _chosen(
        "MEDBRIEF_CORRECTIONS_DIR", Path("seeds"), Path("seeds") / "corrections", "corrections"
    )
