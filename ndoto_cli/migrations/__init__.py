"""Alembic's environment and versions, shipped in the package and applied whenever a database is
opened (``core.db.migrate``). The models are the whole schema: a test checks that autogenerate
proposes nothing."""
