"""Standard Webhooks signatures (https://www.standardwebhooks.com): ``v1,<base64 HMAC-SHA256>`` of
``"{webhook-id}.{webhook-timestamp}.{body}"`` keyed with the bot's ``whsec_`` secret."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac


@functools.lru_cache(maxsize=1024)
def secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    message = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")
