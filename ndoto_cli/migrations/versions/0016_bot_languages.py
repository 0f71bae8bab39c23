"""AI agents answer in the customer's language: the languages a bot detects among, and its handoff message per language

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 16:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Why: a customer who writes Swahili should read Swahili, the handoff message included.
    # Detection is restricted to the bot's languages (more accurate on short messages).
    have = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("agent_bots")}
    new = [c for c in (sa.Column("languages", sa.JSON(), nullable=False, server_default="[]"),
                       sa.Column("handoff_messages", sa.JSON(), nullable=False, server_default="{}"))
           if c.name not in have]
    if new:
        with op.batch_alter_table("agent_bots") as batch:
            for column in new:
                batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("agent_bots") as batch:
        for name in ("handoff_messages", "languages"):
            batch.drop_column(name)
