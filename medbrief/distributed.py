"""Batch tagging on a Dask cluster: paths out to the workers, records back in input order.

Needs the ``dask`` extra (``pip install 'medbrief[dask]'``). Only file paths or URLs travel
to the workers, never article texts; each worker loads the model once, through a worker
plugin, and checks that its version is the one the client expects. Chunks of paths are
analysed by :func:`medbrief.batch.analyze_paths` and read by
:func:`medbrief.sources.read_source`, so records and error records are exactly those of the
single-machine path.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, Literal, TypeVar

from medbrief.batch import Output, analyze_paths, chunked, render
from medbrief.engine import Analyzer, Options
from medbrief.errors import MedbriefError, ModelError
from medbrief.model import CARD_FILE, POINTER, current_version, load_model
from medbrief.record import AnalysisRecord, ErrorRecord
from medbrief.resume import OutputFormat

try:
    from distributed import Client, Future, LocalCluster, get_worker
    from distributed.diagnostics.plugin import WorkerPlugin
    from distributed.scheduler import KilledWorker
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise MedbriefError(
        "running on a Dask cluster needs the dask extra: pip install 'medbrief[dask]'"
    ) from exc

__all__ = [
    "LOCAL",
    "ModelPlugin",
    "ModelShipment",
    "tag_outputs",
    "tag_sources",
]

log = logging.getLogger(__name__)

LOCAL = "local"
PLUGIN_NAME = "medbrief-model"
TASKS_PER_THREAD = 4
# Sources per task: enough that the scheduler's cost per task is small beside the analysis.
CHUNK = 64

Ship = Literal["auto", "path", "value"]
Record = AnalysisRecord | ErrorRecord
T = TypeVar("T")


@dataclass(frozen=True)
class ModelShipment:
    """How the model reaches the workers: a folder they can all read, or its files' bytes."""

    version: str
    model_dir: str | None = None
    files: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def by_path(cls, model_dir: Path) -> ModelShipment:
        """Workers load ``model_dir`` themselves: it must be readable at the same path."""
        return cls(_expected_version(model_dir), model_dir=str(Path(model_dir).resolve()))

    @classmethod
    def by_value(cls, model_dir: Path) -> ModelShipment:
        """The files of the current version travel once to each worker (a few MB)."""
        version = _expected_version(model_dir)
        folder = model_dir / version
        try:
            files = tuple(
                (p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()
            )
        except OSError as exc:
            raise ModelError(f"{folder}: cannot read model ({exc})") from exc
        return cls(version, files=files)

    def load(self) -> Analyzer:
        """Load the model on this machine and check that it is the expected version."""
        if self.model_dir is not None:
            model = load_model(Path(self.model_dir))
        else:
            root = Path(tempfile.mkdtemp(prefix="medbrief-model-"))
            try:
                folder = root / self.version
                folder.mkdir()
                for name, data in self.files:
                    (folder / name).write_bytes(data)
                (root / POINTER).write_text(self.version + "\n")
                model = load_model(root)
            finally:
                shutil.rmtree(root, ignore_errors=True)
        if model.version != self.version:
            where = self.model_dir or "the shipped model"
            raise ModelError(
                f"{where}: worker loaded model {model.version}, expected {self.version}"
            )
        return Analyzer(model)


def _expected_version(model_dir: Path) -> str:
    version = current_version(model_dir)
    if version is None or not (model_dir / version / CARD_FILE).is_file():
        raise ModelError(f"{model_dir}: no model here (train one with `medbrief train`)")
    return version


class ModelPlugin(WorkerPlugin):
    """Loads the model once per worker process, when the worker starts or joins."""

    name = PLUGIN_NAME

    def __init__(self, shipment: ModelShipment) -> None:
        self.shipment = shipment
        self.analyzer: Analyzer | None = None

    def setup(self, worker: Any = None) -> None:
        self.analyzer = self.shipment.load()
        log.info("worker %s loaded model %s", getattr(worker, "address", "?"),
                 self.shipment.version)


def _worker_analyzer(version: str) -> Analyzer:
    plugin = get_worker().plugins.get(PLUGIN_NAME)
    if not isinstance(plugin, ModelPlugin):
        raise ModelError("this worker has no medbrief model (the plugin was not registered)")
    if plugin.analyzer is None:
        plugin.setup()
    assert plugin.analyzer is not None
    if plugin.analyzer.model.version != version:
        raise ModelError(
            f"worker has model {plugin.analyzer.model.version}, expected {version}"
        )
    return plugin.analyzer


def _tag_chunk(sources: list[str], version: str, options: Options) -> list[Record]:
    """The task each worker runs: one chunk of paths or URLs in, their records out."""
    return analyze_paths(_worker_analyzer(version), sources, options)


def _write_chunk(
    sources: list[str], version: str, options: Options, fmt: OutputFormat
) -> list[Output]:
    """``_tag_chunk`` with the records written out on the worker: only text travels back."""
    return [render(record, fmt) for record in _tag_chunk(sources, version, options)]


def tag_sources(
    sources: Iterable[str | Path],
    model_dir: Path,
    options: Options,
    scheduler: str | Client = LOCAL,
    *,
    workers: int | None = None,
    ship: Ship = "auto",
    chunk: int = CHUNK,
    window: int | None = None,
) -> Iterator[Record]:
    """Records for every path or URL, in the order given, computed on a Dask cluster.

    ``scheduler`` is a running scheduler's address, a connected Client, or ``local`` to
    start a LocalCluster of ``workers`` single-threaded processes (default: all cores).
    ``ship`` says how the model reaches the workers: ``path`` (every worker reads
    ``model_dir``), ``value`` (its files travel once to each worker) or ``auto`` (path on
    a local cluster, value on any other). At most ``window`` chunks are in flight (default:
    four per worker thread); their records are yielded in input order as they arrive.
    """
    for records in _run(sources, model_dir, scheduler, workers, ship, chunk, window,
                        _tag_chunk, options):
        yield from records


def tag_outputs(
    sources: Iterable[str | Path],
    model_dir: Path,
    options: Options,
    fmt: OutputFormat,
    scheduler: str | Client = LOCAL,
    *,
    workers: int | None = None,
    ship: Ship = "auto",
    chunk: int = CHUNK,
    window: int | None = None,
) -> Iterator[Output]:
    """``tag_sources``, with each record written out on its worker in ``fmt`` (what
    ``medbrief tag --scheduler`` writes)."""
    for outputs in _run(sources, model_dir, scheduler, workers, ship, chunk, window,
                        _write_chunk, options, fmt):
        yield from outputs


def _run(
    sources: Iterable[str | Path],
    model_dir: Path,
    scheduler: str | Client,
    workers: int | None,
    ship: Ship,
    chunk: int,
    window: int | None,
    task: Callable[..., list[T]],
    *task_args: object,
) -> Iterator[list[T]]:
    """``task(chunk, model_version, *task_args)`` of every chunk of sources, in order, on
    the cluster ``tag_sources`` describes (set up, given the model, then streamed)."""
    chunks = chunked(map(str, sources), chunk)
    first = next(chunks, None)
    if first is None:
        return
    local = isinstance(scheduler, str) and scheduler == LOCAL
    if ship == "auto":
        ship = "path" if local else "value"
    shipment = (ModelShipment.by_path if ship == "path" else ModelShipment.by_value)(model_dir)
    with ExitStack() as stack:
        stack.enter_context(_dask_logs_follow_root())
        if isinstance(scheduler, Client):
            client = scheduler
        elif local:
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                    processes=True, dashboard_address="127.0.0.1:0",
                )
            )
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(scheduler))
            except (OSError, TimeoutError, ValueError) as exc:  # ValueError: a bad address
                raise MedbriefError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from exc
        _register(client, shipment)
        threads = sum(client.nthreads().values()) or 1
        yield from _stream(client, chain([first], chunks), shipment.version,
                           window or TASKS_PER_THREAD * threads, task, task_args)


