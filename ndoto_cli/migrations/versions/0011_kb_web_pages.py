"""knowledge bases take web pages and crawled sites, and keep what `kb sync` needs to refresh them

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Why: a business's help centre already lives on its web site. `ndoto kb add BOT URL` fetches a
    # page or crawls the site; `ndoto kb sync BOT` fetches again only what changed (the page's
    # ETag and Last-Modified, sent back as conditional requests) and drops what disappeared, which
    # needs the crawl's start and limit (kb_sites) and each page's validators and links
    # (kb_documents: a page that answers 304 Not Modified still leads the crawl on).
    # Each part only if missing, as in 0010.
    inspector = sa.inspect(op.get_bind())
    if "kb_sites" not in inspector.get_table_names():
        op.create_table(
            "kb_sites",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("agent_bot_id", sa.Integer(), sa.ForeignKey("agent_bots.id", ondelete="CASCADE"), nullable=False),
            sa.Column("start_url", sa.String(), nullable=False),
            sa.Column("max_pages", sa.Integer(), nullable=False),
            sa.Column("created_at", sa.Float(), nullable=False),
            sa.Column("synced_at", sa.Float(), nullable=True),
            sa.UniqueConstraint("agent_bot_id", "start_url"),
        )
        op.create_index("ix_kb_sites_agent_bot_id", "kb_sites", ["agent_bot_id"])
    have = {c["name"] for c in inspector.get_columns("kb_documents")}
    new = [c for c in (sa.Column("etag", sa.String(), nullable=True),
                       sa.Column("last_modified", sa.String(), nullable=True),
                       sa.Column("links", sa.JSON(), nullable=True),
                       sa.Column("site_id", sa.Integer(), nullable=True)) if c.name not in have]
    if new:
        with op.batch_alter_table("kb_documents") as batch:
            for column in new:
                batch.add_column(column)
            if any(c.name == "site_id" for c in new):
                batch.create_foreign_key("fk_kb_documents_site_id", "kb_sites", ["site_id"], ["id"], ondelete="CASCADE")
                batch.create_index("ix_kb_documents_site_id", ["site_id"])


def downgrade() -> None:
    with op.batch_alter_table("kb_documents") as batch:
        batch.drop_index("ix_kb_documents_site_id")
        batch.drop_constraint("fk_kb_documents_site_id", type_="foreignkey")
        batch.drop_column("site_id")
        batch.drop_column("links")
        batch.drop_column("last_modified")
        batch.drop_column("etag")
    op.drop_index("ix_kb_sites_agent_bot_id", "kb_sites")
    op.drop_table("kb_sites")
