"""The customer's language: detected on short messages, kept when a message is too short to tell,
told to the model, and choosing the handoff keywords and message (through the real path: delivery
-> agent -> the local model server -> message)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from ndoto_cli.core.ai import language
from ndoto_cli.core.models import AgentBot, Conversation, Message
from ndoto_cli.core.services import bots
from tests.ai.conftest import AiWorld, customer_says
from tests.ai.fake_llm import Reply
from tests.ai.test_agent import bot_replies, thread, wait_for
from tests.commands.conftest import Cli


@pytest.mark.parametrize(("text", "code"), [
    ("Where is my order 4521?", "en"), ("je veux un remboursement, s'il vous plaît", "fr"),
    ("hola, mi pedido no ha llegado", "es"), ("onde está a minha encomenda?", "pt"),
    ("Wo ist meine Bestellung?", "de"), ("nataka kuzungumza na mtu", "sw"),
    ("ngicela ukungisiza nge-oda yami", "zu"),
])
def test_short_customer_messages(text: str, code: str) -> None:
    found = language.detect(text, ["en", "fr", "es", "pt", "de", "sw", "zu"])
    assert found is not None and found.code == code and found.confidence >= language.THRESHOLD


def test_too_little_to_tell_keeps_the_conversations_language() -> None:
    for text in ("ok", "4521", "👍", "hi"):
        assert language.detect(text, ["en", "fr", "sw"]) is None
    assert language.of_conversation("ok", ["bonjour"], ["en", "fr"], known="fr") == language.Language("fr", 0.0)
    guessed = language.of_conversation("ok merci", ["je voudrais changer ma commande"], ["en", "fr"])
    assert guessed is not None and guessed.code == "fr"
    assert language.keywords_for(["speak to agent", "fr:parler à un humain", "sw:nataka mtu"], "fr") == ["speak to agent", "parler à un humain"]
    assert len(language.keywords_for(["speak to agent", "fr:parler à un humain"], None)) == 2  # not known yet: all apply
    assert language.split_keyword("no:way") == ("no", "way") and language.split_keyword("zz:top") == (None, "zz:top")


async def test_the_agent_answers_in_the_customers_language_and_hands_off_in_it(ai: AiWorld) -> None:
    async with ai.db.read() as s:
        account = (await s.get(AgentBot, ai.bot_id)).account_id
    await ai.db.write(lambda s: bots.update_bot(
        s, account_id=account, bot_id=ai.bot_id, languages=["en", "fr", "sw"],
        handoff_keywords=["speak to agent", "fr:parler à un humain"],
        handoff_messages={"fr": "Je vous passe un collègue.", "sw": "Ninakuunganisha na mwenzangu."}))
    ai.llm.script = lambda request: Reply("Les remboursements prennent 5 à 7 jours ouvrés.")
    conv = (await customer_says(ai, "Combien de temps faut-il pour un remboursement ?", name="Amélie")).bundle.conversation.id

    async def answers(n: int) -> Any:
        async def enough() -> bool:
            return len(bot_replies(await thread(ai, conv))) >= n
        return enough

    await wait_for(await answers(1))
    system = ai.llm.requests[-1]["messages"][0]["content"]
    assert "The customer writes in French: answer in French." in system
    (reply,) = bot_replies(await thread(ai, conv))
    assert reply.additional_attributes["ai"]["language"] == "fr"
    # Too short to tell: the conversation is still French.
    await customer_says(ai, "ok", name="Amélie")
    await wait_for(await answers(2))
    assert "The customer writes in French" in ai.llm.requests[-1]["messages"][0]["content"]
    # The French keyword hands off, with the French message and a note saying the language.
    await customer_says(ai, "je veux parler à un humain", name="Amélie")

    async def opened() -> bool:
        async with ai.db.read() as s:
            return (await s.get(Conversation, conv)).status == "open"

    await wait_for(opened)
    msgs = await thread(ai, conv)
    assert bot_replies(msgs)[-1].content == "Je vous passe un collègue."
    note = next(m for m in msgs if m.private)
    assert "keyword" in note.content and "The customer writes in French." in note.content
    # An English customer never meets the French keyword, and reads the default handoff message.
    ai.llm.script = lambda request: Reply("Refunds take 5 to 7 working days.")
    other = (await customer_says(ai, "How long do refunds take?", name="Ben")).bundle.conversation.id
    await customer_says(ai, "speak to agent", name="Ben")

    async def ben_handed_off() -> bool:
        async with ai.db.read() as s:
            return (await s.get(Conversation, other)).status == "open"

    await wait_for(ben_handed_off)
    async with ai.db.read() as s:
        last = (await s.execute(select(Message).where(Message.conversation_id == other, Message.private.is_(False))
                                .order_by(Message.id.desc()).limit(2))).scalars().all()
    assert "Let me bring in a colleague." in [m.content for m in last]


def test_the_commands_set_languages_and_messages(cli: Cli) -> None:
    cli("init")
    cli("bots", "create", "--type", "ai", "--name", "Helper", "--language", "en", "--language", "sw",
        "--handoff-message", "Let me bring in a colleague.", "--handoff-message", "sw:Ninakuunganisha na mwenzangu.")
    config = cli.json("bots", "show", "Helper")["bot_config"]
    assert config["languages"] == ["en", "sw"] and config["handoff_message"] == "Let me bring in a colleague."
    assert config["handoff_messages"] == {"sw": "Ninakuunganisha na mwenzangu."}
    cli("bots", "update", "Helper", "--handoff-message", "fr:Je vous passe un collègue.")
    assert cli.json("bots", "show", "Helper")["bot_config"]["handoff_messages"] == {
        "sw": "Ninakuunganisha na mwenzangu.", "fr": "Je vous passe un collègue."}
    cli("bots", "update", "Helper", "--handoff-message", "sw:")
    assert cli.json("bots", "show", "Helper")["bot_config"]["handoff_messages"] == {"fr": "Je vous passe un collègue."}
    refused = cli("bots", "update", "Helper", "--language", "klingon", code=1)
    assert "not a language code" in refused.stderr and len(refused.stderr.strip().splitlines()) <= 2


def test_the_codes_ndoto_accepts_are_the_models() -> None:
    """``--language`` accepts exactly what the detector knows: a code it lacks would break every turn."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    assert set(language.NAMES) == set(LanguageIdentifier.from_model_file(MODEL_FILE).nb_classes) - {"zxx"}
    assert set(language.DEFAULT_LANGUAGES) <= set(language.NAMES)
