"""The one domain core: every rule, once. The CLI, the console, the API and the dispatcher get the
same answers and the same errors from here.

    models, settings, errors, limits, addresses   the schema; settings; typed errors; input and address rules
    db/          the storage layer: Database (group-committing writer), inline SQLite driver,
                 raw statements of the hot path, migrations on open, online backups
    outbox/      every change's event and deliveries in its own transaction (events, payloads),
                 and the delivery queue the dispatcher works (queue: claim, lease, record, hand off)
    services/    every state change, keyword-only over an injected session
    routing      ownership: who answers a conversation, who hears an event, what a bot may do
    ai/          the AI agent's rules and knowledge base (ingest, store, search)
    views, queries   the public JSON shapes and plain-text presenters; read queries

Imports no front-end, HTTP or LLM library (import-linter contracts in pyproject.toml).
"""
