"""The Textual console, where humans work beside bots. ``app`` opens the database and shows the
inbox view; ``screens`` (the inbox view) and ``admin`` (bots, deliveries) each work with a ``session``; ``widgets`` are
the inbox view's regions; ``modals`` the dialogs; ``data`` every read and action, through core.
``chat`` is ``ndoto chat``, a customer's side. Talks to core only (import-linter checks it)."""
