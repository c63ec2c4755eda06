"""Labelled data validation, training, the model folder and its card."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from medbrief.errors import LabelFileError, ModelError
from medbrief.features import samples
from medbrief.model import CARD_FILE, MODEL_FILE, POINTER, current_version, load_model
from medbrief.training.data import load_dir
from medbrief.training.options import TrainingOptions
from medbrief.training.pipeline import linear_model
from medbrief.training.train import fit, train
from tests.conftest import write_labelled

# A tiny corpus: three articles of four paragraphs, two labels per topic cue.
TINY = [
    [
        ("We use cookies on this site. Accept all cookies.", "boilerplate"),
        ("The disease makes the immune system attack the kidneys.", "mechanism"),
        ("Seven of ten patients went into remission in the trial.", "results"),
        ("Share this article on Facebook and Twitter.", "boilerplate"),
    ],
    [
        ("Subscribe to our newsletter for weekly updates.", "boilerplate"),
        ("Immune cells called B cells make antibodies that attack tissue.", "mechanism"),
        ("The study found remission in half of the patients after a year.", "results"),
        ("Leave a reply. Your email address will not be published.", "boilerplate"),
    ],
    [
        ("Accept cookies to continue reading.", "boilerplate"),
        ("The therapy works by engineering T cells with a receptor.", "mechanism"),
        ("In the trial, 12 patients achieved remission within months.", "results"),
        ("Related articles: more news on Twitter and Facebook.", "boilerplate"),
    ],
]


def tiny_corpus(folder: Path) -> Path:
    for i, rows in enumerate(TINY):
        write_labelled(folder, f"art{i}", rows)
    return folder


def test_training_learns_any_label_set_and_round_trips(tmp_path: Path) -> None:
    data = tiny_corpus(tmp_path / "data")
    trained = train(data, tmp_path / "models", cross_validation=True)
    assert trained.labels == ["boilerplate", "mechanism", "results"]
    loaded = load_model(tmp_path / "models")
    assert loaded.card == trained.card
    probe = [["Accept all cookies here.", "Nine patients achieved remission in the trial."]]
    np.testing.assert_allclose(loaded.predict_proba(probe)[0], trained.predict_proba(probe)[0])
    labels = [trained.labels[i] for i in loaded.predict_proba(probe)[0].argmax(axis=1)]
    assert labels == ["boilerplate", "results"]


def test_card_records_metrics_data_and_versions(tmp_path: Path) -> None:
    data = tiny_corpus(tmp_path / "data")
    card = train(data, tmp_path / "models").card
    assert card.data.articles == 3 and card.data.paragraphs == 12
    assert card.data.label_counts == {"boilerplate": 6, "mechanism": 3, "results": 3}
    assert card.cross_validation is not None
    assert set(card.cross_validation.per_label) == set(card.labels)
    assert len(card.cross_validation.confusion) == 3
    assert sum(map(sum, card.cross_validation.confusion)) == 12
    assert {"scikit-learn", "numpy", "medbrief"} <= set(card.libraries)
    saved = json.loads((tmp_path / "models" / card.version / CARD_FILE).read_text())
    assert saved["data"]["digest"] == card.data.digest


def test_training_is_deterministic(tmp_path: Path) -> None:
    data = tiny_corpus(tmp_path / "data")
    first = train(data, None)
    second = train(data, None)
    probe = [[text for text, _ in TINY[0]]]
    assert first.card.data.digest == second.card.data.digest
    assert first.card.cross_validation == second.card.cross_validation
    np.testing.assert_array_equal(first.predict_proba(probe)[0], second.predict_proba(probe)[0])


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('["a list"]', "JSON object"),
        ('{"text": "", "label": "risks"}', "'text' must be a non-empty string"),
        ('{"text": "Some text."}', "'label' must be a non-empty string"),
        ('{"text": "Some text.", "label": 3}', "'label' must be a non-empty string"),
    ],
)
def test_bad_label_line_names_file_and_line_and_writes_nothing(
    tmp_path: Path, line: str, message: str
) -> None:
    data = tiny_corpus(tmp_path / "data")
    bad = data / "art1.labels.jsonl"
    bad.write_text(bad.read_text() + line + "\n")
    with pytest.raises(LabelFileError, match=message) as caught:
        train(data, tmp_path / "models")
    assert caught.value.path == str(bad) and caught.value.line == 5
    assert str(caught.value).startswith(f"{bad}:5: ")
    assert not (tmp_path / "models").exists()


def test_a_label_file_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(LabelFileError("data/a.labels.jsonl", 3, "bad label")))
    assert (error.path, error.line, str(error)) == ("data/a.labels.jsonl", 3,
                                                   "data/a.labels.jsonl:3: bad label")


def test_labels_that_do_not_match_the_raw_article_are_refused(tmp_path: Path) -> None:
    data = tiny_corpus(tmp_path / "data")
    (data / "art0.txt").write_text("We use cookies on this site. Accept all cookies.\n\nOther.\n")
    with pytest.raises(LabelFileError, match=r"art0.labels.jsonl:2: text differs"):
        load_dir(data)


def test_saving_points_current_at_the_new_version_and_keeps_a_few(tmp_path: Path) -> None:
    data = tiny_corpus(tmp_path / "data")
    versions = []
    for extra in range(4):
        write_labelled(data, "extra", [(f"Extra risk text number {extra}.", "results")])
        versions.append(train(data, tmp_path / "models", cross_validation=False).version)
    assert current_version(tmp_path / "models") == versions[-1]
    kept = sorted(p.name for p in (tmp_path / "models").iterdir() if p.is_dir())
    assert versions[-1] in kept and len(kept) == 3
    assert not list((tmp_path / "models").glob(".staging-*"))


def _rewrite_model_file(path: Path, change: Callable[[dict[str, bytes]], None]) -> None:
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    change(members)
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)


def test_loading_refuses_a_model_file_naming_a_class_outside_the_allowed_list(
    tmp_path: Path,
) -> None:
    data = tiny_corpus(tmp_path / "data")
    model = train(data, tmp_path / "models", cross_validation=False)

    def plant(members: dict[str, bytes]) -> None:
        tree = json.loads(members["tree.json"])
        tree["objects"]["pipeline"] = {"object": "os.system", "state": {"dict": {}}}
        members["tree.json"] = json.dumps(tree).encode()

    _rewrite_model_file(tmp_path / "models" / model.version / MODEL_FILE, plant)
    with pytest.raises(ModelError, match=r"refusing to load os\.system"):
        load_model(tmp_path / "models")


def test_loading_refuses_pickled_arrays(tmp_path: Path) -> None:
    data = tiny_corpus(tmp_path / "data")
    model = train(data, tmp_path / "models", cross_validation=False)

    def plant(members: dict[str, bytes]) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, a0=np.array([print], dtype=object))  # needs pickle to load
        members["arrays.npz"] = buffer.getvalue()

    _rewrite_model_file(tmp_path / "models" / model.version / MODEL_FILE, plant)
    with pytest.raises(ModelError, match="not a medbrief model file"):
        load_model(tmp_path / "models")


def test_missing_model_folder_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="medbrief train"):
        load_model(tmp_path / "nothing")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / POINTER).write_text("v1\n")
    with pytest.raises(ModelError, match="cannot load"):
        load_model(tmp_path / "broken")


@pytest.mark.parametrize("labels", [3, 2])
def test_the_saved_linear_form_gives_the_pipelines_probabilities(
    tmp_path: Path, labels: int
) -> None:
    rows = [[(text, label if labels == 3 else "other") if label != "boilerplate" else
             (text, label) for text, label in article] for article in TINY]
    for i, article in enumerate(rows):
        write_labelled(tmp_path, f"art{i}", article)
    articles = load_dir(tmp_path)
    pipeline = fit(articles, TrainingOptions(min_df=1))
    names = sorted({label for article in rows for _, label in article})
    linear = linear_model(pipeline, names)
    probe = samples(["Accept all cookies.", "Nine of ten patients went into remission.", "Share."])
    order = [list(pipeline.classes_).index(label) for label in names]
    expected = pipeline.predict_proba(probe)[:, order]
    np.testing.assert_allclose(linear.predict_proba(probe), expected, rtol=1e-9, atol=1e-12)


def _summary_corpus(folder: Path) -> Path:
    """Eight articles whose editors always pick the finding that names a remission."""
    for i in range(8):
        rows = [
            (f"In the trial, {i + 3} of 20 patients were in remission after a year.",
             "trial_results"),
            (f"In the trial, {i + 5} of 20 patients were seen at the clinic after a year.",
             "trial_results"),
            ("Side effects were mild and faded within a week in most of the patients.", "risks"),
            ("Larger trials are planned for next year in three more countries.", "outlook"),
            ("Subscribe to our newsletter for weekly updates.", "boilerplate"),
        ]
        write_labelled(folder, f"art{i}", rows)
        (folder / f"art{i}.reference.json").write_text(
            json.dumps({"sentences": [rows[0][0], rows[2][0], rows[3][0]]}), encoding="utf-8"
        )
    return folder


def test_the_summary_scorer_learns_the_words_editors_pick_and_keeps_them(
    tmp_path: Path,
) -> None:
    data = _summary_corpus(tmp_path / "data")
    trained = train(data, tmp_path / "models", cross_validation=False)
    assert trained.scorer is not None and trained.scorer.words
    words = trained.scorer.words
    assert words["trial_results:remission"] + words["remission"] > 0
    assert words["trial_results:clinic"] + words["clinic"] < 0
    loaded = load_model(tmp_path / "models").scorer
    assert loaded is not None and loaded.words == words
    np.testing.assert_array_equal(loaded.coef_, trained.scorer.coef_)


def test_loading_refuses_a_summary_scorer_with_a_word_weight_that_is_not_a_number(
    tmp_path: Path,
) -> None:
    data = _summary_corpus(tmp_path / "data")
    model = train(data, tmp_path / "models", cross_validation=False)

    def spoil(members: dict[str, bytes]) -> None:
        text = members["tree.json"].decode()
        members["tree.json"] = text.replace('"remission": ', '"remission": "x", "y": ', 1).encode()

    _rewrite_model_file(tmp_path / "models" / model.version / MODEL_FILE, spoil)
    with pytest.raises(ModelError, match="summary scorer has the wrong shape"):
        load_model(tmp_path / "models")
