"""What kind of answer a question asks for, and whether a sentence holds one.

The extractive answerer quotes sentences; a sentence that repeats the question's words but not
the asked-for thing (the meeting's time when the place was asked) is the wrong quote. A
question's type — when, where, who, how many, how long, why — is read from its question words, Chinese or
English, and a sentence offers that type when it holds something of the kind the question does
not already contain: a date or year, a number with its unit, a time or length, a place, a name, a reason. The
sentence may be in another language than the question (a Chinese question over an English
document), so every type's sentence patterns cover both languages.

Text is matched after ``normalize_for_match`` (Simplified, lower case, half-width), so the
patterns are written in that form; names are recognised in the original text (capitals).
"""

from __future__ import annotations

import re

_ZH_NUM = "零〇一二三四五六七八九十百千万亿两"
_EN_NUMBERS = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
               r"hundred|thousand|million|billion|trillion|dozen|half|several")
_MONTHS = r"january|february|march|april|may|june|july|august|september|october|november|december"

# question type → the question words that ask for it (normalised text); the first match wins, so
# the narrower readings come first ("多少年" asks how many, "哪一年" asks when, "命名为什么" asks a name,
# not why)
QUESTION_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("name", re.compile(r"(?:叫|称|稱|名为|名為|命名为|命名為|取名|译为|譯為|翻译为|翻譯為)(?:做|作|为|為)?(?:什么|什麼|何)|"
                        r"什么名字|什麼名字|\bwhat (?:is|was|are|were) (?:the |this |that |it |they )?[\w\s]{0,40}"
                        r"(?:called|named|known as|termed|referred to as)\b|\bwhat name\b")),
    ("why", re.compile(r"为什么|为何|为啥|何故|什么原因|原因是|^\s*why\b|\bwhat (?:caused|causes|is the reason)|"
                       r"\bfor what reason\b")),
    ("year", re.compile(r"哪一?年(?!代|级|龄)|何年|什么年份|\b(?:what|which) year\b")),
    ("when", re.compile(r"何时|什么时候|什么时间|哪一?年|哪一?天|哪个?月|几月|几号|几点|哪个?(?:世纪|年代|朝代|时期|季节)|"
                        r"何年|^\s*when\b|\bwhat (?:year|date|time|day|month|century|decade|period|era|age)\b|"
                        r"\bwhich (?:year|date|day|month|century|decade|period|era)\b|\bhow long ago\b|"
                        r"\bin what year\b")),
    # "how long" asks for a time or a length, not any number ("99.86% of the mass" does not answer it)
    ("how_long", re.compile(r"多久|多长|多少时间|\bhow long\b")),
    ("how_many", re.compile(r"多少|几(?!乎|何|率)|多(?:大|长|高|远|重|久|宽|深|厚|快)|百分之几|"
                            r"\bhow (?:many|much|long|far|old|big|large|tall|high|often|deep|wide|fast)\b|"
                            r"\bwhat (?:percentage|percent|proportion|number|amount|size|population)\b")),
    ("where", re.compile(r"哪里|哪儿|在哪|何处|何地|去哪|哪个?(?:国家|城市|地方|地区|省|州|市|县|国|城|岛|洲|大学|学校|医院)|"
                         r"什么地方|^\s*where\b|\bwhat (?:country|city|place|region|state|continent|location)\b|"
                         r"\bwhich (?:country|city|place|region|state|continent|location)\b")),
    ("who", re.compile(r"谁|哪位|何人|哪个?人|什么人|哪家(?:公司|机构)?|^\s*(?:who|whom|whose)\b|"
                       r"\bwhich (?:person|man|woman|king|queen|president|company|organization|team|group)\b")),
)

