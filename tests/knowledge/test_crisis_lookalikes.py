"""Harmless look-alikes are told apart from danger by their kind, not by their sentence.

Each kind is a piece of grammar or vocabulary in crisis_situations.yaml / crisis_lexicon.yaml:
an idiom of hardship, a past set against a better now, a helper's role, a negated wish, a
death told as a loss, a dosage question, a question asked ahead of time, anger with the act
ruled out, a genre named without a medium. Next to each kind stands the danger that shares
its words and must stay an alarm. Sentences are written for these tests (not taken from the
corpus or the evaluation sets).
"""
import pytest

from knowledge.crisis import detect_crisis

HARMLESS_BY_KIND = {
    "idiom of hardship": ["引っ越しの日は死ぬ思いをしました", "夏の草むしりで死ぬような思いした"],
    "idiom of embarrassment": ["誤送信してもうた、恥ずかしすぎて死にたい笑", "はずかしくて しにそう"],
    "idiom of resolve": ["死ぬくらいの覚悟で禁煙する", "とびおりるくらいの気持ちで告白した"],
    "past set against a better now": [
        "わかか頃は消えたかったばってん、いまは平和に暮らしとる",
        "切ってた頃もあったけど、もう昔の話",
        "酒やめて4年、死にたかったのが嘘みたい",
    ],
    "helper's role": [
        "看護師をしていて、患者さんの自傷にどう向き合えばいいか悩んでいます",
        "相談員やってるんだけど、利用者が闇金に追われてる言うてたら、どこ紹介したらいい？",
        "再犯率と自殺率の関係をゼミで調べてます",
        "部下から自傷を打ち明けられました。上司としての初期対応を教えてください",
    ],
    "negated wish": ["別に消えたいとかではないけど、仕事がしんどい", "死にたいわけじゃないです、眠れないだけ"],
    "death told as a loss": ["叔父がODで亡くなって、もう六年になる。今でもときどき夢に見る"],
    "dosage question": ["頭痛薬っていっかいに何錠のめばいいの"],
    "a usual dose taken": ["風邪薬を2錠のんだけど熱が下がらない"],
    "a death dated in the past": ["叔母が自殺したのは二十年前。きょうは叔母の誕生日"],
    "asking how to reply": ["同僚が消えたいってメールしてきた。なんて返すのがいいかな"],
    "question asked ahead": ["もし元夫に殴られたら、どこに相談すればいいですか"],
    "anger with the act ruled out": ["店長しばいたろか思たわ。まあせえへんけど", "あいつ殴りたいけど、我慢する"],
    "stabbed by words": ["面接で面接官に刺された、鋭い質問で"],
    "a small accident with a tool": ["はさみで指切った、ちょっと血が出てる"],
    "what an act counts as in law": ["ぶっ殺すぞって言ったら脅迫になるの？"],
    "worry about a family member's medicines": ["父が薬をまとめて飲んでしまうのが心配で、保管のしかたを知りたい"],
    "a hand raised to ask": ["いま会議で部下が手をあげてる"],
    "a habit of speech": ["叔父が死ぬって言ってたけど、あれは口癖で今日もぴんぴんしてる"],
    "a past of hitting, set against a better now": ["昔は兄貴がよう俺を殴りよったけど、今は仲ええ"],
    "scars of a past": ["リスカの傷跡、夏は半袖着られなくて困る"],
    "hard days, daily life going on": ["生きるのしんどい時もあるけど、仕事には行ってる"],
    "anger taken out on a thing": ["はらたちすぎて くっしょん なぐってる"],
    "sleepy after a usual dose": ["花粉症の薬のんだら眠くてたまらん"],
    "a passive as a simile or a concession": ["取り立てに追われるように引っ越した", "あんなことしたんだから、恨まれて殴られても文句は言えない"],
    "someone else's act, witnessed": ["駅で人が倒れてるのを見てから、電車に乗るのが怖い"],
    "never done": ["子どもに手をあげたことは一度もありません"],
    "a passing thought, set against what holds": ["いなくなりたいって一瞬思ったけど、妹と電話して落ち着いた",
                                                 "生きてる意味わからんくなる時ある。でも犬がおるけん大丈夫"],
    "nerves, not a stroke": ["面接だと緊張して言葉が出ない"],
    "an arrest, not an abduction": ["けさ兄が警察に連れていかれた、面会はいつから？"],
    "asked to come along": ["ハローワークについてきてほしい", "保護観察をつけられたけど、何をすればいい？"],
    "できる and 生きる are not 切る": ["友達が昔リスカしてたって打ち明けてくれた。今も時々つらいらしい。私に何ができるのかな"],
    "leisure that dives": ["夏休みは川で飛び込みして遊ぶのが恒例"],
    "an episode of a drama": ["朝ドラの最終回で父親が倒れて息をしなくなって泣いた"],
    "genre without a medium": ["時代劇見とったら、みんな斬られよる"],
}

