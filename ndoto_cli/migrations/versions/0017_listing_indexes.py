"""Listings read through indexes: conversations newest first by account, inbox and assignee;
deliveries newest first by account, bot and status; a contact's latest conversation; the
snoozed ones due; a bot's conversations for its deletion

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 20:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

SNOOZED = sa.text("snoozed_until IS NOT NULL")
# Why: on 100,000 conversations and a million deliveries, these listings sorted every row of
# the account (or read the whole deliveries table) to return a page of 25 or 50. The test
# tests/server/test_query_plans.py reads the plans back.
NEW = [
    ("ix_conversations_account_activity", "conversations", ["account_id", "last_activity_at", "id"]),
    ("ix_conversations_inbox_account_activity", "conversations", ["inbox_id", "account_id", "last_activity_at", "id"]),
    ("ix_conversations_assignee_activity", "conversations", ["assignee_id", "last_activity_at", "id"]),
    ("ix_conversations_assignee_agent_bot_id", "conversations", ["assignee_agent_bot_id"]),
    ("ix_conversations_contact", "conversations", ["contact_id", "inbox_id", "id"]),
    ("ix_deliveries_account_created", "deliveries", ["account_id", "created_at", "id"]),
    ("ix_deliveries_bot_created", "deliveries", ["agent_bot_id", "created_at", "id"]),
    ("ix_deliveries_status_created", "deliveries", ["status", "created_at", "id"]),
]
# Served by the new ones (each new one starts with the same columns or makes them redundant).
OLD = [
    ("ix_conversations_inbox_activity", "conversations", ["inbox_id", "last_activity_at"]),
    ("ix_conversations_assignee_id", "conversations", ["assignee_id"]),
    ("ix_conversations_contact_id", "conversations", ["contact_id"]),
    ("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"]),
    ("ix_deliveries_bot_conversation", "deliveries", ["agent_bot_id", "conversation_id", "id"]),
]


def _indexes(table: str) -> set[str]:
    return {i["name"] for i in sa.inspect(op.get_bind()).get_indexes(table)}


def upgrade() -> None:
    for name, table, columns in NEW:
        if name not in _indexes(table):
            op.create_index(name, table, columns)
    if "ix_conversations_snoozed" not in _indexes("conversations"):
        op.create_index("ix_conversations_snoozed", "conversations", ["snoozed_until"],
                        sqlite_where=SNOOZED, postgresql_where=SNOOZED)
    for name, table, _columns in OLD:
        if name in _indexes(table):
            op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, columns in OLD:
        if name not in _indexes(table):
            op.create_index(name, table, columns)
    for name, table, _columns in [*NEW, ("ix_conversations_snoozed", "conversations", [])]:
        if name in _indexes(table):
            op.drop_index(name, table_name=table)