ANSWER_PATTERNS: dict[str, re.Pattern[str]] = {
    # a year, not a month or a day: "4月20日" does not answer "哪一年", "1857年3月" does
    "year": re.compile(rf"(?<!\d)(?:1\d{{3}}|20\d{{2}})(?!\d)|[\d{_ZH_NUM}]+\s*年(?!代|级|龄|轻|纪)|"
                       rf"\b\d{{1,4}}\s*(?:bc|ad|bce|ce)\b"),
    "when": re.compile(rf"(?<!\d)(?:1\d{{3}}|20\d{{2}})(?!\d)|[\d{_ZH_NUM}]+\s*(?:年|月|日|号|世纪|年代|点|时|分)|"
                       rf"[{_ZH_NUM}\d]+\s*(?:世纪)|(?:上午|下午|早上|晚上|凌晨|中午|傍晚|今年|去年|明年|当年|同年|次年|"
                       rf"春季|夏季|秋季|冬季|春天|夏天|秋天|冬天|初期|中期|末期|期间|时期|朝|代)|"
                       rf"\b(?:{_MONTHS}|century|centuries|decade|bc|ad|bce|ce|\d{{1,2}}(?:am|pm)|"
                       rf"spring|summer|autumn|fall|winter|morning|evening|night|yesterday|today|during)\b|\d+s\b"),
    "how_many": re.compile(rf"\d|[{_ZH_NUM}]+\s*(?:个|名|人|位|次|年|天|月|日|小时|分钟|秒|公里|千米|米|厘米|公斤|千克|吨|"
                           rf"元|美元|亿|万|倍|岁|种|项|家|座|部|本|条|只|头|所|层|届|件|台|辆|艘|架|场|份|%|成)|"
                           rf"百分之|\b(?:{_EN_NUMBERS})\b|%|percent"),
    "how_long": re.compile(rf"[\d{_ZH_NUM}半几数]+\s*(?:个|多)?\s*(?:多)?\s*(?:秒|分钟|分|小时|钟头|天|工作日|自然日|日|周|星期|礼拜|月|年|"
                           rf"季度|世纪|公里|千米|米|厘米|毫米|英里|英尺|光年)|"
                           rf"(?:\d+(?:[.,]\d+)?|\b(?:{_EN_NUMBERS}|a|an|few|many|some))\s*-?\s*(?:seconds?|minutes?|"
                           rf"hours?|days?|nights?|weeks?|months?|years?|decades?|centur(?:y|ies)|millenni(?:um|a)|"
                           rf"km|kilomet(?:re|er)s?|met(?:re|er)s?|miles?|feet|foot|ft|inch(?:es)?|cm|mm|"
                           rf"light[- ]years?)\b"),
    "where": re.compile(r"在|位于|于|坐落|来自|前往|到达|省|市|县|区|镇|村|州|国|城|岛|洲|山|河|湖|海|港|街|路|楼|馆|厅|室|"
                        r"大学|学院|医院|中心|\b(?:in|at|near|from|located|situated|based|into|to)\b"),
    "name": re.compile(r"称为|称作|叫做|叫作|名为|命名|之称|简称|别名|别称|又名|又称|俗称|号称|译为|意为|"
                       r"\b(?:called|named|known as|termed|referred to as|dubbed|nicknamed)\b"),
    "who": re.compile(r"由|担任|先生|女士|教授|博士|主席|总统|总理|部长|经理|主任|院长|校长|负责人|联系人|作者|创始人|"
                      r"导演|国王|皇帝|提出|发明|发现|创立|领导|\b(?:by|named|called|led|founded|written|king|queen|"
                      r"president|emperor|leader|author|director|inventor)\b"),
    "why": re.compile(r"因为|由于|因此|所以|原因|为了|以便|导致|造成|使得|以免|是因|目的|\b(?:because|due|since|"
                      r"so that|in order|as a result|caused|reason|therefore|thus|led to|to avoid|to prevent)\b"),
}
# "三大叶绿体谱系", "四类", "两批": a count with a word the unit list above leaves out
_COUNTED = re.compile(rf"[{_ZH_NUM}\d]+\s*(?:大(?![学约概多型量小部])|类|组|批|期|代|方面|部分|阶段|派|路|档)")
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+(?:of\s+|de\s+|von\s+)?[A-Z][a-z]+)*")
_NUMBERISH = re.compile(rf"\d+(?:[.,]\d+)?|[{_ZH_NUM}]{{1,6}}")


def question_type(question: str, narrow: bool = True) -> str | None:
    """``name``, ``why``, ``year``, ``when``, ``how_many``, ``where``, ``who`` or None; ``question``
    normalised. ``narrow=False``: without ``name``, ``year`` and ``how_long`` (the answerer before them,
    for benchmarks)."""
    for kind, pattern in QUESTION_WORDS:
        if not narrow and kind in ("name", "year", "how_long"):
            continue
        if pattern.search(question):
            return kind
    return None


def offers(kind: str, sentence: str, raw_sentence: str, question: str, raw_question: str,
           counted: bool = True) -> bool:
    """Whether the sentence holds something of ``kind`` that the question does not already hold
    (``sentence``/``question`` normalised, the raw forms for capitalised names). ``counted=False``:
    a count is only a number with a unit of the list (三大, 四类 not read as counts; for benchmarks)."""
    pattern = ANSWER_PATTERNS[kind]
    if kind in ("when", "how_many", "how_long", "year"):
        asked = set(_NUMBERISH.findall(question))
        matches = list(pattern.finditer(sentence))
        if kind == "how_many" and counted:
            matches += list(_COUNTED.finditer(sentence))
        return any(not set(_NUMBERISH.findall(m.group())) <= asked or not _NUMBERISH.search(m.group())
                   for m in matches)
    if kind == "who":
        known = {n.lower() for n in _NAME.findall(raw_question)}
        names = [n for n in _NAME.findall(raw_sentence) if n.lower() not in known]
        return bool(names) or bool(pattern.search(sentence))
    return bool(pattern.search(sentence))
