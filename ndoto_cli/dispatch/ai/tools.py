"""Calling an AI agent's HTTP tools: the request core builds, sent through the address guard.

One :class:`ToolRunner` per transport (or per ``bots try``/``tools test``) keeps one guarded httpx
client: every connection is resolved, checked and pinned by ``pinned.GuardedBackend``, redirects
are not followed (a redirect is how an allowed host would hand the request to a refused one),
the environment's proxies and credentials are not used, and the answer is read up to a limit.

What goes back to the model is the tool's ``response_path`` of a JSON answer (or the text), cut
to ``max_chars``, with the tool's secret removed (a service may echo its request). A failure
(refused, timed out, 4xx/5xx, bad arguments) goes back as a short error the model can explain to
the customer, or act on by handing off.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from ndoto_cli.core.ai import tool_calls
from ndoto_cli.core.ai.rules import redact
from ndoto_cli.core.models import BotTool
from ndoto_cli.dispatch.ai.pinned import GuardedBackend, GuardedTransport, refusal_in

MAX_BODY = 1_000_000  # bytes read of an answer


@dataclass
class ToolResult:
    tool: str
    arguments: dict[str, Any]
    ok: bool
    status_code: int | None = None
    duration_ms: float = 0.0
    shown: str = ""  # what the model reads
    error: str | None = None
    request: dict[str, Any] | None = None  # the request, secret masked (for humans)
    call_id: str | None = None
    raw: Any = field(default=None, repr=False)

    def for_model(self) -> str:
        if self.ok:
            return self.shown
        told = json.dumps({"error": self.error, "status": self.status_code})
        if self.request is None:  # never sent: the call itself was wrong
            return told + " Correct the call (see the tool's parameters) or answer without it."
        return told + " Tell the customer you cannot check this right now, or hand off to a human."

    def line(self) -> str:
        """One line for the conversation's private note and the terminal."""
        args = json.dumps(self.arguments, ensure_ascii=False)
        if len(args) > 200:
            args = args[:197] + "..."
        outcome = f"{self.status_code or '-'} in {self.duration_ms:.0f} ms"
        if not self.ok:
            outcome += f", failed: {self.error}"
        return f"{self.tool}({args}) -> {outcome}"


class ToolRunner:
    """Calls tools. ``doubles`` (``bots eval``): tools answered by a canned ``{status, body}``
    instead of their endpoint; the model's arguments are still checked and the request built, so
    a call the real tool would refuse for its arguments fails the same way (nothing is sent)."""

    def __init__(self, *, allow_private: bool, allowlist: tuple[str, ...], doubles: dict[str, dict[str, Any]] | None = None) -> None:
        self.doubles = doubles or {}
        self.backend = GuardedBackend(allow_private=allow_private, allowlist=allowlist)
        self._client = httpx.AsyncClient(transport=GuardedTransport(self.backend), trust_env=False, follow_redirects=False)

    async def close(self) -> None:
        await self._client.aclose()

    async def call(self, tool: BotTool, arguments: str | dict[str, Any] | None, *, call_id: str | None = None) -> ToolResult:
        started = time.perf_counter()
        secrets: list[str | None] = list(tool_calls.secrets_of(tool))
        try:
            args = tool_calls.parse_arguments(arguments)
        except tool_calls.BadArguments as exc:
            return ToolResult(tool.name, {"raw": str(arguments)[:200]}, False, error=exc.message, call_id=call_id)
        try:
            request = tool_calls.build_request(tool, args)
        except tool_calls.BadArguments as exc:
            return ToolResult(tool.name, args, False, error=f"bad arguments: {exc.message}", call_id=call_id)
        result = ToolResult(tool.name, args, False, request=request.shown(), call_id=call_id)
        try:
            status, body = await asyncio.wait_for(self._answer(tool, request), tool.timeout)
        except TimeoutError:
            result.error = f"no answer within {tool.timeout:g} s"
        except httpx.HTTPError as exc:
            refused = refusal_in(exc)
            result.error = f"refused: {refused}" if refused is not None else f"{type(exc).__name__}: {exc}"[:300]
        except Exception as exc:  # noqa: BLE001 - an unsendable request (a URL too long, a body httpx cannot encode): a failed call, never a failed turn
            result.error = f"the request could not be sent: {type(exc).__name__}: {exc}"[:300]
        else:
            result.status_code = status
            text = body.decode("utf-8", "replace")
            shown: Any = text
            try:
                data = json.loads(text) if text.strip() else None
            except json.JSONDecodeError:
                data = None
            else:
                shown = tool_calls.pick(data, tool.response_path) if tool.response_path else data
                if tool.response_path and shown is None:
                    shown = f"(the answer has nothing at {tool.response_path})"
            result.raw = data
            rendered = shown if isinstance(shown, str) else json.dumps(shown, ensure_ascii=False)
            rendered = redact(rendered, secrets)
            if len(rendered) > tool.max_chars:
                rendered = rendered[: tool.max_chars] + " [cut]"
            result.shown = rendered
            result.ok = 200 <= status < 300
            if not result.ok:
                result.error = f"HTTP {status}: {redact(text, secrets)[:200]}"
        result.duration_ms = (time.perf_counter() - started) * 1000
        if result.error:
            result.error = redact(result.error, secrets)
        return result

    async def _answer(self, tool: BotTool, request: tool_calls.Request) -> tuple[int, bytes]:
        double = self.doubles.get(tool.name)
        if double is None:
            return await self._send(request)
        body = double["body"]
        return double["status"], (body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)).encode()

    async def _send(self, request: tool_calls.Request) -> tuple[int, bytes]:
        async with self._client.stream(
            request.method, request.url, headers=request.headers, json=request.json, timeout=None,
        ) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= MAX_BODY:
                    break
            return response.status_code, b"".join(chunks)[:MAX_BODY]
