"""Whole-file outputs of `medbrief tag`: Label Studio tasks, and Parquet tables.

Unlike JSON Lines and CSV, which are written a record at a time, these are written once
every article is done (so they cannot be resumed): the records are kept until then.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Literal

from medbrief.errors import MedbriefError
from medbrief.record import AnalysisRecord

WholeFormat = Literal["labelstudio", "parquet"]
WHOLE_FORMATS: tuple[WholeFormat, ...] = ("labelstudio", "parquet")


def write_whole(
    lines: Sequence[str], fmt: WholeFormat, out: Path | None, stream: IO[str]
) -> None:
    """Write the records (JSON lines, error records left out) as ``fmt`` to ``out``, or to
    ``stream`` when there is no file (Label Studio only)."""
    records = [AnalysisRecord.model_validate_json(line) for line in lines]
    if fmt == "labelstudio":
        from medbrief.training.annotations import labelstudio_tasks

        text = json.dumps(labelstudio_tasks(records), ensure_ascii=False, indent=1) + "\n"
        if out is None:
            stream.write(text)
        else:
            out.write_text(text, encoding="utf-8")
        return
    from medbrief.api import frames

    assert out is not None, "parquet needs a file"
    try:
        paragraphs, _ = frames(records)
        paragraphs.to_parquet(out, index=False)
    except ImportError as exc:
        raise MedbriefError(
            "--format parquet needs pandas and pyarrow: pip install 'medbrief[parquet]'"
        ) from exc
