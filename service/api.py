"""The routes: analysis, the model card and retraining, health and metrics."""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import re
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from pydantic import ValidationError

from medbrief.card import ModelCard
from medbrief.engine import Analyzer, Article, Options
from medbrief.errors import InputError, InputTooLarge
from medbrief.ingest import Format, decode
from medbrief.record import AnalysisRecord, ErrorRecord
from medbrief.service.config import Settings
from medbrief.service.corrections import CorrectionStore, StoreFull
from medbrief.service.retrain import RetrainBusy, Retrainer, RetrainError
from medbrief.service.schemas import (
    JSON_LIKE_PATTERN,
    RAW_ARTICLE_SCHEMA,
    RAW_TEXT_PATTERN,
    SPACE_CHARS,
    AnalyzeRequest,
    BatchRequest,
    CorrectionIn,
    CorrectionList,
    CorrectionSaved,
    CorrectionSummary,
    ErrorBody,
    Health,
    Ready,
    RetrainRequest,
    RetrainResponse,
    SummaryResponse,
)
from medbrief.service.state import ModelHolder

RAW_FORMATS: dict[str, Format] = {
    "text/plain": "auto",
    "text/markdown": "markdown",
    "text/html": "html",
}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 413, 415, 422, 503)
}
ARTICLE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/AnalyzeRequest"}},
            **{kind: {"schema": RAW_ARTICLE_SCHEMA} for kind in RAW_FORMATS},
        },
    }
}
# The service holds a raw body to exactly the patterns its schema states.
RAW_TEXT = re.compile(RAW_TEXT_PATTERN)
JSON_LIKE = re.compile(JSON_LIKE_PATTERN)


