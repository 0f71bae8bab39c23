"""The AI agent's core parts: its rules (``rules``: when it speaks, hands off, where its model
calls go) and its knowledge base (``kb``). The model calls themselves are the dispatcher's
(``dispatch.ai``): core imports no LLM library."""
