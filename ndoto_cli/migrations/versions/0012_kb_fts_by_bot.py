"""SQLite's full-text index of the knowledge base carries each passage's bot, as a term

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 06:00:00
"""

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

TOKENIZER = "tokenize = 'porter unicode61 remove_diacritics 2'"


def _rebuild(columns: str, values: str) -> None:
    """kb_fts made again with these columns, filled from the passages; 0007's trigger kept."""
    op.execute("DROP TRIGGER IF EXISTS kb_passages_unindex")
    op.execute("DROP TABLE IF EXISTS kb_fts")
    op.execute(f"CREATE VIRTUAL TABLE kb_fts USING fts5({columns}, {TOKENIZER})")
    op.execute(f"INSERT INTO kb_fts (rowid, {columns}) SELECT id, {values} FROM kb_passages")
    op.execute(
        "CREATE TRIGGER kb_passages_unindex AFTER DELETE ON kb_passages "
        "BEGIN DELETE FROM kb_fts WHERE rowid = old.id; END"
    )


def upgrade() -> None:
    # Why: a search filtered by bot joined every match of the question's words to kb_passages
    # before ranking: at 100,000 passages that join alone took 25 ms of a search. With the bot as
    # a term of its own column ("bot12"), FTS5 intersects the bot's and the words' lists itself,
    # and only the best 50 rows are joined. The index is rebuilt from the passages (a few seconds
    # per 100,000).
    if op.get_bind().dialect.name == "sqlite":
        _rebuild("bot, title, content", "'bot' || agent_bot_id, title, content")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild("title, content", "title, content")
