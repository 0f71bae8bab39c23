"""Access tokens and signing secrets.

Tokens carry a readable prefix per owner kind (so a leaked token says what it opens) and are
stored only as a SHA-256 hash: a database dump holds no usable credential.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from ndoto_cli.core.models import TokenOwner

PREFIXES = {
    TokenOwner.user: "ndu_",
    TokenOwner.agent_bot: "ndb_",
    TokenOwner.platform_app: "ndp_",
}


def new_token(owner: TokenOwner) -> str:
    return PREFIXES[owner] + secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_signing_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def new_identifier(nbytes: int = 12) -> str:
    """Public identifiers (inbox identifier, contact source ids): URL-safe and unguessable."""
    return secrets.token_urlsafe(nbytes)
