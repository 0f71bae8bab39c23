"""The REST API (FastAPI), started by ``ndoto serve``: ``app`` (the factory, body limits, the
dispatcher in its lifespan), ``route`` (what every request goes through: the caller check before
the body, one body parser), ``deps`` (the caller's role in each endpoint's signature), ``routes/``
(account, platform and public APIs), ``schemas``/``responses`` (the OpenAPI document).

Imports core and dispatch; every rule is core's.
"""