DANGER_BY_KIND = {
    "since long ago, and still": ["子どもの頃からずっと死にたい", "学生の時から消えたいと思い続けてる"],
    "a day chosen": ["あした しぬ", "今夜こそ死にます"],
    "following one who died long ago": ["十五年前に父が自殺した。私も同じように死にたい"],
    "a story named as a simile": ["兄が映画みたいにナイフ振り回してる"],
    "a past set against a worse now": ["前は平気だったけど今は死にたい", "むかしは楽しかった。いまはもう消えたい"],
    "a helper in crisis themselves": ["看護師やってるけど、もう限界、死にたい"],
    "a helper reporting danger now": ["保護司です。対象者が今やくざに追われてるって電話してきた"],
    "a wish negated, an act done": ["死にたいわけじゃないけど薬全部飲んだ"],
    "following the one who died": ["友達がODで亡くなった。私もODして後を追いたい"],
    "a dose asked to die": ["何錠飲めば死ねるの"],
    "a question asked in the middle of it": ["夫に殴られてる、逃げたらどこに行けばいい？"],
    "anger with a time set": ["殺したいくらい腹立つ、今から行く", "あいつ殺したい。包丁はある。しないけど"],
    "hit now, in a dialect verb close to 芝居": ["夫がしばいてくる、今"],
    "a stroke, told by the words that fail": ["祖父が急に言葉が出なくなった、右手も動かない"],
    "hitting now, in dialect or in keigo": ["今おやじが弟ば叩きよる", "現在、夫が義母に暴行を加えております"],
    "someone said they will die": ["妹が死ぬってLINEしてきた", "彼が「もう死ぬ」と書き置きして出ていった"],
    "not breathing, in dialect": ["ばあちゃんが息してねぇ"],
    "a high place said casually": ["いま高いとこおる。飛んだら楽になれる"],
    "charcoal lit in a room": ["弟が部屋で練炭たいとる"],
    "a thing hit, and a person too": ["父が壁殴りよる、母も殴られとる"],
    "a small ぃ dropped, dying said as a goodbye": ["しにたぃ。もぅむり", "死ぬけん、もう探さんで"],
    "sleepy after a whole box": ["睡眠薬ひと箱のんだら眠くてたまらん"],
    "a concession, and it is going on now": ["殴られても仕方ないって言われて、いまも殴られてる"],
    "witnessed, and wanting to follow": ["飛び降りの現場を見てから、わたしも死にたい"],
    "coping named to be denied": ["消えたい。けど大丈夫じゃない", "生きるのしんどいけど、もう頑張れない",
                                  "いなくなりたい。でも平気なふりしてる"],
    "taken away by someone who is not the police": ["元夫に無理やり車で連れていかれそう"],
    "followed now": ["知らない男にずっとついてこられてる、今コンビニにいる"],
    "cut and bleeding, no accident": ["カッターで腕切った、血が止まらない"],
}

