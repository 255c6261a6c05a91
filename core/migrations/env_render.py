"""How autogenerate writes custom column types, shared by env.py and the migration tests."""
from __future__ import annotations


def render_item(type_, obj, autogen_context):
    """Make custom column types importable in generated files (core.crypto, sqlmodel).

    Alembic renders a type from outside SQLAlchemy as ``<module>.<Class>(...)``; this adds the
    matching ``import <module>`` line to the file so it runs as written.
    """
    if type_ == "type":
        module = type(obj).__module__
        if not module.startswith("sqlalchemy"):
            autogen_context.imports.add(f"import {module}")
    return False  # default rendering
