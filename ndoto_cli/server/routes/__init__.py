"""The API's routes, one module per area: ``conversations`` (and messages, assignments),
``admin`` (bots, inboxes, contacts), ``tools`` (an AI bot's HTTP tools), ``deliveries``, ``platform`` (system bots) and ``public``
(customers, no token). Each router names its route class (``server.route``), which checks the
caller before the body is read; each endpoint names its caller's role in its signature
(``server.deps``) and leaves every rule to core."""

from ndoto_cli.server.routes import admin, conversations, deliveries, platform, public, tools

ROUTERS = (conversations.router, admin.router, tools.router, deliveries.router, platform.router, public.router)