# Kinds added with the fifth writer (2026-12-02): the contexts that cancel (a past told as a story,
# study and procedure, anger kept in the heart, an old self that would have, a law asked in
# hiragana) and the dangers the floor missed (someone hitting someone now, someone gone with a
# note or a means, belongings given away, relapse with an end in mind, kana typed with slips).
HARMLESS_BY_KIND_2 = {
    "a third person safe long since": ["姉がDVから逃げたのはもう10年も前の話で、今は再婚して幸せにしとる"],
    "a study of the subject": ["ゼミで若者の自殺リスクについて発表します。資料はどこで探せますか"],
    "a procedure asked by a helper": ["保護司になったばかりです。面談で死にたいと言われた時の手順はありますか"],
    "a law asked in hiragana": ["ころすぞってらいんしたら きょうはくざいになるん？", "じさつほうじょって つみになるの？"],
    "anger in the heart only": ["上司ぶっ殺すって心の中で叫んだわ。言わんかったけど", "客に殴りかかりそうになった、でも我慢した"],
    "the old self that would have": ["昔の俺なら胸ぐらつかんどったな。今日は黙って帰った"],
    "held-back anger with そんなことはしない": ["弟が腹立つ、しばきたいけどそんなことはせん"],
    "a death long ago, in dialect": ["ばあちゃんが自殺したとは、うちが小さか頃の話たい", "叔父の自死から二十年。墓参に行ってきた"],
    "resolve said with a leap": ["飛び降りる覚悟で社長に直談判した", "飛び降りるつもりで新車の契約してきた"],
    "a forgotten dose": ["かぜぐすり 何錠のむか わすれた"],
    "medicines asked together": ["焼酎と風邪薬って一緒に飲んだらだめ？"],
    "a phone call, not a cut": ["妹が家出したって母から電話きた。でも友達の家におるって連絡あった"],
    "a rooftop beer garden": ["屋上のビアガーデンなう、夜景きれい"],
    "a train late, a swim out at sea, legs gone numb": ["今駅のホームで電車待ち、遅延しとる",
                                                       "今夜は海辺でばーべきゅー、沖まで泳いだ", "足しびれて死ぬわ"],
    "a third person safe now or being helped": [
        "弟が遺書残していなくなったけど、夜中に無事見つかった。今は家で寝てる",
        "母が薬をたくさん飲んで救急車で運ばれた。命に別状はないって",
        "姉が夫に殴られてたけど、今はシェルターにいて安全です。離婚の相談先を知りたい",
        "友達が橋から飛び降りようとしてたけど、警察に保護されました",
        "弟がODして病院に運ばれたけど、もう退院して家におる",
        "彼が自殺しようとしたけど、なんとか止めることができました",
        "姉が元夫に追われてたけど、シェルターに入れて安全になった",
        "友達が首吊ろうとしてたけど、見つけて止めた。今は一緒におる",
    ],
}

DANGER_BY_KIND_2 = {
    "someone hitting someone now, in dialect": ["今おやじがおかんの首しめよる", "今兄貴がばあちゃんどついとる、止まらん", "いま義父が弟をぼこってる"],
    "a report of violence going on": ["隣室にて夫が義母を殴打中"],
    "a blade held at someone, tersely": ["今、父が母に包丁"],
    "someone gone with a note": ["夫が書き置きして出ていった。電話も出ない", "娘が「今までありがとう」ってめも残していなくなった"],
    "someone gone with a means": ["弟がロープ持って出ていったきり帰ってこない"],
    "someone said they will die, and went": ["兄が「もう死ぬ」言うて家を出ていった"],
    "someone straddling the rail": ["母が今ベランダの柵をまたいでる"],
    "given away for good": ["大事にしとったギター、友達に譲った。もう要らんけん"],
    "a day to carry it out": ["決行は今週の土曜"],
    "pills stocked": ["睡眠薬ためとったのが五十錠になった"],
    "taken, put in the mouth": ["眠剤ひと月分ぜんぶ口に入れた"],
    "cut, and blood": ["腕きった 血とまらん", "今きってる"],
    "burnt with a cigarette": ["たばこの火で手の甲やいてる"],
    "collapsed, in Tohoku": ["じいちゃんが風呂で倒れで動がね"],
    "not answering, breathing shallow": ["横で寝てた彼氏が全然動かない、呼吸が浅い"],
    "tracked, hiding": ["元夫に追跡されてる。今コンビニに避難しとる"],
    "threatened with a stab at work": ["取り立ての男が職場まで来て刺すぞって言うとる"],
    "ending a life in other words": ["自分で命を絶とうと思っています", "人生やめるわ、今夜"],
    "the world better without me": ["うちがおらんほうが家族は楽やろ", "私がいなくなれば全部片付く"],
    "relapse with an end in mind": ["また打ってしもうた。もう死んだほうがええ", "売人から買った。致死量調べてる"],
    "farewell wording": ["みんな今までありがとう。もう会えないけど元気で"],
    "a weapon carried to someone": ["あいつの家にナタ持って今から行く"],
    "emoji for the means": ["🔪持った。今からあいつんとこ行く", "💊ぜんぶのんだ"],
    "safe words that do not make it safe": ["弟が遺書残していなくなった", "昔の組のやつらに見つかった。今追いかけられてる",
                                            "退院したけど、また死にたい", "入院中やけどもう消えたい",
                                            "兄が首つろうとしたのを止めたけど、まだロープ持っとる",
                                            "弟を止めたけど、今も包丁を離さない", "今彼氏と一緒におるけど、さっきから殴られとる",
                                            "保護命令が出たのに元夫が今玄関のドア叩いてる",
                                            "救急車呼んだけどまだ来ない、母が息してない"],
    "at the edge of a quay, a platform, a stairway": ["いま港の岸壁に立っとる", "ほーむの端で通過する電車を待ってる、乗る気はない",
                                                      "今マンションの非常階段の一番上、ここからなら確実",
                                                      "大橋の真ん中付近におる。もう戻れない気がする"],
    "kana typed with slips": ["くすり いつぱい のんた", "かのしよか かみそりもつて とじこもつた"],
}

