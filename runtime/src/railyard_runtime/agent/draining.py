"""The agent's uvicorn server: the first SIGTERM drains, a second one exits at once."""

from __future__ import annotations

import asyncio

import uvicorn

from railyard_runtime.agent.runner import Runner


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, runner: Runner, grace_seconds: float):
        super().__init__(config)
        self.runner = runner
        self.grace_seconds = grace_seconds
        self._draining: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets=None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig, frame) -> None:
        if self._draining is not None or self._loop is None:
            return super().handle_exit(sig, frame)  # second signal: stop now
        self._loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        self._draining = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        await self.runner.drain("the host is shutting down (drain); submit again")
        await asyncio.sleep(self.grace_seconds)  # let waiting clients read the news
        self.should_exit = True
