"""The bot's own words (Japanese first): short sentences, easy words, one next step."""
from __future__ import annotations

from core.messages import (
    A_CONSENT_NO,
    A_CONSENT_YES,
    A_DANGER_NO,
    A_DANGER_YES,
    A_DELETE,
    A_DELETE_NO,
    A_DELETE_YES,
    A_EMERGENCY,
    A_ENTRY,
    A_HANDOFF,
    A_MENU,
    Button,
)

HANDOFF_LABEL = "人と話したい"
MENU_LABEL = "メニュー"

GREETING = "こんにちは。りすたぽ(保護観察所の相談窓口)のチャットです。"
THANKS = "こちらこそ、ありがとうございます。また困ったら、いつでも送ってください。"

CONSENT_BUTTONS = [Button("同意する", A_CONSENT_YES), Button("同意しない", A_CONSENT_NO)]
CONSENT_REMINDER = "記録を残してよいか、まだ決まっていません。上の説明を読んで「同意する」か「同意しない」を選んでください。"
CONSENT_THANKS = "ありがとうございます。これから書いてくれたことは、相談のために大切に保管します。知りたいことを、そのまま送ってください。"
CONSENT_DECLINED = (
    "わかりました。書いてくれたことは記録しません。よくある質問には、このまま答えます。"
    "職員と話すこともできます(その場合も内容は記録しません)。"
)
CONSENT_NEW_VERSION = "説明の内容が新しくなりました。もう一度読んで、選んでください。"

MENU_INTRO = "できること:よくある質問に答える、近くの相談先を教える、職員につなぐ。下のボタンを押すか、困っていることをそのまま書いてください。"
MENU_TOPICS = [
    ("住むところがない", "sumai-ga-nai"),
    ("出所したばかり", "shussho-chokugo"),
    ("お金に困っている", "seikatsu-konkyu"),
    ("仕事を探したい", "shuro-shien"),
    ("家族からの相談", "kazoku"),
    ("りすたぽとは", "ristapo"),
]

# A message no entry answers that tells a feeling (knowledge.feelings): not a question, so not
# "I cannot answer that question"; not danger either (the crisis floor decided that first).
FEELINGS = (
    "気持ちを書いてくれて、ありがとうございます。\n"
    "ここは自動の返事なので、うまく話を聞いてあげられません。"
    "だれかに聞いてほしいときは「人と話したい」を押してください。職員が受付時間に返事をします。\n"
    "いま命があぶないときは、110番か119番へ。"
)
FEELINGS_ENTRY = ("こころの相談先", "seishin-hoken")

DONT_KNOW = (
    "ごめんなさい。その質問には、ここではうまく答えられません。"
    "メニューから選ぶか、「人と話したい」を押すと職員につなぎます。"
)
ONLY_TEXT = "ごめんなさい。いまは文字のメッセージだけ読めます。困っていることを文字で送ってください。"

DELETE_CONFIRM = (
    "これまでの記録(書いてくれた内容・やりとり)を消して、同意も取り消します。"
    "消すと元に戻せません。消しますか?"
)
DELETE_BUTTONS = [Button("消す", A_DELETE_YES), Button("やめる", A_DELETE_NO)]
DELETE_DONE = "記録を消しました。同意も取り消しました。また相談したくなったら、いつでも送ってください。"
DELETE_CANCELLED = "消すのをやめました。記録はそのままです。"

HANDOFF_DONE = "職員に引き継ぎました。職員から返事が来るまで、このチャットでお待ちください。"
HANDOFF_DECLINED_NOTE = "記録に同意していないので、職員には「内容は記録していない」と伝えます。職員から返事が来たら、困っていることを教えてください。"
HANDOFF_WAITING = "職員に伝えてあります。返事まで少しお待ちください。急ぐときは下の電話番号にかけてください。"

CRISIS_INTRO = "知らせてくれて、ありがとう。あなたの命と安全がいちばん大切です。"
CRISIS_INTRO_OTHER = "知らせてくれて、ありがとう。その人とあなたの命と安全がいちばん大切です。"
CRISIS_STAFF = "これは自動の返事です。職員にも「急ぎ」で知らせました。このチャットにも返事をします。"
CRISIS_TEXT_HINT = "電話がむずかしいときは「電話できない」と送ってください。"

# the 緊急のとき button and a "possible" crisis: numbers first, then one question
DANGER_QUESTION = "いま危ない状態ですか?"
DANGER_INTRO = "これは自動の返事です。緊急のときの電話番号です。"
DANGER_POSSIBLE_INTRO = "これは自動の返事です。書いてくれて、ありがとう。つらいときは、ひとりで抱えないでください。"
DANGER_NO = "わかりました。電話番号は、いつでも「緊急のとき」で見られます。困っていることがあれば、そのまま書いてください。"
DANGER_YES_WORDS = ("はい", "はい。", "うん", "あぶない", "危ない", "危ないです", "たすけて", "助けて")
DANGER_NO_WORDS = ("いいえ", "いいえ。", "いや", "ちがう", "違う", "だいじょうぶ", "大丈夫", "大丈夫です")

# someone whose crisis ticket waits for staff and who cannot or will not call
TEXT_HELP_INTRO = "電話しなくても大丈夫です。文字で相談できるところがあります。"
TEXT_HELP_EMERGENCY = "命にかかわる急ぎのときは、近くにいる人に110番か119番をかけてもらってください。"
TEXT_HELP_INTRO_EMERGENCY = "声を出して話すのがむずかしいときは、文字で相談できるところもあります。"
TEXT_HELP_NONE = "いま開いている文字の相談先は、ここでは見つかりませんでした。"
TEXT_HELP_STAY = "このチャットにも書いてください。職員が読んだら返事をします(これは自動の返事です)。"

