"""The FastAPI application: lifespan, middleware, error shapes, routes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from prometheus_client import Counter, Gauge, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medbrief import locations
from medbrief.record import AnalysisRecord
from medbrief.service.api import ServiceError, router
from medbrief.service.config import Settings
from medbrief.service.corrections import CorrectionStore
from medbrief.service.retrain import Retrainer, RetrainError
from medbrief.service.schemas import AnalyzeRequest, RetrainRequest
from medbrief.service.state import ModelHolder

log = logging.getLogger("medbrief.service")
REQUESTS = Counter("medbrief_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "medbrief_request_seconds", "Request latency", ["route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
MODEL_VERSION = Gauge(
    "medbrief_model_info", "The model version served", ["version"], multiprocess_mode="liveall"
)
# A client's X-Request-ID is echoed and logged only if it looks like an id; else a new one.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Methods counted by name; any other (made up) method is counted as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class BodyLimit:
    """Reads a request's whole body before the app sees it, refusing with 413 a body over
    the byte limit, whether declared (Content-Length) or streamed (chunked), and with 408
    one that does not arrive whole within ``timeout`` seconds; the app then gets the body
    in one piece."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(self.limit, send)
            return
        chunks: list[bytes] = []
        size = 0
        deadline = asyncio.get_running_loop().time() + self.timeout
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                await _refuse(408, "timeout", f"the body did not arrive within "
                              f"{self.timeout:g} seconds", send)
                return
            if message["type"] == "http.disconnect":
                return  # the client went away: nothing to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await _too_large(self.limit, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(limit: int, send: Send) -> None:
    await _refuse(413, "too_large", f"request body over the limit of {limit} bytes", send)


async def _refuse(status: int, code: str, detail: str, send: Send) -> None:
    body = json.dumps({"detail": detail, "code": code}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings | None = None) -> FastAPI:
    """A configured application; heavy work happens in its lifespan, not here."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        _configure_logging()
        model_dir = settings.model_dir or locations.model_dir()
        # Without a model folder chosen, the packaged model serves until one is trained.
        fallback = locations.packaged_model() if settings.model_dir is None else None
        holder = ModelHolder(
            model_dir, settings.max_body_bytes, settings.max_paragraphs, fallback=fallback
        )
        app.state.settings = settings
        app.state.holder = holder
        corrections = settings.corrections_dir or locations.corrections_dir()
        app.state.corrections = CorrectionStore(corrections, settings.max_corrections)
        app.state.retrainer = Retrainer(
            settings.data_dir or locations.data_dir(), model_dir, corrections
        )
        page = (files("medbrief.service") / "static" / "index.html").read_text(encoding="utf-8")
        app.state.page = page
        app.state.page_policy = page_policy(page)
        await asyncio.to_thread(holder.refresh)
        tasks = [asyncio.create_task(holder.watch(settings.reload_seconds))]
        if holder.analyzer is None and settings.train_if_missing:
            tasks.append(asyncio.create_task(_first_model(app.state.retrainer, holder)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task

    # /docs and /redoc served with their scripts and styles from the fastapi-offline package,
    # not a CDN: they work with no network.
    app = FastAPIOffline(
        title="medbrief",
        version="0.1.0",
        summary="Topic labels and boilerplate-free summaries for health news.",
        lifespan=lifespan,
    )
    app.include_router(router)
    _install_handlers(app)
    _install_observability(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes, timeout=settings.body_timeout)
    _document_raw_bodies(app, settings)
    return app


def page_policy(page: str) -> str:
    """The page's Content-Security-Policy: its own inline script and style (by hash), calls
    to this service, nothing else; never framed."""

    def hashes(tag: str) -> str:
        found = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.DOTALL)
        return " ".join(
            f"'sha256-{base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()}'"
            for code in found
        )

    return (
        f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )


def _configure_logging() -> None:
    """One plain line per record on stderr for medbrief's loggers, unless already set up."""
    logger = logging.getLogger("medbrief")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # one line per record, not a second through the root


async def _first_model(retrainer: Retrainer, holder: ModelHolder) -> None:
    log.info("no model in %s: training one from %s", holder.model_dir, retrainer.data_dir)
    try:
        await retrainer.run(None)
    except RetrainError as exc:
        holder.last_error = f"training the first model failed: {exc}"
        log.error(holder.last_error)
        return
    await asyncio.to_thread(holder.refresh)


def _error(
    status: int, code: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return _error(exc.status_code, exc.code, str(exc.detail))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Keep the exception's headers: a 405 must carry Allow (RFC 9110).
        return _error(exc.status_code, f"http_{exc.status_code}", str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"]) or "body"
        return _error(422, "invalid_request", f"{where}: {first['msg']}")


def _install_observability(app: FastAPI) -> None:
    @app.middleware("http")
    async def observe(request: Request, call_next: Any) -> Any:
        given = request.headers.get("x-request-id", "")
        request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        started = time.perf_counter()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            response.headers["X-Request-ID"] = request_id
            response.headers.update(SECURITY_HEADERS)
            return response
        finally:
            seconds = time.perf_counter() - started
            route = getattr(request.scope.get("route"), "path", "unmatched")
            method = request.method if request.method in METHODS else "other"
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(route).observe(seconds)
            holder: ModelHolder | None = getattr(request.app.state, "holder", None)
            if holder is not None and holder.version:
                MODEL_VERSION.clear()
                MODEL_VERSION.labels(holder.version).set(1)
            log.info(json.dumps({
                "request_id": request_id, "method": method, "path": request.url.path[:200],
                "status": status, "ms": round(seconds * 1000, 2),
                "model": holder.version if holder else None,
            }))


def _document_raw_bodies(app: FastAPI, settings: Settings) -> None:
    """Put AnalyzeRequest in the OpenAPI components: the article routes refer to it.

    The limits that come from settings (summary sentences, batch size) are written into
    the document too, so a client can see them.
    """
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (AnalyzeRequest, AnalysisRecord, RetrainRequest):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in model_schema.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components.setdefault(model.__name__, model_schema)
        _set_limits(schema, settings)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _set_limits(schema: dict[str, Any], settings: Settings) -> None:
    components = schema["components"]["schemas"]
    components["AnalyzeRequest"]["properties"]["sentences"]["maximum"] = settings.max_sentences
    components["BatchRequest"]["properties"]["articles"]["maxItems"] = settings.max_batch
    for operation in (op for item in schema["paths"].values() for op in item.values()):
        for parameter in operation.get("parameters", []):
            if parameter["name"] == "sentences":
                for branch in parameter["schema"].get("anyOf", [parameter["schema"]]):
                    if branch.get("type") == "integer":
                        branch["maximum"] = settings.max_sentences


app = create_app()
