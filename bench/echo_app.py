"""A minimal FastAPI app with the same route as the service, echoing the JSON it gets.

`bench/load.py` runs the same locust load against it and against `medbrief serve`: the ratio
of requests/s shows what the analysis itself costs over FastAPI + uvicorn + locust.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

app = FastAPI()


@app.post("/v1/analyze")
async def echo(body: dict[str, Any]) -> dict[str, Any]:
    return body
