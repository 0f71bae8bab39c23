"""knowledge-base full-text search on PostgreSQL

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:30:00
"""

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Why: retrieval was SQLite FTS5 only, so on PostgreSQL `kb search` found nothing and the AI
    # agent answered without its knowledge base, silently. PostgreSQL's own full-text search
    # plays FTS5's part: a stored tsvector per passage, the title weighted above the text (as
    # FTS5's bm25(kb_fts, 2.0, 1.0)), English stemming, a GIN index. Generated, so every insert
    # and update keeps it in step with no code of ours.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE kb_passages ADD COLUMN search tsvector GENERATED ALWAYS AS ("
        "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
        "setweight(to_tsvector('english', coalesce(content, '')), 'B')) STORED"
    )
    op.execute("CREATE INDEX ix_kb_passages_search ON kb_passages USING gin (search)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_kb_passages_search")
        op.execute("ALTER TABLE kb_passages DROP COLUMN IF EXISTS search")
