"""The HTTP service through a real FastAPI app: routes, limits, errors and retraining."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from medbrief.service.app import create_app
from medbrief.service.config import Settings
from medbrief.service.retrain import Retrainer, RetrainError
from medbrief.service.schemas import SPACE, SPACE_CHARS, STRIPPED
from tests.conftest import SEEDS, write_labelled
from tests.test_training import TINY

ADMIN = "s3cret-admin-key"
ARTICLE = (SEEDS / "003_d68301345416b06b.txt").read_text()


@pytest.fixture(scope="module")
def client(model_dir: Path) -> Iterator[TestClient]:
    app = create_app(
        Settings(
            model_dir=model_dir,
            admin_key=None,
            max_body_bytes=200_000,
            max_batch=3,
            train_if_missing=False,
        )
    )
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def keyed_client(model_dir: Path) -> Iterator[TestClient]:
    """A service with retraining enabled (for requests refused before any training)."""
    app = create_app(
        Settings(model_dir=model_dir, admin_key=SecretStr(ADMIN), train_if_missing=False)
    )
    with TestClient(app) as c:
        yield c


# The tiny corpus as a retrain request uploads it.
TINY_ARTICLES = [
    {"name": f"art{i}", "paragraphs": [{"text": t, "label": lab} for t, lab in rows]}
    for i, rows in enumerate(TINY)
]


def copied(model_dir: Path, to: Path) -> Path:
    """A copy of the session's model folder that a retrain may write into."""
    import shutil

    shutil.copytree(model_dir, to)
    return to


def error_of(response: object) -> tuple[int, str]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"detail", "code"} and body["detail"]
    return response.status_code, body["code"]  # type: ignore[attr-defined]


def test_analyze_json_returns_the_contract_record(client: TestClient) -> None:
    response = client.post("/v1/analyze", json={"text": ARTICLE, "id": "a1", "sentences": 2})
    assert response.status_code == 200
    record = response.json()
    assert record["id"] == "a1" and record["source"] is None
    assert len(record["summary"]) == 2
    assert {"index", "text", "label", "confidence", "scores"} <= set(record["paragraphs"][0])
    assert sum(record["topics"].values()) == pytest.approx(1.0)
    assert record["model"]["version"] == client.get("/v1/model").json()["version"]
    assert response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("text/plain", ARTICLE),
        ("text/markdown", "# Trial\n\n" + ARTICLE),
        (
            "text/html",
            "<html><body><article>"
            + "".join(f"<p>{p}</p>" for p in ARTICLE.split("\n\n"))
            + "</article></body></html>",
        ),
    ],
)
def test_raw_bodies_are_accepted(client: TestClient, kind: str, body: str) -> None:
    response = client.post(
        "/v1/summarize?sentences=1",
        content=body.encode(),
        headers={"content-type": f"{kind}; charset=utf-8"},
    )
    assert response.status_code == 200, response.text
    summary = response.json()["summary"]
    assert len(summary) == 1 and summary[0]["text"] in ARTICLE


def test_batch_analyses_each_article_and_reports_bad_ones(client: TestClient) -> None:
    response = client.post(
        "/v1/analyze/batch",
        json={"articles": [{"text": ARTICLE, "id": "good"}, {"text": "   ", "id": "blank"}]},
    )
    assert response.status_code == 200
    good, blank = response.json()
    assert good["id"] == "good" and good["summary"]
    assert blank == {"id": "blank", "source": None, "error": "blank: empty article"}
    too_many = {"articles": [{"text": ARTICLE}] * 4}
    assert error_of(client.post("/v1/analyze/batch", json=too_many)) == (413, "batch_too_large")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"json": {"text": ""}}, (422, "invalid_request")),
        ({"json": {"nothing": 1}}, (422, "invalid_request")),
        ({"json": {"text": "x", "sentences": 999}}, (422, "too_many_sentences")),
        ({"json": {"text": "x", "format": "pdf"}}, (422, "invalid_request")),
        (
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            (422, "invalid_request"),
        ),
        (
            {"content": b"\xc3\x28 broken", "headers": {"content-type": "text/plain"}},
            (422, "unreadable"),
        ),
        ({"content": b"   ", "headers": {"content-type": "text/plain"}}, (422, "empty")),
        (
            {"content": "\u2028\u3000\ufeff\n".encode(), "headers": {"content-type": "text/plain"}},
            (422, "empty"),
        ),
        (
            {"content": b"Five patients\x00", "headers": {"content-type": "text/markdown"}},
            (422, "unreadable"),
        ),
        ({"content": b"{}", "headers": {"content-type": "text/html"}}, (422, "looks_like_json")),
        (
            {"content": b"x" * 300_000, "headers": {"content-type": "text/plain"}},
            (413, "too_large"),
        ),
        (
            {"content": b"%PDF", "headers": {"content-type": "application/pdf"}},
            (415, "unsupported_media_type"),
        ),
    ],
)
def test_bad_input_gets_a_clear_4xx(
    client: TestClient, kwargs: dict[str, Any], expected: tuple[int, str]
) -> None:
    assert error_of(client.post("/v1/analyze", **kwargs)) == expected


