"""The only module that imports litellm, and only when a model is actually called.

``LITELLM_LOCAL_MODEL_COST_MAP`` is set first: without it litellm fetches its price list from
the internet at import. Where a call goes and with which credential is core's rule
(``ai_rules.endpoint``): a bot with its own ``api_base`` is called through Ndoto's own client
(``dispatch.ai.pinned``: address guard, pinned connection, the bot's own key or none), so the
server's provider keys (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...) go only to the endpoints the
operator configured or to the providers' own.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from ndoto_cli.core.addresses import REFUSAL_HINT
from ndoto_cli.core.ai.rules import HANDOFF_PREFIX, HANDOFF_TOOL, LOCAL_DEFAULT_PROVIDERS, Endpoint
from ndoto_cli.dispatch.ai.pinned import EndpointRefused


def _litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


class Clients:
    """One guarded OpenAI client per (bot endpoint, key), reused across turns; closed at stop."""

    def __init__(self, *, allow_private: bool, allowlist: tuple[str, ...]) -> None:
        self.allow_private = allow_private
        self.allowlist = allowlist
        self._clients: dict[tuple[str, str | None], Any] = {}
        self.backends: list[Any] = []  # what each client dialled (tests read it)

    def get(self, endpoint: Endpoint, timeout: float) -> Any:
        key = (endpoint.api_base or "", endpoint.api_key)
        client = self._clients.get(key)
        if client is None:
            from ndoto_cli.dispatch.ai.pinned import own_endpoint_client

            if len(self._clients) > 256:
                self._clients.clear()
            client, backend = own_endpoint_client(
                api_base=endpoint.api_base or "", api_key=endpoint.api_key, allow_private=self.allow_private,
                allowlist=self.allowlist, timeout=timeout,
            )
            self._clients[key] = client
            self.backends.append(backend)
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


def _server_call(litellm: Any, endpoint: Endpoint, *, allow_private: bool) -> dict[str, Any]:
    """Arguments for a call on the server's configuration (operator's api base or the provider's)."""
    kwargs: dict[str, Any] = {}
    if endpoint.api_base:
        kwargs["api_base"] = endpoint.api_base
        if endpoint.model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
            kwargs["api_key"] = "ndoto-local"  # local OpenAI-compatible servers ask for no key
        return kwargs
    try:
        provider = litellm.get_llm_provider(model=endpoint.model)[1]
    except Exception:  # noqa: BLE001 - litellm's own error follows on the call
        provider = None
    if provider in LOCAL_DEFAULT_PROVIDERS and not allow_private:
        raise EndpointRefused(
            f"model {endpoint.model} calls a local server by default: give the bot its own --api-base ({REFUSAL_HINT})"
        )
    return kwargs


@dataclass
class Answer:
    text: str | None
    handoff_reason: str | None
    model: str
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    tool_calls: list[ToolCallAsked] = field(default_factory=list)  # the bot's own tools the model called

    def assistant_message(self) -> dict[str, Any]:
        """The model's turn as a chat message, for the next round after its tools ran."""
        return {
            "role": "assistant", "content": self.text,
            "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in self.tool_calls
            ],
        }


@dataclass
class ToolCallAsked:
    id: str
    name: str
    arguments: str


async def complete(
    *, endpoint: Endpoint, clients: Clients, messages: list[dict[str, Any]], temperature: float, timeout: float = 60.0,
    tools: list[dict[str, Any]] | None = None, offer_handoff: bool = True,
) -> Answer:
    """One chat completion with the handoff tool (and the bot's own ``tools``) offered; raises when
    the model fails after retries. ``offer_handoff`` False: a plain completion (``bots eval``'s judge)."""
    litellm = _litellm()
    started = time.perf_counter()
    if endpoint.own:
        kwargs: dict[str, Any] = {"client": clients.get(endpoint, timeout)}
    else:
        kwargs = _server_call(litellm, endpoint, allow_private=clients.allow_private)
    offered = [HANDOFF_TOOL, *(tools or [])] if offer_handoff else list(tools or [])
    if offered:
        kwargs["tools"] = offered
    response = await litellm.acompletion(
        model=endpoint.model, messages=messages, temperature=temperature, timeout=timeout,
        num_retries=2, drop_params=True, **kwargs,
    )
    latency = (time.perf_counter() - started) * 1000
    choice = response.choices[0].message
    usage = getattr(response, "usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    reason = None
    asked: list[ToolCallAsked] = []
    for i, call in enumerate(getattr(choice, "tool_calls", None) or []):
        if call.function.name != "handoff_to_human":
            asked.append(ToolCallAsked(call.id or f"call_{i}", call.function.name or "", call.function.arguments or "{}"))
            continue
        if call.function.name == "handoff_to_human":
            try:
                reason = json.loads(call.function.arguments or "{}").get("reason") or "the model asked for a human"
            except json.JSONDecodeError:
                reason = "the model asked for a human"
    text = (choice.content or "").strip() or None
    if reason is None and text and text.upper().startswith(HANDOFF_PREFIX):
        reason = text[len(HANDOFF_PREFIX):].strip() or "the model asked for a human"
        text = None
    return Answer(text, reason, endpoint.model, latency, prompt_tokens, completion_tokens, asked)


async def embed(*, model: str, api_base: str | None, texts: list[str]) -> list[list[float]]:
    """Embeddings with the server's embedding model, at the server's endpoint (never a bot's)."""
    litellm = _litellm()
    endpoint = Endpoint(model, api_base, False)
    kwargs = _server_call(litellm, endpoint, allow_private=True)  # the operator chose this model and base
    response = await litellm.aembedding(model=model, input=texts, **kwargs)
    return [list(item["embedding"]) for item in response.data]
