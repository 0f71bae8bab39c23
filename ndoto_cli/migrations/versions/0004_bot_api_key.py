"""an AI bot's own credential for its api_base; a conversation's flood-guard window

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 19:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Why: a bot with its own api_base must never be sent the server's provider keys; it carries
    # a key of its own (write-only: no view renders it).
    with op.batch_alter_table("agent_bots") as batch:
        batch.add_column(sa.Column("api_key", sa.String(), nullable=True))
    # Why: Chatwoot's flood guard (messages per conversation per minute), counted on the row that
    # every message write updates anyway.
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("window_started_at", sa.Float(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("window_messages", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("window_messages")
        batch.drop_column("window_started_at")
    with op.batch_alter_table("agent_bots") as batch:
        batch.drop_column("api_key")
