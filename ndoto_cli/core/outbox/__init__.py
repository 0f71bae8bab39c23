"""The outbox: every change's event and its deliveries, written in the change's own transaction.

``events`` appends an event and one delivery per receiving bot; ``payloads`` renders what a bot
receives (the product document's shapes, at the time of the change). The delivery queue that
the dispatcher works (claim, lease, record, failure handoff) is ``core.services.deliveries``.
"""
