"""The Python API and the package: import name, README examples, where models live."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import medbrief
from medbrief import locations
from medbrief.errors import InputError, ModelError
from tests.conftest import ROOT, SEEDS

sys.path.insert(0, str(ROOT / "scripts"))
from readme_examples import examples


@pytest.fixture
def default_model(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The session's model as the default model folder (MEDBRIEF_MODEL_DIR)."""
    monkeypatch.setenv("MEDBRIEF_MODEL_DIR", str(model_dir))
    medbrief.api._loaded.clear()
    return model_dir


def test_every_public_name_resolves_and_is_documented() -> None:
    assert medbrief.__version__ and medbrief.__doc__
    for name in medbrief.__all__:
        value = getattr(medbrief, name)
        assert name == "__version__" or value.__doc__, name
    assert (Path(medbrief.__file__).parent / "py.typed").is_file()
    with pytest.raises(AttributeError):
        medbrief.nothing_here  # noqa: B018


def test_importing_medbrief_loads_nothing_heavy() -> None:
    code = (
        "import sys, medbrief; "
        "print(sorted(m for m in ('sklearn', 'numpy', 'pydantic') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_readme_python_examples_run(
    default_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code = examples()
    assert "medbrief.analyze(" in code and "medbrief.frames(" in code
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "story.txt").is_file()


def test_analyze_takes_text_bytes_or_a_file_and_many_in_one_batch(default_model: Path) -> None:
    path = SEEDS / "003_d68301345416b06b.txt"
    from_file = medbrief.analyze(path)
    from_text = medbrief.analyze(path.read_text(), id="seed3")
    from_bytes = medbrief.analyze(path.read_bytes())
    assert from_file.id == path.stem and from_file.source == str(path)
    assert from_text.id == "seed3"
    assert from_file.summary == from_text.summary == from_bytes.summary
    many = medbrief.analyze_many([path, path.read_text()], ids=[None, "two"], sentences=1)
    assert [r.id for r in many] == [path.stem, "two"] and all(len(r.summary) == 1 for r in many)
    with pytest.raises(InputError):
        medbrief.analyze("   ")


def test_records_become_frames_and_render_as_html(default_model: Path) -> None:
    record = medbrief.analyze(SEEDS / "003_d68301345416b06b.txt")
    paragraphs, articles = medbrief.frames([record])
    assert len(paragraphs) == len(record.paragraphs) and len(articles) == 1
    assert paragraphs["in_summary"].sum() == len(record.summary)
    assert set(record.topics) <= {c.removeprefix("share_") for c in articles.columns}
    html = record._repr_html_()
    assert html.count("<p ") == len(record.paragraphs) and record.summary[0].text in html


def test_models_are_written_to_the_user_data_folder_outside_a_clone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDBRIEF_MODEL_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    assert locations.model_dir() == tmp_path / "data" / "medbrief" / "models"
    assert locations.corrections_dir() == tmp_path / "data" / "medbrief" / "corrections"
    (tmp_path / "models").mkdir()  # a clone of the project has these
    (tmp_path / "seeds").mkdir()
    assert locations.model_dir() == Path("models")
    assert locations.corrections_dir() == Path("seeds") / "corrections"
    monkeypatch.setenv("MEDBRIEF_MODEL_DIR", str(tmp_path / "mine"))
    assert locations.model_dir() == tmp_path / "mine"


def test_the_packaged_model_serves_until_one_is_trained(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDBRIEF_MODEL_DIR", str(tmp_path / "empty"))
    monkeypatch.setattr(locations, "PACKAGED", tmp_path / "none")
    with pytest.raises(ModelError, match="no default model"):
        locations.model_to_read()
    shutil.copytree(model_dir, tmp_path / "packaged" / "model")
    monkeypatch.setattr(locations, "PACKAGED", tmp_path / "packaged")
    assert locations.model_to_read() == tmp_path / "packaged" / "model"
    shutil.copytree(model_dir, tmp_path / "empty")  # a model trained by the user wins
    assert locations.model_to_read() == tmp_path / "empty"
    assert locations.model_to_read(tmp_path / "given") == tmp_path / "given"


def test_the_wheel_installs_only_the_medbrief_package() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["setuptools"]["packages"]["find"]["include"] == ["medbrief*"]
    for sub in ("training", "service"):
        link = ROOT / "medbrief" / sub
        assert link.is_symlink() and link.resolve() == (ROOT / sub).resolve()
