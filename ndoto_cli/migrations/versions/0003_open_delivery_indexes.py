"""partial indexes over open deliveries (the dispatcher's claim)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 03:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('pending', 'delivering')")


def upgrade() -> None:
    # Claiming walks open deliveries in id order and stops at the first N queue heads; delivered
    # rows (most of the table) never enter these indexes.
    op.create_index("ix_deliveries_open_id", "deliveries", ["id"], sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index(
        "ix_deliveries_open_queue", "deliveries", ["agent_bot_id", "conversation_id", "id"],
        sqlite_where=OPEN, postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_open_queue", "deliveries")
    op.drop_index("ix_deliveries_open_id", "deliveries")
