"""Rules the playbook reserves for humans, anger, and prompt-injection detection.

Tickets and documents are data. These checks only ever add caution (escalate, flag, drop an
evidence sentence); nothing in a ticket can switch a check off or change the reply's facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .analysis import normalize


@dataclass(frozen=True)
class Trigger:
    code: str  # the playbook's escalation tag
    reason: str
    holding: str  # which holding reply: standard | safety | security


def _rx(*parts: str) -> re.Pattern:
    return re.compile("|".join(parts), re.IGNORECASE)


# (tag, reason, holding reply kind, pattern). Order = priority when several match.
_RULES = [
    ("esc-safety", "safety issue (overheating, smoke, fire, E-601)", "safety",
     _rx(r"E-?601", r"発熱", r"過熱", r"発煙", r"煙が", r"発火", r"焦げ", r"熱くな", r"火花", r"燃え",
         r"overheat", r"\bsmoke\b", r"smoking", r"\bfire\b", r"burning", r"melt", r"sparks?", r"too hot")),
    ("esc-security", "suspected unauthorised access or account takeover", "security",
     _rx(r"不正アクセス", r"乗っ取", r"身に覚えのない(ログイン|ログイン通知|操作)", r"勝手に(ログイン|設定)", r"ハッキング",
         r"侵害", r"(アカウント|ID|パスワード).{0,10}(盗まれ|漏れ|漏洩|流出|悪用)", r"なりすまし",
         r"hack(ed|er)?", r"unauthori[sz]ed (access|login)", r"someone (else )?(logged|got) into", r"account (was |has been |is )?(compromised|taken over|breached)",
         r"\bbreach(ed)?\b", r"stolen (password|credentials|account)")),
    ("esc-legal", "legal action mentioned", "standard",
     _rx(r"弁護士", r"訴訟", r"訴え", r"裁判", r"法的(措置|手段)", r"lawyer", r"attorney", r"\bsue\b", r"lawsuit", r"legal action", r"small claims")),
    ("esc-media", "media, regulator or consumer centre mentioned", "standard",
     _rx(r"消費(生活|者)センター", r"国民生活センター", r"消費者庁", r"マスコミ", r"報道", r"SNSで(拡散|晒)", r"口コミに書",
         r"\bpress\b", r"journalist", r"regulator", r"consumer (protection|affairs)", r"go public", r"social media")),
    ("esc-deletion", "account deletion request (identity check by the privacy team)", "standard",
     _rx(r"アカウント.{0,8}(削除|消し|消去|退会)", r"(退会|削除)(したい|して|希望|をお願い)", r"個人(情報|データ).{0,8}(削除|消し)",
         r"delete (my|the|our)( [\w-]+){0,3} (account|data|profile)", r"(close|remove|erase) my account", r"right to (be forgotten|erasure)",
         r"delete all (my )?(data|information)")),
    ("esc-refund", "refund or exception outside the written policy", "standard",
     _rx(r"(期限|14日|30日).{0,12}(過ぎ|すぎ|切れ).{0,20}(返金|返品)", r"(返金|返品).{0,20}(期限|14日).{0,12}(過ぎ|すぎ|切れ)",
         r"(全額|例外|特別).{0,6}返金", r"返金.{0,10}(例外|特別)", r"補償(して|しろ|を求め)", r"賠償", r"全額返して",
         r"(\d+|[一二三四五六])\s*(か月|ヶ月|カ月|ケ月|年)(前|たって|経って|以上).{0,60}(返金|返品|返して)",
         r"(返金|返品|返して).{0,60}(\d+|[一二三四五六])\s*(か月|ヶ月|カ月|ケ月|年)(前|たって|経って|以上)",
         r"(\d+|two|three|four|five|six|several) (weeks|months|years) ago.{0,80}(refund|money back|return)",
         r"(refund|money back|return).{0,80}(\d+|two|three|four|five|six|several) (weeks|months|years) ago",
         r"(\d+|[一二三四五六])\s*(週間)(前|たって|経って|以上).{0,60}(返金|返品|返して)", r"(返金|返品|返して).{0,60}(\d+|[一二三四五六])\s*週間(前|たって|経って|以上)",
         r"(refund|return).{0,40}(after|past|outside|beyond).{0,20}(days|period|window|policy)", r"exception", r"compensat", r"full refund.{0,30}(even|although|though)")),
]

# Strong words mark anger on their own; weak ones need company ("terrible" alone is often
# about something else: "my internet provider is terrible").
_ANGER_STRONG = _rx(
    r"ふざけ", r"いい加減", r"許せ", r"信じられな", r"ありえな", r"詐欺", r"責任者", r"誠意", r"[!！]{2,}", r"二度と",
    r"unacceptable", r"ridiculous", r"furious", r"scam", r"disgusting", r"fed up", r"speak to (a|your) (manager|supervisor)",
)
_ANGER_WEAK = _rx(
    r"最悪", r"何度(も|目)", r"怒", r"どうなってる", r"3回目", r"三回目", r"もう(解約|やめ)", r"ひどい", r"うんざり", r"欠陥", r"これが最後",
    r"angry", r"worst", r"third time", r"again and again", r"terrible", r"useless", r"waste of (money|time)", r"awful",
)
_REPEAT = _rx(r"(3|３|三|4|四|何)回目", r"何度(も|目)", r"(third|fourth|\d+th) time", r"again and again", r"keep (writing|contacting|asking)")

_INJECTION = _rx(
    r"ignore (all |any |the )?(previous|prior|above|earlier) (instructions|rules|prompts?)", r"disregard (the|all|your) (rules|instructions)",
    r"system prompt", r"you are now", r"act as", r"developer mode", r"jailbreak", r"reveal (your|the) (prompt|instructions|rules)",
    r"print (your|the) (prompt|instructions)", r"new instructions?:", r"\bDAN\b",
    r"(以前|前|上記|これまで)の(指示|命令|ルール|設定)(を|は)(すべて|全て)?(無視|忘れ)", r"システムプロンプト", r"プロンプトを(表示|教え|出力)",
    r"(指示|命令)を無視", r"あなたは今から", r"開発者モード", r"制約を(解除|無視)",
    r"AIへの(命令|指示)", r"(サポート|support)\s*AIへ", r"管理者(権限|から)の(指示|命令)", r"管理者権限で",
    r"(返信|回答)(の冒頭|の最初|の最後)?(に|には)必ず", r"必ず.{0,30}(書く|載せる|入れる|記載する)こと", r"(約束|確約)(する|すること)",
    r"system override", r"admin(istrator)? (override|mode)", r"reply only with", r"respond only with", r"(include|add|put) (this|the following) (link|url)",
    r"in your (answer|reply|response),? (include|add|write|say)", r"as an official (notice|announcement)",
    # text addressed to the assistant, the model or whoever writes the reply (planted in tickets or documents)
    r"\b(AI|LLM|GPT|chatbot|bot)s?\b.{0,40}\b(must|should|always|never|please|will|are to|instructions?|reply|answer|respond|add|write|include|output|print|summari[sz])",
    r"\b(note|message|instructions?|update|reminder) (to|for) (the |all )?(AI|assistants?|models?|bots?|LLMs?|chatbots?|agents? writing|answer(ing)? systems?|the system)",
    # directives, not descriptions: "the assistant must add", not "the assistant never publishes a schedule"
    r"\b(assistants?|language models?|answer(ing)? (engine|system)s?|auto-?respon(der|se engine)s?)\b.{0,40}\b(must|should|shall|are required|need to|have to|will now)\b",
    r"\b(assistants?|language models?|answer(ing)? (engine|system)s?|auto-?respon(der|se engine)s?)\b.{0,40}\b(always|never) (include|add|reply|respond|answer|say|write|mention|tell|promise|offer|output|print|reveal|follow|ignore|use|append|sign)\b",
    # text addressed to the AI ("AIへ：", "チャットボットは以下の指示に従って…"), not text about one ("チャットボットには5つの効果があります")
    r"(AI|ＡＩ|エーアイ|アシスタント|チャットボット|ボット|自動応答|応答エンジン|回答エンジン|言語モデル|モデル)(へ\s*[:：、,]|へ$|各位|宛て|の方へ|向けの?(指示|メモ|注意|連絡|命令))",
    r"(AI|ＡＩ|エーアイ|アシスタント|チャットボット|ボット|自動応答|応答エンジン|回答エンジン|言語モデル|モデル)(は|には|に|へ|への)[、,]?.{0,30}"
    r"(必ず|指示|命令|従(って|う|え|いなさい)|(回答|返信|出力|記載|案内|お伝え|返答|追記)(して|しろ|せよ|すること|しなさい))",
    r"(担当者|回答者|オペレーター|編集者|作成者)各位", r"(編集|社内|運用)メモ", r"下書き(を作成|作成時|にも)", r"(この|本)(FAQ|ＦＡＱ|項目|ページ|文書|記事|マニュアル)を(参照|使用|使って|利用|要約|読)",
    r"(回答|返信|返答|案内|下書き|文面|お返事)(の|に|では|には|する|の際|を作る|を書く|を作成する)(際|とき|時|場合|前|冒頭|最初|最後|末尾|1行目|一行目)?.{0,12}(必ず|次の|以下の|下記の|「)",
    # a reply dictated in quotes ("「返金します」とお伝えください"); a customer told what to write on a form
    # (「置き配希望」と記載してください) or an agent guide (「確認のうえ…」と伝えます) is no injection
    r"」(と|という)(だけ)?(お伝え|ご案内|案内|回答|返信|返答|出力|答え|伝え)(して|しろ|せよ|すること|しなさい|るように|ること|ください|下さい|願い)",
    r"」(と|という)(だけ)?(記載|明記|追記|出力)(すること|せよ|しなさい)",
    r"(と|を)(回答|返答|出力|追記|明記)(する|すること|してください|して下さい|しなさい|せよ)",
    # "「置き配希望」と記載してください" tells a customer what to write on a form; into the reply it is an injection
    r"(回答|返信|返答|文面|下書き|冒頭|末尾|署名)[^。]{0,20}(と|を)記載(する|すること|してください|して下さい|しなさい|せよ)",
    r"(指示|命令|ルール|規定|設定|プロンプト)(を|は)(すべて|全て)?(無視|忘れ|上書き|破棄)", r"(以下|次|この|本|これ)の?(内容|指示|文書|設定|項目|記載|ルール)?(は|を|が)?(最優先|(より|に)?優先され(る|ます)|上書き)",
    r"(指示文|指示内容|システム設定|内部ルール|内部の指示|受け取っている指示|設定された指示)",
    r"\[(SYSTEM|SYS|ADMIN|INST|ASSISTANT|DEVELOPER)[^\]]*\]", r"<<\s*SYS\s*>>", r"</?\s*[a-z_]*(system|context|ticket|document|instruction|assistant|user|retriev)[a-z_]*\s*>",
    r"^\s*(SYSTEM|ADMIN|DEVELOPER|ASSISTANT)\s*[:：]", r"【\s*(システム|SYSTEM|管理者|重要なお知らせ：AI)", r"END OF (THE )?(TICKET|DOCUMENT|KNOWLEDGE|CONTEXT|INSTRUCTIONS)",
    r"(new|next|real|actual) (task|instructions?)\s*[:：]", r"新しい(タスク|指示)", r"(以下|次)の(内容|指示)(は|を)(最優先|必ず)",
    r"(override|supersede)s? (the |any |all )?(previous|prior|above|other|japanese|english)", r"(this|the following) (document|note|instruction|message|text|section) (has|takes|is) (the )?(highest|top) priority",
    r"(summari[sz]e|list|print|repeat|reveal|output|show|dump) (every|all|your|the) (documents?|rules?|instructions?|guidelines|prompt|context)",
    r"(do not|don't|never) (tell|mention|reveal) (this|these) (to )?(the )?(customer|user)", r"hidden (instructions?|rules?)",
    r"(role[- ]?play|pretend|you are (now )?(a|an|the) )", r"(ロールプレイ|なりきって|として振る舞)", r"(quality check|compliance check) for (ai|assistants|models)",
    r"(冒頭|最初|最後|末尾|文末|1行目|一行目|署名|結び)(に|には|へ|で).{0,30}(入れ|書|記載|追記|付け|添え|載せ|加え)(る|て|なさい|ること|よ)",
    r"(記載|記入|追記|明記|出力|宣言|約束)(すること(?=[。．！!\s」]|$)|せよ|しなさい)",  # "明記することで…" describes r"(編集|社内|運用|対応方針|スタイル|方針)メモ", r"【社内(向け|用|限り|専用)?】",
    r"\b(append|prepend)\b", r"\bsign (off|the reply|it) with\b", r"\b(end|start|begin|finish) (the|your|every|each) (reply|answer|response|draft)s? with\b",
    r"\b(persona|style note|formatting rule|editor'?s note)\b", r"\bthe (draft|reply|answer|response) must (say|contain|include|state|mention)",
    r"(your|the) (reply|answer|response|draft) (must|should|shall) (contain|include|say|state|mention|end|start)",
    r"(confirm|tell|say to|inform) (this|it) to (the )?customers? using", r"using the (exact )?words",
    r"<!--", r"[A-Za-z0-9+/]{32,}={0,2}",  # HTML comments and base64 blobs are never customer-facing knowledge
    # tickets that try to re-program the reply: "上記を無視して…と言ってください", override modes, "do-anything" bots
    r"(上記|以上|前|これまで|今まで)(の[^。]{0,12})?を(すべて|全て)?(無視|忘れ)", r"と(言って|いって|言い|述べて|書いて)(ください|下さい|くれ|ね|よ)",
    r"オーバーライド", r"(何|なん)でも(する|答える|言う|話す|できる)\s*(BOT|ボット|AI|ＡＩ|アシスタント)", r"制限(なし|無し|のない)(の|で)?(モード|AI|ＡＩ|BOT|ボット|アシスタント|回答|答え|返答|話)", r"制限を(外|解除)",
    r"\b(override|unrestricted|god) mode\b", r"\bdo anything now\b", r"\bsay (exactly|only|the words)\b",
)

# A policy "update" that grants something: the way a planted or unreviewed edit changes what
# the company promises. Such passages are held back from drafts until an editor confirms them.
_POLICY_CHANGE = _rx(r"改定|改訂|撤廃|変更になりました|変更しました|追記[:：]|キャンペーン追記", r"\bupdated?\b.{0,20}(20\d\d|policy|rule)",
                     r"effective immediately", r"\bis now available\b", r"\bno longer (required|needed|charged|applies|apply|necessary|limited|restricted|subject to|has to|have to|need to)\b", r"has been upgraded")
_COMMITMENT = _rx(r"返金", r"無料", r"無償", r"保証", r"全額", r"割引", r"交換", r"いつでも", r"refund", r"free", r"no charge",
                  r"guarantee", r"discount", r"waive", r"upgrade", r"replacement", r"at any time", r"pro rata")


def policy_claim(sentence: str) -> bool:
    t = normalize(sentence)
    return bool(_POLICY_CHANGE.search(t) and _COMMITMENT.search(t))


def without_injection(text: str) -> str:
    """The ticket minus sentences that try to instruct the assistant: what the customer says."""
    from .analysis import split_sentences

    kept = []
    for line in text.splitlines():
        sents = [x for x in split_sentences(line) if not looks_like_injection(x)]
        kept.append(" ".join(sents))
    return "\n".join(kept)


def escalation_triggers(text: str) -> list[Trigger]:
    t = normalize(without_injection(text))
    found = [Trigger(code, reason, holding) for code, reason, holding, rx in _RULES if rx.search(t)]
    if _REPEAT.search(t) and is_angry(t):
        found.append(Trigger("esc-repeat", "repeated contact about the same issue", "standard"))
    return found


def is_angry(text: str) -> bool:
    t = normalize(text)
    return 2 * len(_ANGER_STRONG.findall(t)) + len(_ANGER_WEAK.findall(t)) >= 2


@lru_cache(maxsize=16_384)
def looks_like_injection(text: str) -> bool:
    # cached: every draft screens the same evidence sentences again, and this pattern costs
    # about 0.1 ms a sentence
    return bool(_INJECTION.search(normalize(text)))


_PROBLEM = _rx(
    r"困", r"できな", r"でき(ません|ない)", r"使えな", r"使えません", r"つながらな", r"繋がらな", r"届かな", r"動かな", r"反応しな", r"壊れ", r"故障",
    r"エラー", r"E-?\d{3}", r"不具合", r"消えな", r"not work", r"doesn't work", r"can't", r"cannot", r"won't", r"broken", r"error",
    r"problem", r"issue", r"fail", r"offline", r"stopped",
)


def reports_a_problem(text: str) -> bool:
    """The customer describes something going wrong: the reply opens with an apology."""
    return bool(_PROBLEM.search(normalize(text)))


# --- evidence screening and the last check on every reply -----------------------------------------

_LINK = re.compile(r"https?://[^\s)\]」>『』（）\"'<]+", re.IGNORECASE)


def _host(url: str) -> str:
    from urllib.parse import urlparse

    try:
        return (urlparse(url).hostname or "").lower().rstrip(".")
    except ValueError:  # "http://[evil" : not a link to any allowed host
        return ""


def foreign_links(text: str, allowed_hosts: tuple[str, ...]) -> list[str]:
    """Links in `text` whose host is not one of the company's domains (or their subdomains)."""
    out = []
    for url in _LINK.findall(normalize(text)):
        h = _host(url)
        if not any(h == d or h.endswith("." + d) for d in allowed_hosts):
            out.append(url)
    return out


