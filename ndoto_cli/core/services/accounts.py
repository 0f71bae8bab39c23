"""Accounts, human agents (users) and platform apps."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core import limits
from ndoto_cli.core.errors import Conflict, Invalid, NotFound
from ndoto_cli.core.models import Account, PlatformApp, Role, TokenOwner, User
from ndoto_cli.core.services.tokens import delete_token, issue_token

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


async def create_account(session: AsyncSession, *, name: str) -> Account:
    name = (limits.text(name, field="name", max_length=limits.NAME) or "").strip()
    if not name:
        raise Invalid("account name must not be empty", field="name")
    account = Account(name=name)
    session.add(account)
    await session.flush()
    return account


async def list_accounts(session: AsyncSession) -> list[Account]:
    return list((await session.execute(select(Account).order_by(Account.id))).scalars())


async def get_account(session: AsyncSession, *, account_id: int) -> Account:
    account = await session.get(Account, limits.row_id(account_id, what="account"))
    if account is None:
        raise NotFound(f"account {account_id} not found")
    return account


async def update_account(
    session: AsyncSession, *, account_id: int, name: str | None = None, keep_pending_on_bot_failure: bool | None = None
) -> Account:
    account = await get_account(session, account_id=account_id)
    if name is not None:
        name = (limits.text(name, field="name", max_length=limits.NAME) or "").strip()
        if not name:
            raise Invalid("account name must not be empty", field="name")
        account.name = name
    if keep_pending_on_bot_failure is not None:
        account.keep_pending_on_bot_failure = keep_pending_on_bot_failure
    await session.flush()
    return account


async def account_contents(session: AsyncSession, *, account_id: int) -> dict[str, int]:
    """What deleting an account would destroy, counted (the question before it says so)."""
    from ndoto_cli.core.models import AgentBot, Contact, Conversation, Inbox, Message

    await get_account(session, account_id=account_id)
    counts = {}
    for label, model in (("agents", User), ("inboxes", Inbox), ("bots", AgentBot), ("contacts", Contact),
                         ("conversations", Conversation)):
        counts[label] = int((await session.execute(
            select(func.count()).select_from(model).where(model.account_id == account_id)  # type: ignore[attr-defined]
        )).scalar_one())
    counts["messages"] = int((await session.execute(
        select(func.count()).select_from(Message).join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.account_id == account_id)
    )).scalar_one())
    return counts


async def delete_account(session: AsyncSession, *, account_id: int) -> Account:
    """Delete an account and everything in it (agents, inboxes, the account's bots, contacts,
    conversations, messages, events, deliveries, knowledge bases) and the tokens of its agents and
    bots. System bots stay (they belong to no account); their links to its inboxes go."""
    from ndoto_cli.core.models import AgentBot

    account = await get_account(session, account_id=account_id)
    for owner_type, model in ((TokenOwner.user, User), (TokenOwner.agent_bot, AgentBot)):
        for owner_id in (await session.execute(select(model.id).where(model.account_id == account_id))).scalars():  # type: ignore[attr-defined]
            await delete_token(session, owner_type=owner_type, owner_id=owner_id)
    await session.delete(account)
    await session.flush()
    return account


def _agent_name(name: str) -> str:
    name = (limits.text(name, field="name", max_length=limits.NAME) or "").strip()
    if not name:
        raise Invalid("agent name must not be empty", field="name")
    return name


def _agent_email(email: str) -> str:
    """Login emails are compared lower-case."""
    email = (limits.text(email, field="email", max_length=limits.EMAIL) or "").strip().lower()
    if not EMAIL_RE.match(email):
        raise Invalid(f"{email!r} is not an email address", field="email")
    return email


def _check_role(role: str) -> str:
    if role not in (Role.administrator, Role.agent):
        raise Invalid(f"role must be administrator or agent, not {role!r}", field="role")
    return role


async def create_user(
    session: AsyncSession, *, account_id: int, name: str, email: str, role: str = Role.agent
) -> tuple[User, str]:
    """Create a human agent and its API token (returned once, stored hashed)."""
    await get_account(session, account_id=account_id)
    email = _agent_email(email)
    name = _agent_name(name)
    _check_role(role)
    exists = (
        await session.execute(select(User).where(User.account_id == account_id, User.email == email))
    ).scalar_one_or_none()
    if exists is not None:
        raise Conflict(f"an agent with email {email} already exists in account {account_id}", field="email")
    user = User(account_id=account_id, name=name, email=email, role=role)
    session.add(user)
    await session.flush()
    token = await issue_token(session, owner_type=TokenOwner.user, owner_id=user.id)  # type: ignore[arg-type]
    return user, token


async def list_users(session: AsyncSession, *, account_id: int) -> list[User]:
    return list((await session.execute(select(User).where(User.account_id == account_id).order_by(User.id))).scalars())


async def get_user(session: AsyncSession, *, account_id: int, user_id: int) -> User:
    user = await session.get(User, limits.row_id(user_id, what="agent"))
    if user is None or user.account_id != account_id:
        raise NotFound(f"agent {user_id} not found in account {account_id}")
    return user


async def find_user(session: AsyncSession, *, account_id: int, ref: str) -> User:
    """An agent by id or email."""
    ref = ref.strip()
    if ref.isdigit():
        return await get_user(session, account_id=account_id, user_id=int(ref))
    user = (
        await session.execute(select(User).where(User.account_id == account_id, User.email == ref.lower()))
    ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no agent {ref!r} in account {account_id}")
    return user


async def _keep_an_administrator(session: AsyncSession, user: User, *, doing: str) -> None:
    """An account keeps at least one administrator (someone must be able to manage its bots)."""
    if user.role != Role.administrator:
        return
    admins = (
        await session.execute(
            select(func.count()).select_from(User).where(User.account_id == user.account_id, User.role == Role.administrator)
        )
    ).scalar_one()
    if admins <= 1:
        raise Conflict(f"cannot {doing} the account's last administrator")


async def update_user(
    session: AsyncSession, *, account_id: int, user_id: int, name: str | None = None, email: str | None = None,
    role: str | None = None,
) -> User:
    """Rename an agent, change their login email, or their role (the last administrator stays one)."""
    user = await get_user(session, account_id=account_id, user_id=user_id)
    if name is not None:
        user.name = _agent_name(name)
    if email is not None:
        email = _agent_email(email)
        taken = (await session.execute(
            select(User.id).where(User.account_id == account_id, User.email == email, User.id != user.id)
        )).scalar_one_or_none()
        if taken is not None:
            raise Conflict(f"an agent with email {email} already exists in account {account_id}", field="email")
        user.email = email
    if role is not None and role != user.role:
        _check_role(role)
        await _keep_an_administrator(session, user, doing="demote")
        user.role = Role(role)
    await session.flush()
    return user


async def delete_user(session: AsyncSession, *, account_id: int, user_id: int) -> User:
    user = await get_user(session, account_id=account_id, user_id=user_id)
    await _keep_an_administrator(session, user, doing="delete")
    await delete_token(session, owner_type=TokenOwner.user, owner_id=user.id)  # type: ignore[arg-type]
    await session.delete(user)
    await session.flush()
    return user


async def reset_user_token(session: AsyncSession, *, account_id: int, user_id: int) -> tuple[User, str]:
    user = await get_user(session, account_id=account_id, user_id=user_id)
    return user, await issue_token(session, owner_type=TokenOwner.user, owner_id=user.id)  # type: ignore[arg-type]


async def create_platform_app(session: AsyncSession, *, name: str) -> tuple[PlatformApp, str]:
    """A platform app holds the token of the platform API (system bots)."""
    name = limits.text(name, field="name", max_length=limits.NAME) or ""
    if not name.strip():
        raise Invalid("platform app name must not be empty", field="name")
    app = PlatformApp(name=name.strip())
    session.add(app)
    await session.flush()
    return app, await issue_token(session, owner_type=TokenOwner.platform_app, owner_id=app.id)  # type: ignore[arg-type]


async def list_platform_apps(session: AsyncSession) -> list[PlatformApp]:
    return list((await session.execute(select(PlatformApp).order_by(PlatformApp.id))).scalars())


@dataclass
class Bootstrap:
    created: bool
    account: Account
    admin: User
    token: str | None


async def bootstrap(
    session: AsyncSession, *, account_name: str = "My Company", admin_name: str = "Admin", admin_email: str = "admin@localhost.localdomain"
) -> Bootstrap:
    """First run: one account and one administrator (token returned once). Idempotent."""
    existing = (await session.execute(select(Account).order_by(Account.id).limit(1))).scalar_one_or_none()
    if existing is not None:
        admin = (
            await session.execute(
                select(User)
                .where(User.account_id == existing.id, User.role == Role.administrator)
                .order_by(User.id)
                .limit(1)
            )
        ).scalar_one_or_none()
        if admin is not None:
            return Bootstrap(False, existing, admin, None)
        admin, token = await create_user(
            session, account_id=existing.id, name=admin_name, email=admin_email, role=Role.administrator  # type: ignore[arg-type]
        )
        return Bootstrap(True, existing, admin, token)
    account = await create_account(session, name=account_name)
    admin, token = await create_user(
        session, account_id=account.id, name=admin_name, email=admin_email, role=Role.administrator  # type: ignore[arg-type]
    )
    return Bootstrap(True, account, admin, token)


async def resolve_account(session: AsyncSession, ref: str | None, *, email: str | None = None) -> Account:
    """Which account a front end acts in (the CLI's ``--account``, the console, ``ndoto chat``).

    ``ref``: an id or a name. Without one: the only account; with several, the one account where
    ``email`` is an agent (so ``--as ann@acme.test`` is enough); else an error listing them."""
    rows = await list_accounts(session)
    if not rows:
        raise Invalid("no account yet", hint="run `ndoto init` first")
    if ref is not None:
        for row in rows:
            if str(row.id) == str(ref).strip() or row.name == ref:
                return row
        raise NotFound(f"no account {ref!r}", hint="see `ndoto accounts list`")
    if len(rows) == 1:
        return rows[0]
    if email:
        owners = (await session.execute(select(User.account_id).where(User.email == email.strip().lower()))).scalars().all()
        if len(set(owners)) == 1:
            return next(r for r in rows if r.id == owners[0])
    listing = ", ".join(f"{r.id} ({r.name})" for r in rows)
    raise Invalid(f"several accounts exist, choose one with --account: {listing}")


async def acting_user(session: AsyncSession, *, account_id: int, ref: str | None) -> User:
    """The human on whose behalf a front end acts: ``ref`` (an email or id), else the account's
    first administrator (the one ``ndoto init`` made)."""
    if ref:
        return await find_user(session, account_id=account_id, ref=ref)
    user = (
        await session.execute(
            select(User).where(User.account_id == account_id, User.role == Role.administrator).order_by(User.id).limit(1)
        )
    ).scalar_one_or_none()
    if user is None:
        raise Invalid("the account has no administrator", hint="`ndoto agents create --role administrator ...`")
    return user
