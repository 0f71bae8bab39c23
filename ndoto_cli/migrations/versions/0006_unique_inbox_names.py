"""inbox names unique in their account

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Why: commands and the console name inboxes by name; two of the same name made
    # `say --inbox Chat` fail as ambiguous. Existing twins get their id appended, then the rule
    # holds in the database too (several servers on PostgreSQL cannot race past it).
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, account_id, name FROM inboxes ORDER BY id")).all()
    seen: set[tuple[int, str]] = set()
    for inbox_id, account_id, name in rows:
        if (account_id, name) in seen:
            connection.execute(sa.text("UPDATE inboxes SET name = :name WHERE id = :id"), {"name": f"{name} ({inbox_id})", "id": inbox_id})
        else:
            seen.add((account_id, name))
    op.create_index("ux_inboxes_account_name", "inboxes", ["account_id", "name"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_inboxes_account_name", table_name="inboxes")
