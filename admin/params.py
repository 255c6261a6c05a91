"""Bounded integer parameters for the admin API and console: out of range is a 422, never a 500.

Why: an id, limit or offset from a request goes straight into SQL. SQLite's driver raises
OverflowError for ints beyond 64 bits ("Python int too large to convert to SQLite INTEGER")
and PostgreSQL raises DataError beyond a column's type ("integer out of range"); both were
500s under schemathesis. Declaring the range where the parameter is declared lets FastAPI
refuse it with a 422 naming the parameter and the bound, before any query runs.

Use these aliases instead of writing ``ge=``/``le=`` numbers in a route.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path, Query
from pydantic import Field

# why 2**31 - 1 and not 2**63 - 1: our keys are sa.Integer (core/migrations), int4 on PostgreSQL,
# so a larger id would still fail there even though SQLite takes 64 bits
MAX_DB_ID = 2**31 - 1
MAX_PAGE_SIZE = 1000
# why this bound is no restriction: no table holds more rows than its largest id, so a larger
# offset could only ever return nothing (and OFFSET must still fit the driver's 64 bits)
MAX_OFFSET = MAX_DB_ID

DbId = Annotated[int, Path(ge=1, le=MAX_DB_ID)]
"""A row id in the URL path (``/tickets/{ticket_id}``)."""

OptionalDbIdQuery = Annotated[int | None, Query(ge=1, le=MAX_DB_ID)]
"""An optional row id in the query string (a filter such as ``?actor_id=``)."""

DbIdForm = Annotated[int, Form(ge=1, le=MAX_DB_ID)]
"""A row id posted by an HTML form (the console)."""

OptionalDbIdForm = Annotated[int | None, Form(ge=1, le=MAX_DB_ID)]
"""An optional row id posted by an HTML form (an empty field is None)."""

DbIdField = Annotated[int, Field(ge=1, le=MAX_DB_ID)]
"""A row id inside a JSON request body."""

PageLimit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
"""How many rows one page returns."""

PageOffset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
"""How many rows to skip before the page starts."""
