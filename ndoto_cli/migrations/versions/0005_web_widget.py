"""the website chat widget: an inbox's widget settings and keys; verified contacts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:30:00
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Why: a Channel::WebWidget inbox has a chat a site embeds; its look and rules live with the
    # inbox (``widget``), identity verification needs the inbox's own HMAC secret (``hmac_token``,
    # Chatwoot's name) and visitors' tokens are signed with a key that is never shown (``widget_key``).
    with op.batch_alter_table("inboxes") as batch:
        batch.add_column(sa.Column("widget", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("hmac_token", sa.String(), nullable=True))
        batch.add_column(sa.Column("hmac_mandatory", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("widget_key", sa.String(), nullable=True))
    connection = op.get_bind()
    for (inbox_id,) in connection.execute(sa.text("SELECT id FROM inboxes")).all():
        connection.execute(
            sa.text("UPDATE inboxes SET hmac_token = :h, widget_key = :k WHERE id = :id"),
            {"h": secrets.token_hex(16), "k": secrets.token_urlsafe(32), "id": inbox_id},
        )
    with op.batch_alter_table("contact_inboxes") as batch:
        batch.add_column(sa.Column("hmac_verified", sa.Boolean(), nullable=False, server_default=sa.false()))
    # A visitor's conversations, and their events after the last one a reconnecting visitor saw.
    op.create_index("ix_conversations_contact_inbox", "conversations", ["contact_inbox_id", "id"])
    op.create_index("ix_events_conversation", "events", ["conversation_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_conversation", table_name="events")
    op.drop_index("ix_conversations_contact_inbox", table_name="conversations")
    with op.batch_alter_table("contact_inboxes") as batch:
        batch.drop_column("hmac_verified")
    with op.batch_alter_table("inboxes") as batch:
        batch.drop_column("widget_key")
        batch.drop_column("hmac_mandatory")
        batch.drop_column("hmac_token")
        batch.drop_column("widget")
