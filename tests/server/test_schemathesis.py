"""Generated requests against the real app's OpenAPI document, with each role's token.

schemathesis builds requests from ``/openapi.json`` (its example, coverage and fuzzing phases:
boundary values, wrong types, missing fields, unknown methods) and sends them in-process, once per
role (administrator, agent, bot, platform app, no token). Two checks only: no answer is a 5xx,
and every answer has its documented shape. The seed is fixed, so a run is reproducible; the
totals are printed and the run fails if fewer than 1,000 cases were made.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import HealthCheck
from schemathesis.specs.openapi.checks import response_schema_conformance

from ndoto_cli.core.settings import Settings
from ndoto_cli.server.app import create_app
from tests import postgres
from tests.server.conftest import Seed

# On PostgreSQL (the suite's second pass) the two roles that write the most: every role again
# would add two minutes for what the first pass already covers.
ROLES = ["administrator", "bot"] if postgres.selected() else ["administrator", "agent", "bot", "platform", "none"]
MAX_EXAMPLES = 5  # fuzzing cases per operation and role, beside the example and coverage phases
MIN_CASES = 1_000
CHECKS = [not_a_server_error, response_schema_conformance]
STATS: collections.Counter[Any] = collections.Counter()
SERVER_ERRORS: list[str] = []
STARTED = time.perf_counter()


@pytest.fixture(params=ROLES)
def role(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def token(role: str, seed: Seed) -> str | None:
    return {"administrator": seed.world.admin_token, "agent": seed.world.agent_token, "bot": seed.world.bot_token,
            "platform": seed.platform_token, "none": None}[role]


@pytest.fixture(autouse=True)
def _no_name_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    """A generated case may give an AI bot a tool at a made-up domain or a public address and
    then test it: the guarded client must never ask DNS or dial out (traffic stays on this
    machine). Every name and address is refused before any connection."""
    from ndoto_cli.dispatch.ai import pinned

    async def resolve(self: Any, host: str, port: int) -> list[str]:
        raise pinned.Refused(f"{host}: no lookups or connections in this test")

    monkeypatch.setattr(pinned.GuardedBackend, "_resolve", resolve)


@pytest.fixture
def api_schema(seed: Seed, ndoto_home: Path, role: str) -> Any:
    # Every case comes from one client address: lift the rate limits, which have tests of their own.
    settings = Settings(home=ndoto_home, auth_failures_per_minute=100_000, public_requests_per_minute=1_000_000,
                        conversation_messages_per_minute=100_000, public_messages_per_minute=100_000)
    app = create_app(settings, start_dispatcher=False)  # not started: schemathesis runs its lifespan
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    schema.config.generation.update(max_examples=MAX_EXAMPLES, no_shrink=True, database="none")
    schema.config.update(suppress_health_check=[HealthCheck.all])
    schema.config.seed = 20261201
    schema.config.update(parameters={"account_id": seed.world.account_id})  # else nearly every case is "not your account"
    return schema


generated = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(scope="module", autouse=True)
def _totals() -> Any:
    yield
    total = sum(n for key, n in STATS.items() if key[0] == "case")
    by_role = {r: sum(n for key, n in STATS.items() if key[0] == "case" and key[1] == r) for r in ROLES}
    statuses = dict(sorted((key[1], n) for key, n in STATS.items() if key[0] == "status"))
    print(f"\nschemathesis: {total} cases, {len(SERVER_ERRORS)} server errors, {time.perf_counter() - STARTED:.0f} s; "
          f"per role {by_role}; statuses {statuses}")
    assert total >= MIN_CASES, f"only {total} cases were generated"
    assert not SERVER_ERRORS, SERVER_ERRORS[:10]


@pytest.mark.timeout(600)
@generated.parametrize()
def test_generated_requests(case: Any, role: str, token: str | None) -> None:
    headers = {"api_access_token": token} if token else {}
    STATS["case", role] += 1
    try:
        response = case.call(headers=headers)
    except Exception as exc:  # an unhandled exception surfaces here, not as a 500 response
        SERVER_ERRORS.append(f"{role} {case.operation.label}: {type(exc).__name__}: {exc}")
        raise
    STATS["status", response.status_code] += 1
    if response.status_code >= 500:
        SERVER_ERRORS.append(f"{role} {case.operation.label}: HTTP {response.status_code}")
    case.validate_response(response, checks=CHECKS, headers=headers)
