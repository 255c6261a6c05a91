"""Buttons that name another entry must fit LINE's 20 characters and still read as words."""
from bot.answers import LABEL_LIMIT, short_label
from knowledge.kb import load_kb


def test_a_trailing_bracket_is_dropped_before_anything_is_cut():
    assert short_label("市町村のまるごと相談(重層的支援体制整備事業)") == "市町村のまるごと相談"
    assert short_label("家族が逮捕された（面会・差し入れ・弁護士）") == "家族が逮捕された"


def test_a_long_title_without_brackets_is_cut_with_an_ellipsis():
    label = short_label("アルコール・ギャンブル・万引きなどがやめられない")
    assert len(label) == LABEL_LIMIT and label.endswith("…")


def test_short_titles_are_kept_whole():
    assert short_label("仕事を探したい") == "仕事を探したい"


def test_every_published_entry_gets_a_label_that_fits_and_closes_its_brackets():
    for entry in load_kb():
        label = short_label(entry.title)
        assert len(label) <= LABEL_LIMIT, entry.id
        assert label.count("(") == label.count(")") and label.count("（") == label.count("）"), entry.id
