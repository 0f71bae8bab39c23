"""the knowledge base's full-text index follows its passages

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 23:00:00
"""

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Why: deleting a bot (or its account) removed its passages by cascade but left their rows
    # in kb_fts; SQLite then reused the passage ids, and the next `kb add` of any bot failed with
    # "constraint failed" (or matched the dead bot's text). A trigger keeps the index in step
    # with every delete, cascades included; rows orphaned before this revision go now.
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DELETE FROM kb_fts WHERE rowid NOT IN (SELECT id FROM kb_passages)")
    op.execute(
        "CREATE TRIGGER IF NOT EXISTS kb_passages_unindex AFTER DELETE ON kb_passages "
        "BEGIN DELETE FROM kb_fts WHERE rowid = old.id; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS kb_passages_unindex")
