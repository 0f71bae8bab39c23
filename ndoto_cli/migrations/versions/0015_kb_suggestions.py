"""FAQ entries drafted from conversations humans resolved after the bot handed off (kb suggest)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Why: what a human answered after the bot handed off is what the knowledge base lacked.
    # `ndoto kb suggest` drafts an FAQ entry from each such conversation; an admin reviews it
    # (personal data flagged) before it joins the knowledge base. Only if missing, as in 0010.
    if "kb_suggestions" in set(sa.inspect(op.get_bind()).get_table_names()):
        return
    op.create_table(
        "kb_suggestions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("agent_bot_id", sa.Integer(), sa.ForeignKey("agent_bots.id", ondelete="CASCADE"), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
        sa.Column("display_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(), nullable=False),
        sa.Column("answer", sa.String(), nullable=False),
        sa.Column("personal_data", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("document_id", sa.Integer(), sa.ForeignKey("kb_documents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("decided_at", sa.Float(), nullable=True),
        sa.UniqueConstraint("agent_bot_id", "conversation_id"),
    )
    op.create_index("ix_kb_suggestions_agent_bot_id", "kb_suggestions", ["agent_bot_id"])


def downgrade() -> None:
    op.drop_index("ix_kb_suggestions_agent_bot_id", table_name="kb_suggestions")
    op.drop_table("kb_suggestions")
