"""Locust load for `bench/load.py`: every user posts seed articles to /v1/analyze, no pause.

Run alone: `.venv/bin/locust -f bench/locustfile.py --headless -u 50 -r 50 -t 60s
--host http://127.0.0.1:8011`.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from locust import FastHttpUser, constant, task

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
ARTICLES = [
    {"text": path.read_text(encoding="utf-8"), "id": path.stem}
    for path in sorted([*SEEDS.glob("*.txt"), *SEEDS.glob("heldout/*.txt")])
]
# the echo app answers with the request itself; medbrief with an analysis record
EXPECT = "text" if os.environ.get("BENCH_ECHO") else "paragraphs"


class Reader(FastHttpUser):
    """A client that posts one seed article after another (closed loop, no think time)."""

    wait_time = constant(0)

    @task
    def analyze(self) -> None:
        article = random.choice(ARTICLES)
        with self.client.post(
            "/v1/analyze", json=article, name="/v1/analyze", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
            elif not (response.json() or {}).get(EXPECT):
                response.failure(f"no {EXPECT} in the answer")
