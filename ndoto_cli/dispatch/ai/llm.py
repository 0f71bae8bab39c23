"""The only module that imports litellm, and only when a model is actually called.

``LITELLM_LOCAL_MODEL_COST_MAP`` is set first: without it litellm fetches its price list from
the internet at import. Provider keys come from the providers' usual environment variables
(OPENAI_API_KEY, ANTHROPIC_API_KEY, ...), never from the database.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from ndoto_cli.core.ai_rules import HANDOFF_PREFIX, HANDOFF_TOOL


def _litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def _auth(model: str, api_base: str | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if api_base:
        kwargs["api_base"] = api_base
        if model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
            kwargs["api_key"] = "ndoto-local"  # local OpenAI-compatible servers ask for no key
    return kwargs


@dataclass
class Answer:
    text: str | None
    handoff_reason: str | None
    model: str
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int


async def complete(
    *, model: str, api_base: str | None, messages: list[dict[str, Any]], temperature: float, timeout: float = 60.0
) -> Answer:
    """One chat completion with the handoff tool offered; raises when the model fails after retries."""
    litellm = _litellm()
    started = time.perf_counter()
    response = await litellm.acompletion(
        model=model, messages=messages, temperature=temperature, tools=[HANDOFF_TOOL], timeout=timeout,
        num_retries=2, drop_params=True, **_auth(model, api_base),
    )
    latency = (time.perf_counter() - started) * 1000
    choice = response.choices[0].message
    usage = getattr(response, "usage", None)
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    reason = None
    for call in getattr(choice, "tool_calls", None) or []:
        if call.function.name == "handoff_to_human":
            try:
                reason = json.loads(call.function.arguments or "{}").get("reason") or "the model asked for a human"
            except json.JSONDecodeError:
                reason = "the model asked for a human"
    text = (choice.content or "").strip() or None
    if reason is None and text and text.upper().startswith(HANDOFF_PREFIX):
        reason = text[len(HANDOFF_PREFIX):].strip() or "the model asked for a human"
        text = None
    return Answer(text, reason, model, latency, prompt_tokens, completion_tokens)


async def embed(*, model: str, api_base: str | None, texts: list[str]) -> list[list[float]]:
    litellm = _litellm()
    response = await litellm.aembedding(model=model, input=texts, **_auth(model, api_base))
    return [list(item["embedding"]) for item in response.data]
