"""The HTTP/1.1 protocol the service runs: uvicorn's h11 protocol with a deadline for a
request's head.

uvicorn times out a keep-alive connection between requests, but a connection that opens
and then sends its headers slowly, or never, is held for ever: enough of them use up the
worker's file handles and nobody else is served. Here every connection must deliver a
whole request head within ``MEDBRIEF_HEADER_TIMEOUT`` seconds (default 10) of opening, or
of the end of its previous response, or it is closed.
"""

from __future__ import annotations

import asyncio
import os

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_HEADER_TIMEOUT = 10.0


def header_timeout() -> float:
    """Seconds a connection has to deliver a request head (``MEDBRIEF_HEADER_TIMEOUT``,
    which `medbrief serve` sets from the service's settings for every worker)."""
    return float(os.environ.get("MEDBRIEF_HEADER_TIMEOUT", DEFAULT_HEADER_TIMEOUT))


class GuardedH11Protocol(H11Protocol):
    """h11 with a deadline for each request head (``header_timeout()`` seconds)."""

    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head has arrived whole
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm()  # the next request's head has its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_deadline = self.loop.call_later(header_timeout(), self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()
