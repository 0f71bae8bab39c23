"""Outcomes of bots' conversations (stints), customer ratings at resolution, AI agents that resolve when the customer goes quiet

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 15:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

OPEN = sa.text("outcome IS NULL")


def upgrade() -> None:
    # Why: activity counts (replies, handoffs) do not say whether a bot helps. A stint records one
    # stretch of a conversation in a bot's hands and how it ended (resolved, handed off and why,
    # reopened later), and a rating asked at resolution lets bot-resolved conversations be compared
    # with human-resolved ones. Each table only if missing, as in 0010.
    bind = op.get_bind()
    tables = set(sa.inspect(bind).get_table_names())
    if "bot_stints" not in tables:
        _stints()
    if "csat_responses" not in tables:
        _csat()
    if "csat_survey" not in {c["name"] for c in sa.inspect(bind).get_columns("inboxes")}:
        with op.batch_alter_table("inboxes") as batch:
            batch.add_column(sa.Column("csat_survey", sa.Boolean(), nullable=False, server_default=sa.false()))
    if "resolve_after" not in {c["name"] for c in sa.inspect(bind).get_columns("agent_bots")}:
        with op.batch_alter_table("agent_bots") as batch:
            # Existing agents keep what they did (never resolve: 0); new ones get an hour (the model's default).
            batch.add_column(sa.Column("resolve_after", sa.Float(), nullable=False, server_default="0"))


def _stints() -> None:
    op.create_table(
        "bot_stints",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("inbox_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("agent_bot_id", sa.Integer(), sa.ForeignKey("agent_bots.id", ondelete="CASCADE"), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("first_answer_at", sa.Float(), nullable=True),
        sa.Column("last_answer_at", sa.Float(), nullable=True),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("resolved_by", sa.String(), nullable=True),
        sa.Column("reopened_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_bot_stints_bot_started", "bot_stints", ["agent_bot_id", "started_at"])
    op.create_index("ix_bot_stints_conversation", "bot_stints", ["conversation_id", "id"])
    op.create_index("ix_bot_stints_open", "bot_stints", ["agent_bot_id", "last_answer_at"],
                    sqlite_where=OPEN, postgresql_where=OPEN)


def _csat() -> None:
    op.create_table(
        "csat_responses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("inbox_id", sa.Integer(), sa.ForeignKey("inboxes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False, unique=True),
        sa.Column("agent_bot_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("feedback", sa.String(), nullable=True),
        sa.Column("asked_at", sa.Float(), nullable=False),
        sa.Column("rated_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_csat_inbox_asked", "csat_responses", ["inbox_id", "asked_at"])
    op.create_index("ix_csat_bot_asked", "csat_responses", ["agent_bot_id", "asked_at"])
    op.create_index("ix_csat_responses_conversation_id", "csat_responses", ["conversation_id"])


def downgrade() -> None:
    with op.batch_alter_table("agent_bots") as batch:
        batch.drop_column("resolve_after")
    with op.batch_alter_table("inboxes") as batch:
        batch.drop_column("csat_survey")
    op.drop_index("ix_csat_responses_conversation_id", table_name="csat_responses")
    op.drop_index("ix_csat_bot_asked", table_name="csat_responses")
    op.drop_index("ix_csat_inbox_asked", table_name="csat_responses")
    op.drop_table("csat_responses")
    op.drop_index("ix_bot_stints_open", table_name="bot_stints")
    op.drop_index("ix_bot_stints_conversation", table_name="bot_stints")
    op.drop_index("ix_bot_stints_bot_started", table_name="bot_stints")
    op.drop_table("bot_stints")