# the waiting room: every message gets a sign of life
WAITING_SHORT_ACK = "受け取りました。職員に届いています(自動の返事です)。"
WAITING_ALREADY = "もう職員に伝えてあります。"
REOPENED = "前の相談の続きとして、同じ職員たちに伝えました。"
WAITING_AUTO_NOTE = "(ここまでは自動の答えです。職員からの返事は、このあと届きます)"

ASK_PLACE = "お住まいの都道府県や市の名前を送ってくれれば、近くの窓口をお知らせします。"

INTAKE_START = "職員につなぐ前に、かんたんな質問を4つします。答えたくないものは「とばす」を押してください。"
INTAKE_STEPS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("who", "相談しているのは、どなたですか?", [("本人", "self"), ("家族", "family"), ("支援者・機関", "supporter")]),
    ("need", "いちばん困っていることは?", [("住まい", "housing"), ("お金", "money"), ("仕事", "work"), ("健康・依存", "health"), ("家族", "family"), ("その他", "other")]),
    ("urgency", "急ぎですか?", [("今夜泊まる所がない", "tonight"), ("数日以内に", "days"), ("急ぎではない", "not_urgent")]),
    ("contact", "連絡の方法は?", [("このチャットで", "chat"), ("電話がいい", "phone")]),
]
INTAKE_SKIP_LABEL = "とばす"
# a typed message that answers none of the choices (「担当の人いますか」) is kept for staff as it is;
# saying so keeps the next question from feeling like the message was ignored
INTAKE_NOTED = "書いてくれたことは、そのまま職員に伝えます。"

# typed answers to the intake: words that pick an option (else the words are kept as free text)
INTAKE_WORDS: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "who": [("family", ("家族", "かぞく", "母", "父", "息子", "娘", "妻", "夫", "親", "きょうだい", "兄", "弟", "姉", "妹")),
            ("supporter", ("支援", "機関", "相談員", "職員", "施設")),
            ("self", ("本人", "自分", "じぶん", "私", "わたし", "僕", "ぼく", "俺", "おれ"))],
    "need": [("housing", ("住", "家", "泊", "部屋", "寝る")), ("money", ("お金", "おかね", "金", "借金", "生活費", "給料")),
             ("work", ("仕事", "しごと", "働", "就職", "バイト")), ("health", ("健康", "病", "依存", "薬", "酒", "ギャンブル", "こころ", "心")),
             ("family", ("家族", "かぞく", "親", "子ども", "子供"))],
    "urgency": [("tonight", ("今夜", "こんや", "今日", "きょう", "泊まるところがない", "泊まる所がない", "とまるところがない", "野宿", "帰るところがない", "寝るところがない")),
                ("days", ("数日", "明日", "あした", "今週", "近いうち")),
                ("not_urgent", ("急ぎではない", "急がない", "いそがない", "いつでも", "ゆっくり"))],
    "contact": [("phone", ("電話", "でんわ", "話したい", "声")), ("chat", ("チャット", "ここ", "このまま", "文字", "ライン", "line"))],
}

# 「電話がいい」: a call-back, only where the office offers it
PHONE_ASK = (
    "電話で話せるように、電話番号を送ってください(例 090-1234-5678)。\n"
    "使いみち:職員から折り返し電話するためだけに使います。\n"
    "保存:暗号化して保存します。「記録の削除」で、ほかの記録と一緒に消えます。"
)
PHONE_SKIP_LABEL = "番号は送らない"
PHONE_WINDOW_ASK = "電話番号を受け取りました。電話してよい時間帯を選んでください(どれも職員の受付時間内です)。"
PHONE_WINDOWS = [("午前(受付開始〜12時)", "am"), ("午後(12時〜受付終了)", "pm"), ("どちらでもよい", "any")]
PHONE_DONE = "わかりました。職員が電話をかけるときは、{window}にかけます。知らない番号からの電話になることがあります。"
PHONE_SKIPPED = "わかりました。返事はこのチャットに届きます。"
PHONE_NOT_OFFERED = "ごめんなさい。この窓口では、職員から電話をかけることはしていません。返事はこのチャットに届きます。"

INTAKE_LABELS = {step: {value: label for label, value in options} for step, _q, options in INTAKE_STEPS}


def menu_buttons() -> list[Button]:
    return [Button(label, A_ENTRY + entry_id) for label, entry_id in MENU_TOPICS]


def common_quick_replies() -> list[Button]:
    return [Button(HANDOFF_LABEL, A_HANDOFF), Button(MENU_LABEL, A_MENU)]


def crisis_quick_replies() -> list[Button]:
    return [Button(HANDOFF_LABEL, A_HANDOFF), Button("緊急の電話番号", A_EMERGENCY)]


def consent_details_button() -> Button:
    """「くわしく」under the consent text: the himitsu entry says who reads what and the exceptions."""
    return Button("くわしく", A_ENTRY + "himitsu")


def danger_buttons() -> list[Button]:
    return [Button("はい", A_DANGER_YES), Button("いいえ", A_DANGER_NO), Button("職員と話したい", A_HANDOFF)]


def delete_menu_button() -> Button:
    return Button("記録の削除", A_DELETE)


# The question back when a message fits two or three entries almost equally (issue 15).
ASK_BACK = "どれのことでしょうか。近いものをえらんでください。"
ASK_BACK_NONE_LABEL = "どれでもない"
ASK_BACK_NONE = (
    "ごめんなさい、うまく答えられませんでした。\n"
    "ほかの言い方で書いてみるか、「人と話したい」と送ってください。職員が読みます。"
)


# Readings for the last answer (issue 18): a quick reply on every channel.
FURIGANA_LABEL = "ふりがな"
FURIGANA_NOTHING = "ふりがなをつける答えが、まだありません。知りたいことを送ってください。"
