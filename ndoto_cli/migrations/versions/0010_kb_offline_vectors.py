"""knowledge-base passages carry offline vectors (title and text) and the model that made them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 02:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Why: retrieval was full text only unless an embedding server was configured, so a customer
    # who said "mail" missed the passage about "email". Passages now carry the vectors of the
    # offline model shipped with Ndoto (core.ai.vectors); existing passages get theirs from
    # `ndoto kb reindex` (or the next `kb add`), and are searched by full text until then.
    # Each column only if missing: a database marked with an older revision by hand (or a run cut
    # short) may have some already.
    have = {t: {c["name"] for c in sa.inspect(op.get_bind()).get_columns(t)} for t in ("kb_passages", "agent_bots")}
    new = [c for c in (sa.Column("title_vector", sa.LargeBinary(), nullable=True),
                       sa.Column("text_vector", sa.LargeBinary(), nullable=True),
                       sa.Column("vector_model", sa.String(), nullable=True)) if c.name not in have["kb_passages"]]
    if new:
        with op.batch_alter_table("kb_passages") as batch:
            for column in new:
                batch.add_column(column)
    # Every change to a bot's knowledge base moves its kb_version, so each process's cache of the
    # bot's vectors knows when to reload (ids alone do not say: SQLite reuses freed ones).
    if "kb_version" not in have["agent_bots"]:
        with op.batch_alter_table("agent_bots") as batch:
            batch.add_column(sa.Column("kb_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("agent_bots") as batch:
        batch.drop_column("kb_version")
    with op.batch_alter_table("kb_passages") as batch:
        batch.drop_column("vector_model")
        batch.drop_column("text_vector")
        batch.drop_column("title_vector")
