"""medbrief: topic labels and boilerplate-free summaries for health and science news.

Give it an article (plain text, Markdown or HTML) and it labels every paragraph by topic
(``mechanism``, ``trial_results``, ``risks``, ``outlook``, ``boilerplate``), gives the
article's topic breakdown and writes a short extractive summary::

    >>> import medbrief
    >>> record = medbrief.analyze(open("story.txt").read())
    >>> [s.text for s in record.summary]
    >>> paragraphs, articles = medbrief.frames([record])     # pandas DataFrames

``analyze_many`` does many articles in one batch; ``load(model)`` picks a model folder
(by default the one `medbrief train` writes, else the default model built in). Errors:

    MedbriefError
    ├── InputError (ValueError)        an article that cannot be read
    │   └── InputTooLarge              an article over a limit (bytes, paragraphs)
    ├── LabelFileError (ValueError)    a labelled-data file with a bad line
    └── ModelError (RuntimeError)      a model folder that is missing or unusable
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medbrief.api import analyze, analyze_many, frames, load
    from medbrief.engine import Analyzer
    from medbrief.errors import (
        InputError,
        InputTooLarge,
        LabelFileError,
        MedbriefError,
        ModelError,
    )
    from medbrief.record import (
        AnalysisRecord,
        ErrorRecord,
        ModelInfo,
        ParagraphRecord,
        SummarySentence,
    )

try:
    __version__ = version("medbrief")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

# Where each public name lives; imported on first use, so `import medbrief` stays light.
_HOMES = {
    "analyze": "medbrief.api", "analyze_many": "medbrief.api", "frames": "medbrief.api",
    "load": "medbrief.api", "Analyzer": "medbrief.engine",
    "AnalysisRecord": "medbrief.record", "ErrorRecord": "medbrief.record",
    "ModelInfo": "medbrief.record", "ParagraphRecord": "medbrief.record",
    "SummarySentence": "medbrief.record",
    "MedbriefError": "medbrief.errors", "InputError": "medbrief.errors",
    "InputTooLarge": "medbrief.errors", "LabelFileError": "medbrief.errors",
    "ModelError": "medbrief.errors",
}
__all__ = [
    "AnalysisRecord", "Analyzer", "ErrorRecord", "InputError", "InputTooLarge",
    "LabelFileError", "MedbriefError", "ModelError", "ModelInfo", "ParagraphRecord",
    "SummarySentence", "__version__", "analyze", "analyze_many", "frames", "load",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        value = getattr(import_module(_HOMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'medbrief' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
