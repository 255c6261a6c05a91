"""One handler for refused actions in the console (admin.console.refusals), none written by hand."""
from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from admin.console.refusals import refused_with
from admin.kb import WorkflowError
from handoff.actions import ActionError

CONSOLE = Path(__file__).resolve().parents[2] / "admin" / "console"
HANDLED_CENTRALLY = {"ActionError", "WorkflowError"}


def hand_written_catches(path: Path) -> list[str]:
    """``except ActionError`` / ``except WorkflowError`` clauses in one module (lines)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            names = {t.attr if isinstance(t, ast.Attribute) else getattr(t, "id", "") for t in types}
            if names & HANDLED_CENTRALLY:
                found.append(f"{path.name}:{node.lineno}")
    return found


def test_no_console_page_catches_a_refusal_by_hand():
    assert [c for p in sorted(CONSOLE.glob("*.py")) if p.name != "refusals.py" for c in hand_written_catches(p)] == []


def test_a_refusal_shows_the_routes_page_with_the_routes_arguments():
    seen = {}

    def page(exc, **route):
        seen.update(route, message=exc.message)
        return "the page"

    @refused_with(page)
    def route(ticket_id: int, text: str = ""):
        raise ActionError("だめです")

    assert route(ticket_id=3, text="下書き") == "the page"
    assert seen == {"ticket_id": 3, "text": "下書き", "message": "だめです"}
    assert inspect.signature(route) == inspect.signature(route.__wrapped__)  # FastAPI sees the same parameters


@pytest.mark.parametrize("error", [WorkflowError("直してください"), ActionError("だめです")])
def test_both_kinds_of_refusal_are_handled(error):
    @refused_with(lambda exc, **_route: exc.message)
    def route():
        raise error

    assert route() == error.message


def test_other_errors_are_not_a_refusal():
    @refused_with(lambda exc, **_route: "the page")
    def route():
        raise KeyError("x")

    with pytest.raises(KeyError):
        route()