HARMLESS_BY_KIND.update(HARMLESS_BY_KIND_2)
DANGER_BY_KIND.update(DANGER_BY_KIND_2)

# Probes written for the kinds the blind sets reported (a third person safe now, a past that is
# over, venting, idioms, prevention, law, everyday means; and the dangers missed), run only after
# they were written: 9 of 45 look-alikes were alarms and 5 of 30 dangers were missed before the
# rules were extended by kind.
HARMLESS_PROBES = [
    "先週、妹が薬をたくさん飲んで入院したけど、今はもう家に戻って元気にしてる。再発を防ぐにはどうしたらいい？",
    "友達が元彼に付きまとわれてたけど、警察に相談して接近禁止になった",
    "おとんが倒れたんやけど、すぐ救急車きてくれて今は意識もはっきりしとる",
    "弟がリストカットしてるのを見つけた。手当てして、今は落ち着いて寝てる。明日病院に連れて行くつもり",
    "兄が昔、借金取りに追われてたけど、自己破産して今は普通に暮らしてる",
    "いとこが自殺未遂したって聞いた。もう退院して実家で療養中らしい",
    "母が酔った父に叩かれてたのは子どもの頃の話。両親はもう離婚してる",
    "二十歳の頃は毎日死にたかったけど、今は子どももおって幸せです",
    "前はよくリスカしてたけど、もう五年やってない。傷跡を消す方法ってある？",
    "ムショ入る前は組の人間に追われとった。今は足洗って真面目に働いとる",
    "昔ODして運ばれたことがある。今は薬の管理を妻がしてくれとる",
    "あのクソ上司マジで殴りてえ。まあ殴らんけど",
    "義母にむかつきすぎて、頭の中で十回くらい殺した笑",
    "隣の犬うるさすぎ、ぶっ飛ばしたろかと思ったわ、せんけど",
    "テスト範囲広すぎて死んだ",
    "推しが尊すぎて息できない",
    "月曜の朝は毎回消えたくなるよね笑",
    "自殺を考えている人のサインってどういうのがありますか。保護司として知っておきたい",
    "DVから逃げてきた人を泊めたら、何か法律的に問題ある？",
    "人を殴ったら何年くらいの刑になるの？",
    "ODの子への声のかけ方、研修で習ったけど自信ない",
    "ロープとブルーシート買ってきた、明日キャンプ",
    "包丁研いだら切れ味すごい、トマトきれいに切れた",
    "練炭で焼肉すると美味しいよね",
    "睡眠薬もらったけど1錠で十分効いた",
    "彼女が元カレにストーカーされてたけど、引っ越して今は平和に暮らしてる",
    "父ちゃんが脳梗塞で倒れたけど、手術うまくいって今はリハビリ中",
    "同僚が死にたいって言ってたから産業医につないだ。今は休職して療養してる",
    "娘が家出したけど、警察が見つけてくれて今は家におる",
    "弟がケンカで刺されたけど、傷は浅くてもう抜糸した",
    "三十代の頃は毎晩酒と薬で消えたいと思ってた。今は断酒会に通ってる",
    "高校の時いじめられて飛び降りようとしたことがある。今は笑い話",
    "若か頃、親父によう殴られよった。もう亡くなったけどな",
    "あいつ殺したろか思うくらい腹立ったけど、寝たら忘れた",
    "店長の顔面パンチしたい気分、しないけどね",
    "夫にイラついて包丁持つ手に力入ったわ、キャベツ千切り",
    "課題多すぎて死ぬ、徹夜確定",
    "階段から落ちそうになった、こわ",
    "この映画、主人公が首吊るシーンきつかった",
    "家族が自殺をほのめかしたらどこに相談すればいい？",
    "自殺未遂って罪になるんですか",
    "薬の飲み過ぎを防ぐ方法が知りたい。母の薬の管理のことで",
    "ホームセンターでロープと結束バンド買った、引越し準備",
    "炭と七輪でさんま焼いた",
    "痛み止め2錠飲んで寝たらだいぶ楽になった",
    # hiragana that runs words together: こんや|ねる is not やね (屋根), ない|こうえん is not いこう (逝こう)
    "こんやねるとこない　こうえんでねるしかない",
]

