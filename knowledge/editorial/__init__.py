"""The editors' tools that need no database: entry files, validation, diffs, staleness, clusters.

Why a package of its own inside knowledge: these rules are about entries (what a file says,
whether it is still true, which unanswered questions look alike), not about who may change
them. The database workflow (drafts, review, publish, audit) lives in ``admin/kb/`` and calls
these. Like the rest of knowledge/, nothing here imports another room (tests/test_rooms.py).
"""