class ServiceError(HTTPException):
    """An HTTP error with a machine-readable code beside its message."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(status_code=status, detail=detail)
        self.code = code


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.holder
    return holder


def get_analyzer(holder: Annotated[ModelHolder, Depends(get_holder)]) -> Analyzer:
    analyzer = holder.analyzer
    if analyzer is None:
        raise ServiceError(503, "not_ready", "no model is loaded yet; try again shortly")
    return analyzer


SettingsDep = Annotated[Settings, Depends(get_settings)]
AnalyzerDep = Annotated[Analyzer, Depends(get_analyzer)]
router = APIRouter()


async def article_request(
    request: Request,
    settings: SettingsDep,
    sentences: Annotated[int | None, Query(ge=0, description="raw bodies: summary length")] = None,
    words: Annotated[int | None, Query(ge=1, le=2000, description="raw bodies: words")] = None,
    id: Annotated[str | None, Query(max_length=500, description="raw bodies: article id")] = None,
    explain: Annotated[bool, Query(description="raw bodies: explain the labels")] = False,
) -> AnalyzeRequest:
    """The article of a request: a JSON AnalyzeRequest, or a raw text/markdown/html body."""
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if sentences is not None and sentences > settings.max_sentences:  # whatever the body
        raise ServiceError(
            422, "too_many_sentences",
            f"sentences: at most {settings.max_sentences} may be asked for",
        )
    body = await request.body()
    if kind in RAW_FORMATS:
        text = await asyncio.to_thread(_raw_article, body, kind, id)  # up to 2 MB of regex work
        fields: dict[str, Any] = {
            "text": text, "format": RAW_FORMATS[kind], "id": id, "explain": explain,
        }
        given = {"sentences": sentences, "words": words}
        fields.update({k: v for k, v in given.items() if v is not None})
        return AnalyzeRequest(**fields)
    if kind != "application/json":
        accepted = ", ".join(["application/json", *RAW_FORMATS])
        raise ServiceError(
            415, "unsupported_media_type",
            f"unsupported content type {kind!r}; send one of: {accepted}",
        )
    try:
        parsed = AnalyzeRequest.model_validate_json(body)
    except ValidationError as exc:
        raise ServiceError(422, "invalid_request", _describe(exc)) from exc
    return parsed


def _raw_article(body: bytes, kind: str, id: str | None) -> str:
    """The text of a raw body, refused unless it meets RAW_ARTICLE_SCHEMA."""
    try:
        text = decode(body, id or "input")  # refuses undecodable bytes and NUL characters
    except InputError as exc:
        raise ServiceError(422, "unreadable", str(exc)) from exc
    # Both patterns allow white space at the ends; matching what lies between is the same
    # test and avoids slow backtracking over long runs of white space.
    core = text.strip(SPACE_CHARS)
    if not RAW_TEXT.match(core):
        raise ServiceError(422, "empty", "the request body is empty (white space only)")
    if JSON_LIKE.match(core):
        raise ServiceError(
            422, "looks_like_json",
            f"the {kind} body looks like JSON, not an article; "
            "send a JSON request with Content-Type: application/json",
        )
    return text


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    more = exc.error_count() - 1
    return f"{where}: {first['msg']}" + (f" (+{more} more)" if more else "")


ArticleDep = Annotated[AnalyzeRequest, Depends(article_request)]


def _read(analyzer: Analyzer, req: AnalyzeRequest, settings: Settings) -> Article:
    if req.sentences > settings.max_sentences:
        raise ServiceError(
            422, "too_many_sentences",
            f"sentences: at most {settings.max_sentences} may be asked for",
        )
    try:
        return analyzer.read(req.text, req.format, req.id)
    except InputTooLarge as exc:
        code = "too_many_paragraphs" if exc.what == "paragraphs" else "too_large"
        raise ServiceError(413, code, str(exc)) from exc
    except InputError as exc:
        raise ServiceError(422, "unreadable", str(exc)) from exc


@router.post(
    "/v1/analyze", response_model=AnalysisRecord, responses=ERRORS, openapi_extra=ARTICLE_BODY,
    summary="Analyse one article: labels, topic breakdown, summary",
)
def analyze(req: ArticleDep, analyzer: AnalyzerDep, settings: SettingsDep) -> AnalysisRecord:
    read = _read(analyzer, req, settings)
    return analyzer.analyze_many([read], Options(req.sentences, req.words, req.explain))[0]


@router.post(
    "/v1/summarize", response_model=SummaryResponse, responses=ERRORS, openapi_extra=ARTICLE_BODY,
    summary="Summarise one article",
)
def summarize(req: ArticleDep, analyzer: AnalyzerDep, settings: SettingsDep) -> SummaryResponse:
    record = analyze(req, analyzer, settings)
    return SummaryResponse(summary=record.summary, model=record.model)


@router.post(
    "/v1/analyze/batch", response_model=list[AnalysisRecord | ErrorRecord], responses=ERRORS,
    summary="Analyse several articles; an unreadable one gives an error record",
)
def analyze_batch(
    batch: BatchRequest, analyzer: AnalyzerDep, settings: SettingsDep
) -> list[AnalysisRecord | ErrorRecord]:
    if len(batch.articles) > settings.max_batch:
        raise ServiceError(
            413, "batch_too_large", f"at most {settings.max_batch} articles per batch"
        )
    for req in batch.articles:
        if req.sentences > settings.max_sentences:  # a bad request, not a bad article
            raise ServiceError(
                422, "too_many_sentences",
                f"sentences: at most {settings.max_sentences} may be asked for",
            )
    out: list[AnalysisRecord | ErrorRecord] = []
    for req in batch.articles:
        try:
            read = _read(analyzer, req, settings)
        except ServiceError as exc:
            out.append(ErrorRecord(id=req.id, source=None, error=str(exc.detail)))
            continue
        out.append(analyzer.analyze_many([read], Options(req.sentences, req.words, req.explain))[0])
    return out


@router.get("/v1/model", response_model=ModelCard, responses=ERRORS, summary="The model card")
def model_card(analyzer: AnalyzerDep) -> ModelCard:
    return analyzer.model.card


@router.post(
    "/v1/model/retrain", response_model=RetrainResponse,
    responses={**ERRORS, 403: {"model": ErrorBody}, 409: {"model": ErrorBody}},
    summary="Retrain from labelled articles (or seeds/) and swap the model in",
    openapi_extra={"requestBody": {"required": False, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/RetrainRequest"}}}}},
)
async def retrain(
    request: Request,
    settings: SettingsDep,
    holder: Annotated[ModelHolder, Depends(get_holder)],
    x_admin_key: Annotated[str | None, Header()] = None,
) -> RetrainResponse:
    """The key is checked before the body is read: a caller without it learns nothing
    about what a valid body looks like."""
    expected = settings.admin_key.get_secret_value() if settings.admin_key else None
    if not expected:
        raise ServiceError(403, "retrain_disabled", "retraining is disabled: no admin key is set")
    if x_admin_key is None or not hmac.compare_digest(x_admin_key.encode(), expected.encode()):
        raise ServiceError(403, "forbidden", "a valid X-Admin-Key header is required")
    raw = await request.body()
    try:
        body = RetrainRequest.model_validate_json(raw) if raw.strip() else None
    except ValidationError as exc:
        raise ServiceError(422, "invalid_request", _describe(exc)) from exc
    retrainer: Retrainer = request.app.state.retrainer
    try:
        result = await retrainer.run(body.articles if body else None)
    except RetrainBusy as exc:
        raise ServiceError(409, "retrain_running", str(exc)) from exc
    except RetrainError as exc:
        raise ServiceError(422, "retrain_failed", str(exc)) from exc
    await asyncio.to_thread(holder.refresh)  # loading must not stall this worker's loop
    return result


def get_corrections(request: Request) -> CorrectionStore:
    store: CorrectionStore = request.app.state.corrections
    return store


CorrectionsDep = Annotated[CorrectionStore, Depends(get_corrections)]


@router.post(
    "/v1/corrections", response_model=CorrectionSaved, status_code=201,
    responses={**ERRORS, 507: {"model": ErrorBody}},
    summary="Save an article's corrected labels as a labelled article",
)
def save_correction(
    body: CorrectionIn, store: CorrectionsDep, settings: SettingsDep
) -> CorrectionSaved:
    if len(body.paragraphs) > settings.max_paragraphs:
        raise ServiceError(413, "too_many_paragraphs",
                           f"at most {settings.max_paragraphs} paragraphs per article")
    try:
        name = store.save([(p.text, p.label) for p in body.paragraphs], body.source)
    except StoreFull as exc:
        raise ServiceError(507, "corrections_full", str(exc)) from exc
    return CorrectionSaved(name=name, paragraphs=len(body.paragraphs),
                           corrections=len(store.names()))


@router.get("/v1/corrections", response_model=CorrectionList,
            summary="The corrected articles saved so far")
def list_corrections(store: CorrectionsDep) -> CorrectionList:
    return CorrectionList(folder=str(store.folder), corrections=[
        CorrectionSummary(name=name, paragraphs=len(texts), labels=dict(Counter(labels)))
        for name, texts, labels in store.articles()
    ])


@router.get("/v1/corrections/export", response_class=Response,
            summary="Every correction: JSON Lines (the training format) or Label Studio tasks")
def export_corrections(
    store: CorrectionsDep,
    format: Annotated[str, Query(pattern="^(jsonl|labelstudio)$")] = "jsonl",
) -> Response:
    if format == "jsonl":
        return Response(store.export("jsonl"), media_type="application/jsonl")
    return Response(json.dumps(store.export("labelstudio"), ensure_ascii=False),
                    media_type="application/json")


@router.get("/healthz", response_model=Health, summary="The process is up")
def healthz() -> Health:
    return Health()


@router.get("/readyz", response_model=Ready, responses={503: {"model": ErrorBody}},
            summary="A model is loaded")
def readyz(holder: Annotated[ModelHolder, Depends(get_holder)]) -> Ready:
    if holder.version is None:
        raise ServiceError(503, "not_ready", holder.last_error or "no model is loaded yet")
    return Ready(version=holder.version, worker=os.getpid())


@router.get("/metrics", response_class=Response, summary="Prometheus metrics")
def metrics() -> Response:
    """This process's metrics, or with several workers (PROMETHEUS_MULTIPROC_DIR set by
    `medbrief serve`) every worker's, added up."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index(request: Request) -> HTMLResponse:
    return HTMLResponse(
        request.app.state.page,
        headers={"Content-Security-Policy": request.app.state.page_policy},
    )
