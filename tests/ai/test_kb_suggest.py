"""Learning from humans: `ndoto kb suggest` drafts FAQ entries with the bot's model (the local
model server) from conversations humans resolved after the bot handed off; personal data is
flagged; an accepted entry is found by the agent's retrieval, a rejected one stays out."""

from __future__ import annotations

import json
from typing import Any

from ndoto_cli.core.ai import suggestions
from tests.ai.fake_llm import FakeLLM, Reply
from tests.commands.conftest import Cli


def drafter(request: dict[str, Any]) -> Reply:
    system, last = request["messages"][0]["content"], request["messages"][-1]["content"]
    assert system == suggestions.PROMPT and "tools" not in request
    assert "internal: VIP" not in last  # private notes never reach the model
    if "gift card" in last:
        return Reply('Here you go:\n```json\n{"question": "Can I use a gift card in your shops?", '
                     '"answer": "Yes: gift cards work online and in all our shops."}\n```')
    if "parcel" in last:
        return Reply(json.dumps({"question": "My parcel is late, what can I do?",
                                 "answer": "Write to jane@acme.test with order #4521 and Jane Doe gets a refund."}))
    return Reply(json.dumps({"skip": "small talk"}))


def conversation(cli: Cli, contact: str, question: str, human: str | None, *, resolve: bool = True) -> int:
    cli("say", "--inbox", "Web", "--contact", contact, question, "--new")
    number = cli.json("conversations", "list", "--status", "all")["payload"][0]["id"]
    cli("conversations", "assign", str(number), "--agent", "admin@localhost.localdomain")  # takes over from the bot
    cli("conversations", "reply", str(number), "internal: VIP", "--private")
    if human:
        cli("conversations", "reply", str(number), human)
    if resolve:
        cli("conversations", "resolve", str(number))
    return number


def test_suggestions_from_resolved_handoffs_join_the_knowledge_base(cli: Cli, model_server: FakeLLM) -> None:
    cli("init")
    cli("bots", "create", "--type", "ai", "--name", "Helper")
    cli("inboxes", "create", "--name", "Web", "--channel", "web_widget")
    cli("inbox", "assign", "Helper", "Web")
    assert "No conversation to learn from" in cli("kb", "suggest", "Helper").stdout
    gift = conversation(cli, "Ann Banda", "Can I pay with a gift card at the shop?", "Yes, gift cards work in all our shops too.")
    late = conversation(cli, "Jane Doe", "My parcel is late", "Sorry Jane, refund sent for #4521.")
    chat = conversation(cli, "Bo", "hi there", "Hello! Anything I can do?")
    conversation(cli, "Cy", "gift card balance?", "Let me check.", resolve=False)  # not resolved yet
    conversation(cli, "Di", "gift card lost", None)  # resolved, but no human answered the customer
    model_server.script = drafter

    done = cli.json("kb", "suggest", "Helper")
    assert sorted(d["conversation_id"] for d in done["drafted"]) == [gift, late]
    assert done["skipped"] == [{"conversation_id": chat, "reason": "small talk"}] and done["failed"] == []
    assert len(model_server.requests) == 3
    pending = {s["conversation_id"]: s for s in cli.json("kb", "suggestions", "list", "Helper")}
    assert set(pending) == {gift, late}
    assert pending[gift]["question"] == "Can I use a gift card in your shops?" and pending[gift]["personal_data"] == []
    flags = {(p["kind"], p["text"]) for p in pending[late]["personal_data"]}
    assert {("email", "jane@acme.test"), ("order or reference number", "#4521"), ("the customer's name", "Jane Doe")} <= flags
    assert cli.json("kb", "suggest", "Helper") == {"drafted": [], "skipped": [], "failed": []}  # each conversation once
    assert len(model_server.requests) == 3

    # Personal data blocks an accept until the draft is edited (or kept on purpose).
    refused = cli("kb", "suggestions", "accept", "Helper", str(pending[late]["id"]), code=1)
    assert "may hold personal data" in refused.stderr and len(refused.stderr.strip().splitlines()) <= 2
    edited = cli.json("kb", "suggestions", "edit", "Helper", str(pending[late]["id"]),
                      "--answer", "Write to us with your order number: a late parcel is refunded.")
    assert edited["personal_data"] == []
    cli("kb", "suggestions", "accept", "Helper", str(pending[late]["id"]))
    accepted = cli.json("kb", "suggestions", "accept", "Helper", str(pending[gift]["id"]))
    assert accepted["status"] == "accepted" and accepted["document_id"]
    hits = cli.json("kb", "search", "Helper", "can gift cards be used in the shop?")
    assert hits[0]["title"] == "Can I use a gift card in your shops?"
    assert "already accepted" in cli("kb", "suggestions", "reject", "Helper", str(pending[gift]["id"]), code=1).stderr
    faq = [d for d in cli.json("kb", "list", "Helper") if d["source"].startswith("faq: ")]
    assert len(faq) == 2
    listed = cli.json("kb", "suggestions", "list", "Helper", "--status", "all")
    assert sorted(s["status"] for s in listed) == ["accepted", "accepted", "skipped"]
    assert cli.json("kb", "suggestions", "list", "Helper") == []
    assert "status is one of" in cli("kb", "suggestions", "list", "Helper", "--status", "nope", code=1).stderr
    assert "no suggestion 999" in cli("kb", "suggestions", "accept", "Helper", "999", code=1).stderr


