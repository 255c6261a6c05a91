"""The bot's own words (Japanese first): short sentences, easy words, one next step."""
from __future__ import annotations

from core.messages import (
    A_CONSENT_NO,
    A_CONSENT_YES,
    A_DELETE,
    A_DELETE_NO,
    A_DANGER_NO,
    A_DANGER_YES,
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
CRISIS_STAFF = "これは自動の返事です。職員にも「急ぎ」で知らせました。このチャットにも返事をします。"
CRISIS_TEXT_HINT = "電話がむずかしいときは「電話できない」と送ってください。文字で相談できるところを案内します。"

# the 緊急のとき button and a "possible" crisis: numbers first, then one question
DANGER_QUESTION = "いま危ない状態ですか?"
DANGER_INTRO = "これは自動の返事です。緊急のときの電話番号です。"
DANGER_POSSIBLE_INTRO = "これは自動の返事です。書いてくれて、ありがとう。つらいときは、ひとりで抱えないでください。"
DANGER_NO = "わかりました。電話番号は、いつでも「緊急のとき」で見られます。困っていることがあれば、そのまま書いてください。"
DANGER_YES_WORDS = ("はい", "はい。", "うん", "あぶない", "危ない", "危ないです", "たすけて", "助けて")
DANGER_NO_WORDS = ("いいえ", "いいえ。", "いや", "ちがう", "違う", "だいじょうぶ", "大丈夫", "大丈夫です")

# someone whose crisis ticket waits for staff and who cannot or will not call
TEXT_HELP_INTRO = "電話しなくても大丈夫です。文字で相談できるところがあります。"
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

INTAKE_LABELS = {step: {value: label for label, value in options} for step, _q, options in INTAKE_STEPS}


def menu_buttons() -> list[Button]:
    return [Button(label, A_ENTRY + entry_id) for label, entry_id in MENU_TOPICS]


def common_quick_replies() -> list[Button]:
    return [Button(HANDOFF_LABEL, A_HANDOFF), Button(MENU_LABEL, A_MENU)]


def crisis_quick_replies() -> list[Button]:
    return [Button(HANDOFF_LABEL, A_HANDOFF), Button("緊急の電話番号", A_EMERGENCY)]


def danger_buttons() -> list[Button]:
    return [Button("はい", A_DANGER_YES), Button("いいえ", A_DANGER_NO), Button("職員と話したい", A_HANDOFF)]


def delete_menu_button() -> Button:
    return Button("記録の削除", A_DELETE)
