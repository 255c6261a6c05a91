"""The structured intake as staff read it (本人/家族/支援者, main need, urgency, contact).

A typed answer is kept next to the option it was matched to (``urgency_text``), or alone
when it fits no option (value ``other_text``): staff read the user's own words.

Mirrors the questions in ``bot/texts.py::INTAKE_STEPS`` (handoff may not import bot/);
``tests/handoff/test_handoff_queue_notify.py`` checks the two stay in step.
"""
from __future__ import annotations

INTAKE_QUESTIONS: dict[str, str] = {
    "who": "相談している人",
    "need": "いちばん困っていること",
    "urgency": "急ぎ",
    "contact": "連絡の方法",
}
INTAKE_LABELS: dict[str, dict[str, str]] = {
    "who": {"self": "本人", "family": "家族", "supporter": "支援者・機関"},
    "need": {"housing": "住まい", "money": "お金", "work": "仕事", "health": "健康・依存", "family": "家族", "other": "その他"},
    "urgency": {"tonight": "今夜泊まる所がない", "days": "数日以内に", "not_urgent": "急ぎではない"},
    "contact": {"chat": "このチャットで", "phone": "電話がいい"},
}
SPECIAL = {"skip": "(答えなかった)", "other_text": "(選択肢にない答え)"}


def intake_lines(intake: dict[str, str], *, short: bool = False) -> list[str]:
    """``["相談している人: 家族", ...]``; ``short`` drops skipped answers and the question."""
    lines = []
    for step, question in INTAKE_QUESTIONS.items():
        if step not in intake:
            continue
        value = intake[step]
        label = INTAKE_LABELS.get(step, {}).get(value) or SPECIAL.get(value, value)
        typed = intake.get(f"{step}_text")  # the user's own words, kept when they typed the answer
        if short:
            if value not in SPECIAL:
                lines.append(label)
            elif typed:
                lines.append(f"「{typed[:30]}」")
        else:
            lines.append(f"{question}: {label}" + (f"(書いた言葉:「{typed}」)" if typed else ""))
    return lines