def screen_passage(text: str, allowed_hosts: tuple[str, ...]) -> tuple[str, list[str]]:
    """A knowledge passage as drafts may use it. Returns (text, dropped sentences).

    - A passage with any sentence that instructs the assistant (or fake role tags and
      delimiters, HTML comments, encoded blobs), or that grants something through a policy
      "update", is tainted as a whole: the text around an injection is the attacker's too, so
      the passage is dropped ("" comes back) until an editor has reviewed it.
    - Otherwise only sentences with links off the company's domains are dropped.
    """
    from .analysis import split_sentences

    kept_lines, dropped = [], []
    for line in text.splitlines():
        if not line.strip():
            kept_lines.append(line)
            continue
        sents = [line.strip()] if " | " in line else split_sentences(line)
        keep = []
        for sent in sents:
            if looks_like_injection(sent) or policy_claim(sent):
                return "", [sent]
            if foreign_links(sent, allowed_hosts):
                dropped.append(sent)
            else:
                keep.append(sent)
        if keep:
            kept_lines.append(("" if not line.isascii() else " ").join(keep))
    return "\n".join(kept_lines).strip(), dropped


def prompt_echoes(sentence: str, prompt_texts: list[str], window: int = 40) -> bool:
    """True when the sentence repeats a stretch of the drafter's own instructions."""
    s = re.sub(r"\s+", " ", normalize(sentence)).lower()
    if len(s) < window:
        return False
    for p in prompt_texts:
        p = re.sub(r"\s+", " ", normalize(p)).lower()
        for i in range(0, max(1, len(s) - window + 1), 4):
            if s[i : i + window] in p:
                return True
    return False


def guard_reply(reply: str, allowed_hosts: tuple[str, ...], prompt_texts: list[str]) -> tuple[str, list[str]]:
    """The last check on a reply, whichever drafter wrote it: no foreign links, no text that
    instructs, and nothing of the drafter's own instructions. Returns (reply, removed)."""
    from .analysis import split_sentences

    out_lines, removed = [], []
    for line in reply.splitlines():
        if not line.strip():
            out_lines.append(line)
            continue
        keep = []
        for sent in split_sentences(line):
            if foreign_links(sent, allowed_hosts) or looks_like_injection(sent) or prompt_echoes(sent, prompt_texts):
                removed.append(sent)
            else:
                keep.append(sent)
        if keep:
            out_lines.append((" " if line.isascii() else "").join(keep))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out_lines)).strip(), removed
