"""Behind a load balancer: per-address limits count each customer, only when the balancer is trusted."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.serve_process import start_serve

pytestmark = pytest.mark.once("how the server reads client addresses, the same on any database")


def _statuses(base: str, forwarded_for: str, n: int) -> list[int]:
    headers = {"api_access_token": "not-a-token", "X-Forwarded-For": forwarded_for}
    return [httpx.get(f"{base}/api/v1/accounts/1/inboxes", headers=headers, timeout=10).status_code for _ in range(n)]


@pytest.mark.parametrize("trusted", [True, False])
def test_forwarded_addresses_count_only_from_a_trusted_balancer(tmp_path: Path, trusted: bool) -> None:
    env = {"NDOTO_AUTH_FAILURES_PER_MINUTE": "3"}
    if trusted:
        env["NDOTO_FORWARDED_ALLOW_IPS"] = "127.0.0.1"
    served = start_serve(tmp_path / "home", extra_env=env)
    try:
        # One customer (TEST-NET-3 addresses: only ever a header here) fails three times: slowed.
        assert _statuses(served.base_url, "203.0.113.9", 4) == [401, 401, 401, 429]
        # Another customer behind the same balancer: its own count when the balancer is trusted;
        # otherwise both are the balancer's one address, already slowed.
        assert _statuses(served.base_url, "203.0.113.10", 1) == ([401] if trusted else [429])
    finally:
        served.stop()