@contextmanager
def _dask_logs_follow_root() -> Iterator[None]:
    """Dask logs its progress at INFO; show it only when the root logger would show INFO."""
    dask_log = logging.getLogger("distributed")
    level = dask_log.level
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        dask_log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        dask_log.setLevel(level)


def _register(client: Client, shipment: ModelShipment) -> None:
    """Install the model plugin on every worker (and every worker that joins later)."""
    replies = client.register_plugin(ModelPlugin(shipment), name=PLUGIN_NAME)
    for worker, reply in (replies or {}).items():
        if isinstance(reply, dict) and reply.get("status") == "error":
            raise ModelError(f"worker {worker} cannot load the model: {reply.get('exception')}")


def _stream(
    client: Client, chunks: Iterable[list[str]], version: str, window: int,
    task: Callable[..., list[T]], task_args: tuple[object, ...],
) -> Iterator[list[T]]:
    """Submit chunks with at most ``window`` in flight; yield their results in order."""
    run = uuid.uuid4().hex
    pending: deque[Future[list[T]]] = deque()
    try:
        for number, part in enumerate(chunks):
            pending.append(
                client.submit(task, part, version, *task_args,
                              key=f"medbrief-tag-{run}-{number}")
            )
            if len(pending) >= window:
                yield _take(pending)
        while pending:
            yield _take(pending)
    finally:
        for future in pending:
            future.cancel()


def _take(pending: deque[Future[list[T]]]) -> list[T]:
    future = pending.popleft()
    try:
        results: list[T] = future.result()
    except KilledWorker as exc:
        raise MedbriefError(
            f"a chunk of articles killed every worker that tried it ({exc}); "
            "see the workers' logs"
        ) from exc
    future.release()
    return results
