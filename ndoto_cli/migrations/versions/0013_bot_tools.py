"""AI agents call the business's HTTP APIs (their tools, a record of each call) and answer a burst of messages once

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Why: an agent that only quotes the knowledge base cannot say where order 4521 is. A bot's
    # tools (bot_tools) describe requests to the business's own APIs, with a write-only secret;
    # each call is recorded (ai_tool_calls) so `ndoto bots stats` can count calls and failures.
    # Each table only if missing, as in 0010: a database made from the models at an older
    # revision (the tests' upgrade cases) may hold them already.
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "bot_tools" not in tables:
        _bot_tools()
    if "ai_tool_calls" not in tables:
        _tool_calls()
    # A customer's burst of messages gets one answer: the agent waits batch_wait seconds for the next.
    # Guardrails: topics the agent declines, the longest answer it sends.
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("agent_bots")}
    new = [c for c in (sa.Column("batch_wait", sa.Float(), nullable=False, server_default="2.0"),
                       sa.Column("decline_topics", sa.JSON(), nullable=False, server_default="[]"),
                       sa.Column("max_answer_chars", sa.Integer(), nullable=False, server_default="1200"))
           if c.name not in have]
    if new:
        with op.batch_alter_table("agent_bots") as batch:
            for column in new:
                batch.add_column(column)


def _bot_tools() -> None:
    op.create_table(
        "bot_tools",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agent_bot_id", sa.Integer(), sa.ForeignKey("agent_bots.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("auth", sa.String(), nullable=False),
        sa.Column("auth_header", sa.String(), nullable=True),
        sa.Column("secret", sa.String(), nullable=True),
        sa.Column("timeout", sa.Float(), nullable=False),
        sa.Column("response_path", sa.String(), nullable=False),
        sa.Column("max_chars", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.UniqueConstraint("agent_bot_id", "name"),
    )
    op.create_index("ix_bot_tools_agent_bot_id", "bot_tools", ["agent_bot_id"])


def _tool_calls() -> None:
    op.create_table(
        "ai_tool_calls",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agent_bot_id", sa.Integer(), sa.ForeignKey("agent_bots.id", ondelete="CASCADE"), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("tool", sa.String(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_ai_tool_calls_agent_bot_id", "ai_tool_calls", ["agent_bot_id"])


def downgrade() -> None:
    with op.batch_alter_table("agent_bots") as batch:
        for name in ("max_answer_chars", "decline_topics", "batch_wait"):
            batch.drop_column(name)
    op.drop_index("ix_ai_tool_calls_agent_bot_id", table_name="ai_tool_calls")
    op.drop_table("ai_tool_calls")
    op.drop_index("ix_bot_tools_agent_bot_id", table_name="bot_tools")
    op.drop_table("bot_tools")
