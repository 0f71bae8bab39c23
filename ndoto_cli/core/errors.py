"""Domain errors: every front end maps them the same way (CLI exit code, HTTP status, TUI toast)."""

from __future__ import annotations


class NdotoError(Exception):
    """Base of all domain errors; ``code`` is stable and machine-readable."""

    code = "error"
    http_status = 422

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.hint = hint


class NotFound(NdotoError):
    code = "not_found"
    http_status = 404


class Invalid(NdotoError):
    code = "invalid"
    http_status = 422


class Forbidden(NdotoError):
    code = "forbidden"
    http_status = 403


class Unauthorized(NdotoError):
    code = "unauthorized"
    http_status = 401


class Conflict(NdotoError):
    code = "conflict"
    http_status = 422


class NameTaken(Conflict):
    """A name that must be unique in its account (bots, inboxes) is taken: 409."""

    code = "name_taken"
    http_status = 409


class TooManyRequests(NdotoError):
    """A rate limit was reached; ``retry_after`` says in how many seconds to try again."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after: float, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, field=field, hint=hint)
        self.retry_after = max(1, int(retry_after + 0.999))