def test_rejected_drafts_and_failed_model_calls(cli: Cli, model_server: FakeLLM) -> None:
    cli("init")
    cli("bots", "create", "--type", "ai", "--name", "Helper")
    cli("inboxes", "create", "--name", "Web", "--channel", "web_widget")
    cli("inbox", "assign", "Helper", "Web")
    gift = conversation(cli, "Ann", "Can I pay with a gift card at the shop?", "Yes, in all our shops.")
    model_server.script = lambda request: Reply(status=500)
    failed = cli.json("kb", "suggest", "Helper")
    assert failed["drafted"] == [] and failed["failed"][0]["conversation_id"] == gift
    model_server.script = lambda request: Reply("I think customers like gift cards.")  # not JSON: tried again later
    assert "not JSON" in cli.json("kb", "suggest", "Helper")["failed"][0]["error"]
    model_server.script = drafter
    (draft,) = cli.json("kb", "suggest", "Helper")["drafted"]
    rejected = cli.json("kb", "suggestions", "reject", "Helper", str(draft["id"]))
    assert rejected["status"] == "rejected" and rejected["document_id"] is None
    assert [d for d in cli.json("kb", "list", "Helper") if d["source"].startswith("faq: ")] == []
    assert cli.json("kb", "suggest", "Helper")["drafted"] == []  # a rejected conversation is not drafted again


def test_what_looks_personal() -> None:
    from ndoto_cli.core.models import Contact

    jane = Contact(account_id=1, name="Jane Phiri", email="jane@acme.test", phone_number="+260 97 1234567")
    found = suggestions.personal_data(
        "Call +260 97 1234567 or mail JANE@acme.test; card 4111 1111 1111 1111; IBAN GB82 WEST 1234 5698 7654 32; "
        "ref 88231; since 2024 we ship in 3 days.", jane)
    kinds = {p["kind"] for p in found}
    assert {"email", "card number", "iban", "phone or account number", "order or reference number", "the customer's phone"} <= kinds
    assert not any(p["text"] == "2024" for p in found)  # a year is not a reference
    assert suggestions.personal_data("Gift cards work online and in all our shops for 2 years.", jane) == []
    assert suggestions.parse_draft('{"skip": "nothing"}').skipped == "nothing"
    assert suggestions.parse_draft('{"question": "q"}').unusable


def test_a_system_bots_drafts_are_reviewed_as_the_system(cli: Cli, model_server: FakeLLM) -> None:
    """A system bot serves several accounts: through one account its drafts (other accounts'
    customers) are neither drafted, listed nor accepted."""
    cli("init")
    cli("bots", "create", "--type", "ai", "--name", "Shared", "--system")
    for args in (("kb", "suggest", "Shared"), ("kb", "suggestions", "list", "Shared"), ("kb", "suggestions", "accept", "Shared", "1")):
        refused = cli(*args, code=1)
        assert "system bot" in refused.stderr and "Traceback" not in refused.stderr
    assert cli.json("kb", "suggestions", "list", "Shared", "--system") == []
