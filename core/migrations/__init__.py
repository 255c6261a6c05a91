"""Alembic migrations, shipped inside the package (no alembic.ini): see :mod:`core.migrate`."""
