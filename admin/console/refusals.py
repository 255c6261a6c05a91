"""What a console page shows when an action refuses: one handler for ActionError and WorkflowError.

Routes do not catch these by hand. A route names the page it answers with when refused,
``@refused_with(page)``; the handler here catches either error anywhere in the route and calls
``page(exc, **the route's own arguments)`` (the request, the session, the signed-in user, the
path ids, the form fields), so the same page comes back with the reason. The page decides
whether the transaction is rolled back (most) or kept (a failed login keeps its audit row).

Why a decorator and not ``app.exception_handler``: an exception handler sees only the request,
and the pages need the route's parsed arguments (and the JSON API already answers ActionError
with JSON). The wrapper keeps the route's signature (``functools.wraps``), so FastAPI sees the
same parameters and runs it in the thread pool as before.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from fastapi.responses import Response

from admin.kb.workflow import WorkflowError
from handoff.actions import ActionError

REFUSALS = (ActionError, WorkflowError)

RefusalPage = Callable[..., Response]


def refused_with(page: RefusalPage) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declares the page a route shows when an action refuses (see the module docstring)."""

    def decorate(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(endpoint)
        def guarded(**kwargs: Any) -> Any:
            try:
                return endpoint(**kwargs)
            except REFUSALS as exc:
                return page(exc, **kwargs)

        return guarded

    return decorate