@pytest.mark.parametrize("kind", ["text/plain", "text/markdown", "text/html"])
@pytest.mark.parametrize(
    "body", ['{"text": "Five of nine patients went into remission."}', "[1, 2]", " null\n", "1e+16"]
)
def test_a_raw_body_that_is_json_is_refused_with_a_pointer_to_application_json(
    client: TestClient, kind: str, body: str
) -> None:
    for route in ("/v1/analyze", "/v1/summarize"):
        response = client.post(route, content=body.encode(), headers={"content-type": kind})
        assert error_of(response) == (422, "looks_like_json")
        assert "Content-Type: application/json" in response.json()["detail"]


@pytest.mark.parametrize(
    "body", ["[Updated] " + ARTICLE, ARTICLE + "\n\n{see table 2}", "42 patients improved."]
)
def test_a_raw_article_with_brackets_or_numbers_is_still_an_article(
    client: TestClient, body: str
) -> None:
    response = client.post(
        "/v1/analyze", content=body.encode(), headers={"content-type": "text/plain"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["paragraphs"]


def test_raw_body_white_space_is_what_the_engine_strips_plus_the_byte_order_mark() -> None:
    every = [chr(i) for i in range(sys.maxunicode + 1)]
    stripped = {c for c in every if c.isspace()}
    assert {c for c in every if re.fullmatch(f"[{STRIPPED}]", c)} == stripped
    spaces = stripped | {"\ufeff"}
    assert {c for c in every if re.fullmatch(f"[{SPACE}]", c)} == spaces == set(SPACE_CHARS)


@pytest.fixture(scope="module")
def raw_schema(client: TestClient) -> dict[str, Any]:
    content = client.get("/openapi.json").json()["paths"]["/v1/summarize"]["post"]["requestBody"]
    schema: dict[str, Any] = content["content"]["text/plain"]["schema"]
    return schema


raw_texts = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=" \t\n\u2028\ufeff\x00{}[]-.0123456789eEtruefalsn\"a:,<>#", max_size=30),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
        | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=6,
    ).map(json.dumps),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=raw_texts)
def test_the_service_enforces_exactly_the_published_raw_body_schema(
    client: TestClient, raw_schema: dict[str, Any], text: str
) -> None:
    valid = bool(
        re.search(raw_schema["pattern"], text) and not re.search(raw_schema["not"]["pattern"], text)
    )
    response = client.post(
        "/v1/summarize", content=text.encode(), headers={"content-type": "text/plain"}
    )
    if valid:
        # the engine still refuses a text that has nothing left once markup is removed
        assert response.status_code == 200 or (
            error_of(response) == (422, "unreadable")
            and "no readable text" in response.json()["detail"]
        ), (text, response.text)
    else:
        assert response.status_code == 422, (text, response.text)
        assert error_of(response)[1] in {"empty", "unreadable", "looks_like_json"}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=2000),
    kind=st.sampled_from(["text/plain", "text/html", "text/markdown", "application/json"]),
)
def test_random_bytes_never_cause_a_server_error(
    client: TestClient, body: bytes, kind: str
) -> None:
    response = client.post("/v1/analyze", content=body, headers={"content-type": kind})
    assert response.status_code < 500


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.dictionaries(
        st.sampled_from(["text", "format", "sentences", "words", "id", "x"]),
        json_values,
        max_size=5,
    )
)
def test_random_json_never_causes_a_server_error(
    client: TestClient, payload: dict[str, Any]
) -> None:
    for route in ("/v1/analyze", "/v1/summarize"):
        assert (
            client.post(
                route,
                content=json.dumps(payload).encode(),
                headers={"content-type": "application/json"},
            ).status_code
            < 500
        )


