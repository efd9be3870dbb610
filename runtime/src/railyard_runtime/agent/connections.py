"""Bounded connections on the agent's ports: uvicorn's h11 protocol with a deadline and a cap.

uvicorn arms no timer on a connection before it has answered a request, and keeps every
connection it accepts: clients that connect and never finish a request (idle, half-open,
slowloris) each hold a file descriptor until the process runs out, stops accepting, and the
load balancer's health check fails with everything else. Here:

- a client has ``request_timeout`` seconds to send a whole request, head and body, from the
  moment it connects or its previous answer was sent; then it is disconnected;
- each port keeps at most its cap of connections: a new one replaces the one that has been
  sending its request the longest (idle or slow), so a fresh health check always gets in.
  Connections whose request is being served (a long poll) are never dropped for a newcomer;
  when every one is, the newcomer gets 503.

uvicorn's own ``limit_concurrency`` is not used: it counts the idle connections too and then
answers every request 503, the health check included.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("railyard.agent")
_READING = (h11.IDLE, h11.SEND_BODY)


@dataclass
class ConnectionLimits:
    caps: dict[int, int]
    """Local port -> connections it keeps."""
    request_timeout: float
    open: dict[int | None, dict[H11Protocol, None]] = field(default_factory=dict)
    """Per port, in the order their current request began (oldest first)."""
    dropped: int = 0
    _reported_at: float = 0.0

    def note_dropped(self, why: str) -> None:
        self.dropped += 1
        now = time.monotonic()
        if now - self._reported_at >= 60:
            self._reported_at = now
            log.warning("dropped %d connection(s) so far (latest: %s)", self.dropped, why)


def _busy(cap: int) -> bytes:
    body = json.dumps(
        {"error": f"all {cap} connections of this port are serving requests; retry shortly"}
    ).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
        f"retry-after: 1\r\nconnection: close\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def guarded_protocol(limits: ConnectionLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol under ``limits`` (pass it as ``uvicorn.Config(http=...)``)."""

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _peers: dict[H11Protocol, None] | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            port = self.server[1] if self.server else None
            peers = limits.open.setdefault(port, {})
            cap = limits.caps.get(port)
            if cap is not None and len(peers) >= cap:
                oldest = next((p for p in peers if p.conn.their_state in _READING), None)
                if oldest is None:
                    limits.note_dropped(f"port {port} busy, newcomer refused")
                    transport.write(_busy(cap))
                    transport.close()
                    return
                limits.note_dropped(f"port {port} at its cap of {cap}, oldest idle replaced")
                oldest._drop()  # type: ignore[attr-defined]
            self._peers = peers
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._deadline is not None and self.conn.their_state not in _READING:
                self._deadline.cancel()  # the whole request is in: the app takes its time
                self._deadline = None

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state in _READING:
                self._arm()  # the next request gets a full deadline of its own

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
            self._deadline = self.loop.call_later(limits.request_timeout, self._expire)
            if self._peers is not None:
                self._peers.pop(self, None)
                self._peers[self] = None  # now the newest

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            if self._peers is not None:
                self._peers.pop(self, None)

        def _expire(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                limits.note_dropped(f"no whole request within {limits.request_timeout:g} s")
                self._drop()

        def _drop(self) -> None:
            self._disarm()  # out of the count now, not when the loop gets to it
            self.transport.abort()

    return GuardedH11Protocol
