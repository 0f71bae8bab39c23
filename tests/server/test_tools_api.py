"""The admin API for an AI bot's tools: the same rules as `ndoto bots tools` (core.ai.tools), the
secret accepted and never returned, a test call against the example order service on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ndoto_cli.core.settings import Settings
from ndoto_cli.server.app import create_app
from tests.ai.test_ai_tools import TOKEN, OrderService
from tests.background import served
from tests.server.conftest import Seed


@pytest.fixture
def orders() -> Iterator[OrderService]:
    with served(OrderService().start) as service:
        yield service


@pytest.fixture
def api(seed: Seed, ndoto_home: Path) -> Iterator[TestClient]:
    app = create_app(Settings(home=ndoto_home, private_allowlist=["127.0.0.1"]), start_dispatcher=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_tools_through_the_admin_api(api: TestClient, seed: Seed, orders: OrderService) -> None:
    admin = seed.h(seed.world.admin_token)
    base = f"/api/v1/accounts/{seed.world.account_id}/agent_bots"
    bot = api.post(base, json={"name": "Helper", "bot_type": "ai"}, headers=admin).json()
    tools = f"{base}/{bot['id']}/tools"
    body: dict[str, Any] = {
        "name": "order_status", "description": "Look up an order", "url": f"{orders.base}/orders/{{order_id}}",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
        "auth": "bearer", "secret": TOKEN, "response_path": "order",
    }
    created = api.post(tools, json=body, headers=admin)
    assert created.status_code == 200, created.text
    tool = created.json()
    assert tool["secret_set"] is True and TOKEN not in created.text
    assert api.post(tools, json=body, headers=admin).status_code == 409  # the name is taken
    assert [t["name"] for t in api.get(tools, headers=admin).json()] == ["order_status"]
    changed = api.patch(f"{tools}/{tool['id']}", json={"timeout": 3}, headers=admin)
    assert changed.json()["timeout"] == 3.0 and TOKEN not in changed.text

    tested = api.post(f"{tools}/{tool['id']}/test", json={"arguments": {"order_id": "4521"}}, headers=admin).json()
    assert tested["ok"] and tested["status"] == 200 and '"status": "shipped"' in tested["model_sees"]
    assert tested["request"]["headers"]["Authorization"] == "[secret]"
    assert orders.requests[-1]["headers"]["Authorization"] == f"Bearer {TOKEN}"

    steered = api.post(tools, json={**body, "name": "x", "url": "https://{order_id}.example/"}, headers=admin)
    assert steered.status_code == 422 and "host and port are fixed" in steered.json()["error"]
    webhook = api.post(f"{base}/{seed.world.bot_id}/tools", json=body, headers=admin)
    assert webhook.status_code == 422 and "webhook bot" in webhook.json()["error"]
    assert api.get(tools, headers=seed.h(seed.world.agent_token)).status_code == 403
    assert api.delete(f"{tools}/{tool['id']}", headers=admin).json() == {"id": tool["id"], "deleted": True}
    assert api.get(f"{tools}/{tool['id']}", headers=admin).status_code == 404