def test_health_readiness_metrics_and_page(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    client.post("/v1/analyze", json={"text": ARTICLE})
    metrics = client.get("/metrics").text
    assert 'medbrief_requests_total{method="POST",route="/v1/analyze",status="200"}' in metrics
    assert (
        "medbrief_request_seconds_bucket" in metrics and "medbrief_model_info{version=" in metrics
    )
    page = client.get("/")
    assert (
        page.status_code == 200
        and "<textarea" in page.text
        and "http"
        not in page.text.split("<script>")[0].split("<style>")[0].replace("http-equiv", "")
    )


def test_openapi_documents_every_route_and_body(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {
        "/v1/analyze",
        "/v1/summarize",
        "/v1/analyze/batch",
        "/v1/model",
        "/v1/model/retrain",
        "/healthz",
        "/readyz",
    } <= set(schema["paths"])
    body = schema["paths"]["/v1/analyze"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "text/plain", "text/markdown", "text/html"}
    raw = [body[kind]["schema"] for kind in ("text/plain", "text/markdown", "text/html")]
    assert raw[0] == raw[1] == raw[2] and {"pattern", "not"} <= set(raw[0])
    assert "AnalyzeRequest" in schema["components"]["schemas"]


def test_retrain_is_disabled_without_an_admin_key(client: TestClient) -> None:
    response = client.post("/v1/model/retrain", headers={"x-admin-key": "anything"})
    assert error_of(response) == (403, "retrain_disabled")


@pytest.mark.parametrize(
    "body",
    [
        {"articles": []},
        {"articles": [{"name": "a", "paragraphs": [{"text": " \u3000", "label": "risks"}]}]},
        {"articles": [{"name": "a", "paragraphs": [{"text": "Fever.", "label": "\t"}]}]},
        {"articles": [{"name": "a", "paragraphs": [{"text": "Fever.", "label": "risks"}]}] * 2},
        "{not json",
    ],
)
def test_retrain_checks_the_key_before_the_body_then_refuses_bad_articles(
    client: TestClient, keyed_client: TestClient, body: dict[str, Any] | str
) -> None:
    content = body if isinstance(body, str) else json.dumps(body)
    kind = {"content-type": "application/json"}
    post = client.post("/v1/model/retrain", content=content, headers=kind)
    assert error_of(post) == (403, "retrain_disabled")
    wrong = {**kind, "x-admin-key": "wrong"}
    assert error_of(keyed_client.post("/v1/model/retrain", content=content, headers=wrong)) == (
        403, "forbidden",
    )
    right = {**kind, "x-admin-key": ADMIN}
    refused = keyed_client.post("/v1/model/retrain", content=content, headers=right)
    assert error_of(refused) == (422, "invalid_request")


@pytest.mark.slow
def test_a_training_error_in_the_child_process_comes_back_as_a_retrain_error(
    tmp_path: Path,
) -> None:
    # training/data.py raises LabelFileError, which cannot be unpickled in the parent
    (tmp_path / "data").mkdir()
    retrainer = Retrainer(tmp_path / "data", tmp_path / "models")
    with pytest.raises(RetrainError, match=r"no \*\.labels\.jsonl files"):
        asyncio.run(retrainer.run(None))
    # nothing is left but the lock file: no model, no staging or work folder
    assert [p.name for p in (tmp_path / "models").iterdir()] == [".retrain.lock"]


def test_not_ready_until_a_model_exists(tmp_path: Path) -> None:
    app = create_app(Settings(model_dir=tmp_path / "empty", train_if_missing=False))
    with TestClient(app) as c:
        assert error_of(c.get("/readyz")) == (503, "not_ready")
        assert error_of(c.post("/v1/analyze", json={"text": ARTICLE})) == (503, "not_ready")


@pytest.mark.slow
def test_retrain_swaps_in_a_new_model_and_a_failed_one_keeps_the_old(
    tmp_path: Path, model_dir: Path
) -> None:
    models = copied(model_dir, tmp_path / "models")
    data = tmp_path / "data"
    data.mkdir()
    for i, rows in enumerate(TINY):  # a held-out folder sharing the new label set
        write_labelled(data / "heldout", f"held{i}", rows)
    app = create_app(
        Settings(
            model_dir=models,
            data_dir=data,
            admin_key=SecretStr(ADMIN),
            train_if_missing=False,
            reload_seconds=0.2,
        )
    )
    articles = TINY_ARTICLES
    with TestClient(app) as c:
        old = c.get("/v1/model").json()["version"]
        assert error_of(c.post("/v1/model/retrain", headers={"x-admin-key": "wrong"})) == (
            403,
            "forbidden",
        )
        bad = [{"name": "one", "paragraphs": [{"text": "Only one label.", "label": "x"}]}]
        failed = c.post("/v1/model/retrain", headers={"x-admin-key": ADMIN}, json={"articles": bad})
        assert (
            error_of(failed) == (422, "retrain_failed") and "two labels" in failed.json()["detail"]
        )
        assert c.get("/v1/model").json()["version"] == old
        time.sleep(1.1)  # versions are named by the second
        ok = c.post(
            "/v1/model/retrain", headers={"x-admin-key": ADMIN}, json={"articles": articles}
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["previous"] == old and ok.json()["articles"] == 3
        card = c.get("/v1/model").json()
        assert card["version"] == ok.json()["version"] != old
        assert card["labels"] == ["boilerplate", "mechanism", "results"]
        assert c.post("/v1/analyze", json={"text": ARTICLE}).status_code == 200


def chunks(size: int) -> Iterator[bytes]:
    """A body sent in pieces (chunked transfer encoding): no Content-Length to check."""
    sent = 0
    while sent < size:
        yield b"x" * 50_000
        sent += 50_000


@pytest.mark.parametrize("route", ["/v1/analyze", "/v1/analyze/batch", "/v1/model/retrain"])
def test_a_streamed_body_over_the_limit_is_413_on_every_route(
    client: TestClient, route: str
) -> None:
    response = client.post(
        route, content=chunks(300_000),
        headers={"content-type": "application/json", "x-admin-key": ADMIN},
    )
    assert error_of(response) == (413, "too_large")


def test_an_oversized_request_id_is_replaced_and_made_up_methods_share_one_series(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    huge = "r" * 100_000
    with caplog.at_level("INFO", logger="medbrief.service"):
        response = client.get("/healthz", headers={"x-request-id": huge})
    echoed = response.headers["x-request-id"]
    assert echoed != huge and len(echoed) <= 128
    assert all(len(record.getMessage()) < 2_000 for record in caplog.records)
    assert client.get("/healthz", headers={"x-request-id": "abc-123"}).headers[
        "x-request-id"] == "abc-123"
    for method in ("FOO", "BAR", "BAZ"):
        client.request(method, "/healthz")
    metrics = client.get("/metrics").text
    assert 'method="other"' in metrics
    assert not any(f'method="{m}"' in metrics for m in ("FOO", "BAR", "BAZ"))


def test_responses_carry_security_headers_and_the_page_a_content_security_policy(
    client: TestClient,
) -> None:
    for path in ("/", "/healthz", "/v1/model"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
    policy = client.get("/").headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "'sha256-" in policy and "unsafe-inline" not in policy


def test_a_second_retrain_is_refused_while_one_holds_the_lock(
    keyed_client: TestClient, model_dir: Path
) -> None:
    from medbrief.service.retrain import retrain_lock

    with retrain_lock(model_dir):  # as another worker's retrain would hold it
        response = keyed_client.post("/v1/model/retrain", headers={"x-admin-key": ADMIN})
    assert error_of(response) == (409, "retrain_running")


@pytest.mark.slow
def test_the_retrain_gate_is_never_skipped_and_errors_name_no_server_paths(
    tmp_path: Path, model_dir: Path
) -> None:
    models = copied(model_dir, tmp_path / "models")
    (models / ".staging-leftover").mkdir()  # left by a retrain killed while saving
    (models / ".retrain-999").mkdir()
    data = tmp_path / "data"
    app = create_app(Settings(model_dir=models, data_dir=data, admin_key=SecretStr(ADMIN),
                              train_if_missing=False))
    articles = TINY_ARTICLES
    key = {"x-admin-key": ADMIN}
    with TestClient(app) as c:
        data.mkdir()
        refused = c.post("/v1/model/retrain", headers=key, json={"articles": articles})
        assert error_of(refused) == (422, "retrain_failed")
        assert "no held-out folder shares" in refused.json()["detail"]
        one = [{"name": "one", "paragraphs": [{"text": "Only one label.", "label": "x"}]}]
        failed = c.post("/v1/model/retrain", headers=key, json={"articles": one})
        detail = failed.json()["detail"]
        assert "two labels" in detail and str(tmp_path) not in detail and "/tmp" not in detail
        for i, rows in enumerate(TINY):  # a held-out folder whose labels contradict TINY's
            swapped = [(t, "mechanism" if lab == "results" else "results" if
                        lab == "mechanism" else lab) for t, lab in rows]
            write_labelled(data / "heldout", f"held{i}", swapped)
        poor = c.post("/v1/model/retrain", headers=key, json={"articles": articles})
        assert error_of(poor) == (422, "retrain_failed") and "below" in poor.json()["detail"]
    assert not list(models.glob(".staging-*")) and not list(models.glob(".retrain-*"))


def corrupt_stream(model_file: bytes) -> bytes:
    """A model file whose first member's deflate stream is broken (zlib.error to read)."""
    import io
    import zipfile

    info = zipfile.ZipFile(io.BytesIO(model_file)).infolist()[0]
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    return model_file[:start] + b"\xff" * 8 + model_file[start + 8 :]


def test_a_bad_model_version_is_skipped_and_the_next_good_one_still_loads(
    tmp_path: Path, model_dir: Path
) -> None:
    import shutil

    from medbrief.model import MODEL_FILE, POINTER, current_version
    from medbrief.service.state import ModelHolder

    models = tmp_path / "models"
    shutil.copytree(model_dir, models)
    good = current_version(models)
    holder = ModelHolder(models)
    assert holder.refresh() and holder.version == good
    shutil.copytree(models / str(good), models / "broken")
    (models / "broken" / MODEL_FILE).write_bytes(corrupt_stream(
        (models / "broken" / MODEL_FILE).read_bytes()
    ))
    (models / POINTER).write_text("broken\n")
    assert not holder.refresh() and holder.version == good, "the old model keeps serving"
    assert holder.last_error and "broken" in holder.last_error
    shutil.copytree(models / str(good), models / "fixed")
    (models / POINTER).write_text("fixed\n")
    assert holder.refresh() and holder.version == good  # the card's version, a good load


def test_the_retrain_probe_refuses_a_model_that_mislabels_it(tmp_path: Path) -> None:
    from medbrief.service.retrain import RetrainError, _probe
    from medbrief.training.train import train

    swapped = [[(t, {"boilerplate": "mechanism", "mechanism": "boilerplate"}.get(lab, lab))
                for t, lab in rows] for rows in TINY]
    for i, rows in enumerate(swapped):
        write_labelled(tmp_path, f"art{i}", rows)
    model = train(tmp_path, None, cross_validation=False)
    with pytest.raises(RetrainError, match="fails the probe"):
        _probe(model)


def test_an_unsupported_content_type_lists_the_accepted_ones(client: TestClient) -> None:
    response = client.post("/v1/analyze", content=b"x", headers={"content-type": "image/png"})
    assert error_of(response) == (415, "unsupported_media_type")
    assert all(kind in response.json()["detail"]
               for kind in ("application/json", "text/plain", "text/markdown", "text/html"))



def test_corrections_are_saved_listed_exported_and_bounded(
    model_dir: Path, tmp_path: Path
) -> None:
    from medbrief.training.data import load_dir

    folder = tmp_path / "corrections"
    app = create_app(Settings(model_dir=model_dir, corrections_dir=folder, max_corrections=2,
                              train_if_missing=False))
    rows = [{"text": "Accept cookies to read on.", "label": "boilerplate"},
            {"text": "Nine of ten patients improved in the trial.", "label": "trial_results"}]
    with TestClient(app) as c:
        saved = c.post("/v1/corrections", json={"paragraphs": rows})
        assert saved.status_code == 201 and saved.json()["corrections"] == 1
        again = c.post("/v1/corrections", json={"paragraphs": rows})  # the same article
        assert again.json()["name"] == saved.json()["name"] and again.json()["corrections"] == 1
        other = [{**row, "text": row["text"] + " Again."} for row in rows]
        assert c.post("/v1/corrections", json={"paragraphs": other}).status_code == 201
        third = [{**row, "text": row["text"] + " Third."} for row in rows]
        assert error_of(c.post("/v1/corrections", json={"paragraphs": third})) == (
            507, "corrections_full")
        listed = c.get("/v1/corrections").json()
        assert [x["paragraphs"] for x in listed["corrections"]] == [2, 2]
        lines = c.get("/v1/corrections/export").text.splitlines()
        assert rows in [json.loads(line)["paragraphs"] for line in lines]
        tasks = c.get("/v1/corrections/export?format=labelstudio").json()
    (tmp_path / "ls").mkdir()
    (tmp_path / "ls" / "export.json").write_text(json.dumps(tasks))
    assert sorted(a.labels for a in load_dir(tmp_path / "ls")) == [
        ("boilerplate", "trial_results")] * 2
    assert len(load_dir(folder)) == 2, "the saved corrections are labelled articles"
