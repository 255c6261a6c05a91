"""Dependencies point inward: knowledge imports no other room, handoff neither bot nor admin, admin not bot.

Read from the source (ast), so an import inside a function or behind a guard counts too, and
nothing has to be imported to be checked.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ("bot", "knowledge", "handoff", "admin", "core")
FORBIDDEN = {
    "knowledge": {"bot", "handoff", "admin", "core"},
    "handoff": {"bot", "admin"},
    "admin": {"bot"},
}


def imported_rooms(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in one file that names a room."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, n.split(".")[0]) for n in names if n.split(".")[0] in ROOMS]
    return found


def violations(room: str, root: Path = ROOT) -> list[str]:
    bad = []
    for path in sorted((root / room).rglob("*.py")):
        for line, target in imported_rooms(path):
            if target in FORBIDDEN[room]:
                bad.append(f"{path.relative_to(root)}:{line} imports {target}")
    return bad


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_room_imports_point_inward(room):
    assert violations(room) == []


def test_the_walk_finds_a_forbidden_import(tmp_path):
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "knowledge" / "x.py").write_text("def f():\n    from admin.kb import history\n    import bot.texts\n", encoding="utf-8")
    assert violations("knowledge", tmp_path) == ["knowledge/x.py:2 imports admin", "knowledge/x.py:3 imports bot"]
