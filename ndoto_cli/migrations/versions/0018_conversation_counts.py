"""conversation counts kept by the database: per account, inbox, status and assignee

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 07:00:00
"""

from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

# Why: the REST listing answers four counts (mine, assigned, unassigned, all) and the console its
# tab counts; counted from the conversations, each read cost in proportion to the account (113 ms
# on 100,000 conversations, more than the page itself). Triggers keep one row per account, inbox,
# status and assignee (0: none) in step with every write, from any process and any path (the
# product's, a cascade, a copy, a raw insert), so the counts are a read of a few rows.
# On PostgreSQL two transactions changing statuses in opposite directions can deadlock on these
# rows; the write path runs such a transaction again (SQLSTATE 40P01), as for any other deadlock.
TABLE = (
    "CREATE TABLE IF NOT EXISTS conversation_counts ("
    " account_id INTEGER NOT NULL, inbox_id INTEGER NOT NULL, status VARCHAR NOT NULL,"
    " assignee_id INTEGER NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY (account_id, inbox_id, status, assignee_id))"
)
BACKFILL = (
    "INSERT INTO conversation_counts (account_id, inbox_id, status, assignee_id, n)"
    " SELECT account_id, inbox_id, status, COALESCE(assignee_id, 0), count(*) FROM conversations"
    " GROUP BY account_id, inbox_id, status, COALESCE(assignee_id, 0)"
)
KEY = "account_id = {r}.account_id AND inbox_id = {r}.inbox_id AND status = {r}.status AND assignee_id = COALESCE({r}.assignee_id, 0)"


def _less(row: str) -> str:
    return f"UPDATE conversation_counts SET n = n - 1 WHERE {KEY.format(r=row)};"


def _more(row: str) -> str:
    return (
        "INSERT INTO conversation_counts (account_id, inbox_id, status, assignee_id, n)"
        f" VALUES ({row}.account_id, {row}.inbox_id, {row}.status, COALESCE({row}.assignee_id, 0), 1)"
        " ON CONFLICT (account_id, inbox_id, status, assignee_id) DO UPDATE SET n = conversation_counts.n + 1;"
    )


CHANGED = (
    "OLD.account_id <> NEW.account_id OR OLD.inbox_id <> NEW.inbox_id OR OLD.status <> NEW.status"
    " OR COALESCE(OLD.assignee_id, 0) <> COALESCE(NEW.assignee_id, 0)"
)
COLUMNS = "account_id, inbox_id, status, assignee_id"


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS conversation_counts_update ON conversations")
        op.execute("DROP TRIGGER IF EXISTS conversation_counts_insert_delete ON conversations")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS conversation_counts_{name}")


def upgrade() -> None:
    # Safe to run again (an older file whose revision was set back): the counts are recounted.
    _drop_triggers()
    op.execute(TABLE)
    op.execute("DELETE FROM conversation_counts")
    op.execute(BACKFILL)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION ndoto_conversation_counts() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF TG_OP <> 'INSERT' THEN {_less('OLD')} END IF;"
            f" IF TG_OP <> 'DELETE' THEN {_more('NEW')} END IF;"
            " RETURN NULL; END $$"
        )
        op.execute("CREATE TRIGGER conversation_counts_insert_delete AFTER INSERT OR DELETE ON conversations"
                   " FOR EACH ROW EXECUTE FUNCTION ndoto_conversation_counts()")
        op.execute(f"CREATE TRIGGER conversation_counts_update AFTER UPDATE OF {COLUMNS} ON conversations"
                   f" FOR EACH ROW WHEN ({CHANGED}) EXECUTE FUNCTION ndoto_conversation_counts()")
        return
    op.execute(f"CREATE TRIGGER conversation_counts_insert AFTER INSERT ON conversations BEGIN {_more('NEW')} END")
    op.execute(f"CREATE TRIGGER conversation_counts_delete AFTER DELETE ON conversations BEGIN {_less('OLD')} END")
    op.execute(f"CREATE TRIGGER conversation_counts_update AFTER UPDATE OF {COLUMNS} ON conversations"
               f" WHEN {CHANGED} BEGIN {_less('OLD')} {_more('NEW')} END")


def downgrade() -> None:
    _drop_triggers()
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS ndoto_conversation_counts()")
    op.execute("DROP TABLE IF EXISTS conversation_counts")
