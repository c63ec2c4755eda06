"""The service as `medbrief serve` runs it, in its own process: several workers, the
deadline for a request's headers, metrics added up across workers."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SEEDS
from tests.test_page import free_port

pytestmark = pytest.mark.slow
ARTICLE = (SEEDS / "003_d68301345416b06b.txt").read_text()


@pytest.fixture(scope="module")
def served(model_dir: Path) -> Iterator[str]:
    """`medbrief serve --workers 2` with a one-second header deadline."""
    port = free_port()
    env = {**os.environ, "MEDBRIEF_TRAIN_IF_MISSING": "0", "MEDBRIEF_HEADER_TIMEOUT": "1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-c", "from medbrief.cli import main; main()", "serve", "--model",
         str(model_dir), "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 90
        while len(workers) < 2 and time.monotonic() < deadline:
            try:
                answer = httpx.get(f"{url}/readyz", headers={"connection": "close"})
                if answer.status_code == 200:
                    workers.add(answer.json()["worker"])
            except httpx.TransportError:
                time.sleep(0.1)
        if len(workers) < 2:
            pytest.fail("both workers did not become ready")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_metrics_add_up_every_workers_requests(served: str) -> None:
    def analyzed(metrics: str) -> float:
        pattern = r'medbrief_requests_total\{method="POST",route="/v1/analyze",status="200"\} (\S+)'
        found = re.search(pattern, metrics)
        return float(found.group(1)) if found else 0.0

    before = analyzed(httpx.get(f"{served}/metrics").text)
    for _ in range(12):  # new connections: the kernel spreads them over both workers
        answer = httpx.post(f"{served}/v1/analyze", json={"text": ARTICLE},
                            headers={"connection": "close"})
        assert answer.status_code == 200
    for _ in range(4):  # whichever worker answers the scrape, the count is the whole
        scraped = httpx.get(f"{served}/metrics", headers={"connection": "close"}).text
        assert analyzed(scraped) == before + 12


def test_connections_that_never_finish_their_headers_are_closed(served: str) -> None:
    port = int(served.rsplit(":", 1)[1])
    idle = []
    for _ in range(50):
        connection = socket.create_connection(("127.0.0.1", port))
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
        idle.append(connection)
    started = time.monotonic()
    assert httpx.get(f"{served}/healthz").status_code == 200, "others are still served"
    for connection in idle:
        connection.settimeout(10)
        assert connection.recv(1024) == b"", "closed by the server"
        connection.close()
    assert time.monotonic() - started < 10


def test_each_request_logs_one_json_line(model_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "MEDBRIEF_TRAIN_IF_MISSING": "0"}
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-c", "from medbrief.cli import main; main()", "serve", "--model",
             str(model_dir), "--port", str(port)],
            env=env, stdout=handle, stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        httpx.get(f"{url}/healthz", headers={"x-request-id": "one-line-check"})
        time.sleep(0.3)
    finally:
        process.terminate()
        process.wait(timeout=20)
    lines = [line for line in log.read_text().splitlines() if "/healthz" in line]
    assert len(lines) == 1 and '"request_id": "one-line-check"' in lines[0]
