"""Rules the playbook reserves for humans, anger, and prompt-injection detection.

Tickets and documents are data. These checks only ever add caution (escalate, flag, drop an
evidence sentence); nothing in a ticket can switch a check off or change the reply's facts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
         r"hack(ed|er)?", r"unauthori[sz]ed (access|login)", r"someone (else )?(logged|got) into", r"account (was )?(compromised|taken over)")),
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
         r"(\d+|two|three|four|five|six|several) (months|years) ago.{0,80}(refund|money back|return)",
         r"(refund|money back|return).{0,80}(\d+|two|three|four|five|six|several) (months|years) ago",
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
)


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


def looks_like_injection(text: str) -> bool:
    return bool(_INJECTION.search(normalize(text)))


_PROBLEM = _rx(
    r"困", r"できな", r"でき(ません|ない)", r"使えな", r"使えません", r"つながらな", r"繋がらな", r"届かな", r"動かな", r"反応しな", r"壊れ", r"故障",
    r"エラー", r"E-?\d{3}", r"不具合", r"消えな", r"not work", r"doesn't work", r"can't", r"cannot", r"won't", r"broken", r"error",
    r"problem", r"issue", r"fail", r"offline", r"stopped",
)


def reports_a_problem(text: str) -> bool:
    """The customer describes something going wrong: the reply opens with an apology."""
    return bool(_PROBLEM.search(normalize(text)))
