"""The local-office directory from ``resources.yaml``, and the chat text that lists it.

``offices_for(place)`` returns the probation office(s) and 地域生活定着支援センター of the
place's prefecture exactly as the file has them (an empty field stays ``None``);
``format_offices(offices)`` writes them for the chat: name, address, phone and hours, or a
plain sentence that the item is not available here. Phone numbers are written as
``0xx-xxx-xxxx`` so the web chat turns them into ``tel:`` links and LINE shows the digits.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # pragma: no cover - typing only
    from knowledge.places import Place

RESOURCES_PATH = Path(__file__).parent / "resources.yaml"

NOT_HERE = "ここでは確認できていません"
MISSING_NEXT_STEP = "のっていない番号は、窓口の名前で検索すると、公式のページで確かめられます。「人と話したい」と送れば、職員にも聞けます。"


@dataclass(frozen=True)
class Office:
    kind: str  # "probation_office" | "teichaku_center"
    prefecture: str
    name: str
    operator: str | None = None
    address: str | None = None
    phone: str | None = None
    hours: str | None = None
    source: str | None = None
    source_name: str | None = None
    source_date: str | None = None
    read_on: str | None = None
    address_public: bool = True
    note: str | None = None


@lru_cache(maxsize=4)
def load_resources(path: str | None = None) -> dict[str, Any]:
    """The parsed resources file (cached; the file is data shipped with the code)."""
    with open(path or RESOURCES_PATH, encoding="utf-8") as fh:
        return yaml.safe_load(fh) or {}


def _value(item: dict[str, Any], key: str) -> str | None:
    v = item.get(key)
    return str(v) if v not in (None, "") else None


def _office(kind: str, item: dict[str, Any]) -> Office:
    return Office(
        kind=kind, prefecture=item["prefecture"], name=item["name"], operator=_value(item, "operator"),
        address=_value(item, "address"), phone=_value(item, "phone"), hours=_value(item, "hours"),
        source=_value(item, "source_url") or _value(item, "source"), source_name=_value(item, "source_name"),
        source_date=_value(item, "source_date"), read_on=_value(item, "read_on"),
        address_public=item.get("address_public", True) is not False, note=_value(item, "note"),
    )


def hokkaido_office_for(city: str | None, resources_path: Path | str | None = None) -> str | None:
    """The one Hokkaido probation office a city maps to, where the data says so."""
    data = load_resources(str(resources_path or RESOURCES_PATH))
    return (data.get("hokkaido_offices") or {}).get(city or "")


def offices_for(place: Place | None, resources_path: Path | str | None = None) -> list[Office]:
    """Probation offices, then 地域生活定着支援センター, for the place's prefecture."""
    if place is None:
        return []
    data = load_resources(str(resources_path or RESOURCES_PATH))
    probation = [_office("probation_office", it) for it in data.get("probation_offices") or []
                 if it.get("prefecture") == place.prefecture]
    if place.prefecture == "北海道":
        # why only mapped cities: which office covers a town follows court districts we have
        # not sourced; a wrong office is worse than the list of four.
        only = hokkaido_office_for(place.city, resources_path)
        if only and any(o.name == only for o in probation):
            probation = [o for o in probation if o.name == only]
    centers = [_office("teichaku_center", it) for it in data.get("teichaku_centers") or []
               if it.get("prefecture") == place.prefecture]
    return probation + centers


def _office_lines(office: Office) -> list[str]:
    lines = [f"・{office.name}"]
    if not office.address_public:
        # why no promise: the office itself keeps the address private; nobody here can give it.
        lines.append("　住所: 公表されていません")
    elif office.address:
        lines.append(f"　住所: {office.address}")
    if office.phone:
        lines.append(f"　電話: {office.phone}")
        lines.append(f"　受付時間: {office.hours or NOT_HERE}")
    if not office.phone and not office.address and office.address_public:
        lines.append(f"　住所・電話番号は{NOT_HERE}")
    elif not office.phone:
        lines.append(f"　電話番号は{NOT_HERE}")
    elif not office.address and office.address_public:
        lines.append(f"　住所は{NOT_HERE}")
    if (office.phone or office.address) and office.source_name:
        when = f"（{office.source_date}）" if office.source_date else ""
        lines.append(f"　出典: {office.source_name}{when}")
    return lines


def format_offices(offices: list[Office]) -> str:
    """A short listing: name, address, phone and hours, or a plain word that one is missing."""
    if not offices:
        return "この地域の窓口の情報は、ここにはまだありません。"
    lines = ["お近くの窓口です。"]
    for office in offices:
        lines.extend(_office_lines(office))
    if any(o.phone or o.address for o in offices):
        lines.append("住所や電話番号は変わることがあります。")
    if any(not o.phone for o in offices):
        # why: "not available here" alone leaves the person with nothing to do; a name search finds
        # the office's own page, and a person in this chat can be asked (the hand-off exists).
        lines.append(MISSING_NEXT_STEP)
    return "\n".join(lines)
