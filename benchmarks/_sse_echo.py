"""The ceiling of ``widget.py``: a bare SSE fan-out on the same stack as ``ndoto serve``'s widget
streams (FastAPI, a streaming response, FastAPI's SSE encoder, uvicorn), with nothing behind it:
no database, no outbox, no auth, no keep-alive pings.
``POST /publish/{channel}`` hands a message to every stream of ``GET /sse/{channel}``.
Run: ``python benchmarks/_sse_echo.py PORT`` (``widget.py`` starts it)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.sse import format_sse_event

app = FastAPI()
channels: dict[str, set[asyncio.Queue[Any]]] = {}
counter = 0


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/sse/{channel}")
async def sse(channel: str) -> StreamingResponse:
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1000)
    channels.setdefault(channel, set()).add(queue)

    async def events() -> AsyncIterator[bytes]:
        try:
            yield format_sse_event(comment="connected")
            while True:
                event_id, item = await queue.get()
                yield format_sse_event(data_str=json.dumps(item), event="message", id=str(event_id))
        finally:
            channels[channel].discard(queue)

    return StreamingResponse(events(), media_type="text/event-stream")


@app.post("/publish/{channel}")
async def publish(channel: str, body: dict[str, Any]) -> dict[str, int]:
    global counter
    counter += 1
    item = {"type": "message", "message": {"id": counter, "content": body.get("content")}}
    for queue in list(channels.get(channel, ())):
        if not queue.full():
            queue.put_nowait((counter, item))
    return {"id": counter}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
