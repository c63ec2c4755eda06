"""Round trips with annotation tools: Label Studio, Prodigy and doccano exports train a
model; `tag --format labelstudio` writes tasks that come back as the same paragraphs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from medbrief.cli import main
from medbrief.errors import LabelFileError
from medbrief.training.data import load_dir
from medbrief.training.train import train
from tests.conftest import SEEDS
from tests.test_training import TINY


def ls_task(article: str, paragraph: int, text: str, label: str | None) -> dict[str, object]:
    """A task as Label Studio exports it (a text-classification project)."""
    annotations = [] if label is None else [{
        "id": 1, "completed_by": 1, "was_cancelled": False, "lead_time": 3.2,
        "result": [{"id": "a1", "from_name": "label", "to_name": "text", "type": "choices",
                    "origin": "manual", "value": {"choices": [label]}}],
    }]
    return {"id": paragraph + 1, "data": {"text": text, "article": article,
                                         "paragraph": paragraph},
            "annotations": annotations, "predictions": []}


def test_a_label_studio_export_trains(tmp_path: Path) -> None:
    tasks = [ls_task(f"art{a}", i, t, lab) for a, rows in enumerate(TINY)
             for i, (t, lab) in enumerate(rows)]
    tasks.reverse()  # an export's order is not reading order
    tasks.append(ls_task("unfinished", 0, "Not labelled yet.", None))
    (tmp_path / "project-1-at-2026.json").write_text(json.dumps(tasks))
    articles = load_dir(tmp_path)
    assert [a.name for a in articles] == ["art2", "art1", "art0"]  # the unfinished left out
    assert articles[2].texts == tuple(t for t, _ in TINY[0])
    assert articles[2].labels == tuple(lab for _, lab in TINY[0])
    assert train(tmp_path, None, cross_validation=False).labels == [
        "boilerplate", "mechanism", "results"]


def test_a_prodigy_file_trains_on_accepted_answers_only(tmp_path: Path) -> None:
    lines = []
    for a, rows in enumerate(TINY):
        for i, (text, label) in enumerate(rows):
            lines.append({"text": text, "label": label, "answer": "accept",
                          "meta": {"article": f"art{a}", "paragraph": i},
                          "_input_hash": a * 10 + i, "_task_hash": a * 100 + i})
    lines.append({"text": "A rejected suggestion.", "label": "results", "answer": "reject",
                  "meta": {"article": "art0", "paragraph": 9}})
    lines.append({"text": "Cookies.", "options": [{"id": "boilerplate", "text": "boilerplate"}],
                  "accept": ["boilerplate"], "answer": "accept",
                  "meta": {"article": "art0", "paragraph": 4}})
    (tmp_path / "prodigy.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\n")
    articles = {a.name: a for a in load_dir(tmp_path)}
    assert "A rejected suggestion." not in articles["art0"].texts
    assert articles["art0"].texts[-1] == "Cookies." and articles["art0"].labels[-1] == "boilerplate"
    assert train(tmp_path, None, cross_validation=False).labels == [
        "boilerplate", "mechanism", "results"]


def test_a_doccano_file_trains(tmp_path: Path) -> None:
    lines = [
        {"id": a * 10 + i, "text": text, "label": [label], "article": f"art{a}", "paragraph": i}
        for a, rows in enumerate(TINY) for i, (text, label) in enumerate(rows)
    ]
    (tmp_path / "doccano.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\n")
    assert len(load_dir(tmp_path)) == 3
    assert train(tmp_path, None, cross_validation=False).labels == [
        "boilerplate", "mechanism", "results"]


def test_a_malformed_export_names_its_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"text": "Fine.", "label": ["x"]}\n{"text": ""}\n')
    with pytest.raises(LabelFileError, match=r"bad\.jsonl:2"):
        load_dir(tmp_path)


def test_labelstudio_tasks_come_back_as_the_same_paragraphs(
    tmp_path: Path, model_dir: Path
) -> None:
    article = SEEDS / "003_d68301345416b06b.txt"
    out = tmp_path / "export" / "tasks.json"
    out.parent.mkdir()
    result = CliRunner().invoke(main, ["tag", str(article), "--format", "labelstudio",
                                       "-o", str(out), "--model", str(model_dir)])
    assert result.exit_code == 0, result.output
    tasks = json.loads(out.read_text())
    scores = [t["predictions"][0]["score"] for t in tasks]
    assert scores == sorted(scores), "least confident first"
    for task in tasks:  # an annotator accepts every pre-annotation
        task["annotations"] = [{"was_cancelled": False,
                                "result": task["predictions"][0]["result"]}]
    out.write_text(json.dumps(tasks))
    (back,) = load_dir(out.parent)
    record = json.loads(CliRunner().invoke(main, ["tag", str(article), "--model",
                                                  str(model_dir)]).stdout)
    assert back.name == article.stem
    assert list(back.texts) == [p["text"] for p in record["paragraphs"]]
    assert list(back.labels) == [p["label"] for p in record["paragraphs"]]