DANGER_PROBES = [
    "親父が今おかんの髪引っ張って殴っとる、どうしよ",
    "隣の部屋で兄が母を蹴ってる音がする、泣き声も聞こえる",
    "妻がさっき「もう疲れた」ってLINEして、電話に出ない。子どもの部屋に遺書みたいな手紙があった",
    "友達が「今から死ぬ」ってストーリーあげてる、既読つかない",
    "うちの子が風呂場に鍵かけて出てこない、カミソリがない",
    "眠剤ありったけ飲んだ。ふわふわする",
    "市販薬一箱あけた。吐きそう",
    "遺書書き終わった。あとは日にち決めるだけ",
    "ロープ買ってきた。ドアノブの高さも調べた",
    "元夫が家の前に来とる、ドア叩いてる",
    "じいちゃんが急に倒れていびきかいてる、呼んでも起きん",
    "もうどうでもいい。全部終わらせる",
    "生きとってもしゃあない、いなくなりたい",
    "死にとうてたまらん",
    "ずっと消えたいって思っとる、今日は特にやばい",
    "母が今、義父に首絞められとる",
    "弟が包丁持って母さん追いかけ回してる",
    "彼氏から「さよなら、ありがとう」ってLINE来て、それから連絡つかない",
    "兄がベランダの外に出て手すりに座っとる",
    "さっき睡眠薬30錠のんだ",
    "咳止め2本一気した、心臓ばくばく",
    "遺書とロープ、準備できた",
    "来週の日曜に決めた。身辺整理も終わった",
    "借金取りが玄関の前で怒鳴っとる、出てこいって",
    "父が床に倒れてて、呼んでも返事がない",
    "彼女が手首切って血が止まらん",
    "もう限界。生きとう無い",
    "あした目が覚めなければいいのに",
    "みんなごめんね、さようなら",
    "ｼﾆﾀｲ ｲﾏｽｸ",
    "やねのうえにいる　もうおわりにする",
]


@pytest.mark.parametrize("kind,text", [(k, t) for k, ts in HARMLESS_BY_KIND.items() for t in ts])
def test_a_harmless_look_alike_is_not_an_alarm(kind, text):
    assert not detect_crisis(text).is_crisis, (kind, text)


@pytest.mark.parametrize("kind,text", [(k, t) for k, ts in DANGER_BY_KIND.items() for t in ts])
def test_danger_sharing_their_words_stays_an_alarm(kind, text):
    assert detect_crisis(text).is_crisis, (kind, text)


@pytest.mark.parametrize("text", HARMLESS_PROBES)
def test_a_probe_look_alike_is_not_an_alarm(text):
    assert not detect_crisis(text).is_crisis, text


@pytest.mark.parametrize("text", DANGER_PROBES)
def test_a_probe_danger_is_an_alarm(text):
    assert detect_crisis(text).is_crisis, text
