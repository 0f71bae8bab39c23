"""A small order service for trying an AI agent's HTTP tools on this machine.

    python examples/orders/service.py --port 8765 --token demo-orders-token

GET /orders/{id} answers {"order": {...}} for the orders below (404 for others), and only with
``Authorization: Bearer <token>`` when a token is given. It listens on 127.0.0.1 only. The
README's "Give an AI agent tools" section points a bot's tool at it; the tests start the same app
(tests/ai/test_ai_tools.py).
"""

from __future__ import annotations

import argparse

from aiohttp import web

ORDERS = {
    "4521": {"id": "4521", "status": "shipped", "carrier": "DHL", "tracking": "JD014600004521", "eta": "2026-12-04"},
    "4522": {"id": "4522", "status": "processing", "carrier": None, "tracking": None, "eta": "2026-12-08"},
    "4530": {"id": "4530", "status": "delivered", "carrier": "UPS", "tracking": "1Z999AA10123456784", "eta": None},
}


def app(token: str | None = None) -> web.Application:
    async def order(request: web.Request) -> web.Response:
        if token and request.headers.get("Authorization") != f"Bearer {token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        found = ORDERS.get(request.match_info["order_id"])
        if found is None:
            return web.json_response({"error": f"no order {request.match_info['order_id']}"}, status=404)
        return web.json_response({"order": found})

    application = web.Application()
    application.router.add_get("/orders/{order_id}", order)
    return application


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", default=None, help="require this bearer token")
    options = parser.parse_args()
    web.run_app(app(options.token), host="127.0.0.1", port=options.port)
