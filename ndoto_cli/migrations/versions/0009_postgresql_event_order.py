"""events carry their transaction id on PostgreSQL: the change feed reads them in commit order

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 01:20:00
"""

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Why: on PostgreSQL several transactions write at once (a pool of writers, several
    # processes), so an event with a smaller id can commit after one with a larger id; a live view
    # that remembered "the last id I read" would skip it for good. Each event records the id of
    # the transaction that wrote it; readers take only events of transactions older than every
    # transaction still running (``core.outbox.feed``), in (transaction, id) order. SQLite has one
    # writer at a time, so its ids already commit in order.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id()")
    op.execute("CREATE INDEX ix_events_txid ON events (txid, id)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_events_txid")
        op.execute("ALTER TABLE events DROP COLUMN IF EXISTS txid")
