"""Questions about a knowledge base itself, told apart from questions about its content.

"How many files mention X", "which files are about Y", "what is in this KB", "how many files are
there", "list the files" (and the same in Chinese: 有多少文件提到X, 哪些文件是关于Y的, 这个知识库里有什么,
知识库里有多少文件, 列出文件) are answered from the catalog and the file summaries
(``zhiku.chat.kb_answers``), not from the five passages a search finds. Anything else is an
ordinary question: the patterns are anchored on both ends and name files/documents or the KB
explicitly, so a question about the content does not match (``bench/kb_questions.py`` counts the
dev sets' questions that would: none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

KBQuestionKind = Literal["count_mention", "which_files", "overview", "count_files", "list_files"]

_F_EN = r"(?:files?|documents?|docs?)"
_KB_EN = r"(?:this|the|my|our) (?:kb|knowledge ?base)"
_IN_KB_EN = rf"(?: (?:in|of) {_KB_EN})?"
_F_ZH = r"(?:文件|文档)"
_KB_ZH = r"(?:这个|该|本|此|我的)?知识库"
_IN_KB_ZH = rf"(?:{_KB_ZH}(?:里面|里|中|内)?)?"
_MANY_ZH = r"(?:一共|总共|共)?有(?:多少|几)(?:个|份|篇)?"

_RAW: list[tuple[KBQuestionKind, str]] = [
    # -- English ---------------------------------------------------------------------------
    ("count_mention", rf"^(?:in {_KB_EN},? )?how many (?:of the )?{_F_EN}{_IN_KB_EN} (?:mention|contain|include|"
                      rf"refer to|talk about|discuss|say anything about|use|have)s? (?:the (?:word|term|name|phrase) )?"
                      rf"(?P<term>.+)$"),
    ("count_files", rf"^how many {_F_EN} (?:are (?:there )?|does |do )?(?:in |within )?{_KB_EN}(?: (?:have|hold|"
                    rf"contain|has))?$"),
    ("count_files", rf"^how many {_F_EN} are there{_IN_KB_EN}$"),
    ("which_files", rf"^(?:in {_KB_EN},? )?(?:which|what) {_F_EN}{_IN_KB_EN} (?:are|is) (?:about|on|related to|"
                    rf"concerned with) (?P<term>.+)$"),
    ("which_files", rf"^(?:in {_KB_EN},? )?(?:which|what) {_F_EN}{_IN_KB_EN} (?:mention|discuss|cover|talk about|"
                    rf"deal with|contain|refer to|describe|explain)s? (?P<term>.+)$"),
    ("list_files", rf"^(?:list|show)(?: me)?(?: all)?(?: of)?(?: the)? {_F_EN}{_IN_KB_EN}$"),
    ("list_files", rf"^what {_F_EN} (?:are (?:there )?|does |do )?(?:in )?{_KB_EN}(?: (?:have|hold|contain))?$"),
    ("overview", rf"^what(?:'s| is| do you have) in {_KB_EN}$"),
    ("overview", rf"^what (?:does|is) {_KB_EN} (?:contain|about|cover|hold)$"),
    ("overview", rf"^what is {_KB_EN}$"),
    ("overview", rf"^(?:summari[sz]e|give (?:me )?(?:an overview|a summary) of|describe|tell me about) {_KB_EN}$"),
    # -- Chinese (spaces removed before matching) --------------------------------------------
    ("count_mention", rf"^{_IN_KB_ZH}{_MANY_ZH}{_F_ZH}(?:提到|提及|包含|含有|涉及|讲到|说到|谈到|出现|用到|里有)(?:了|过)?"
                      rf"(?P<term>.+?)(?:这个词|这个名字|一词)?$"),
    ("count_mention", rf"^{_IN_KB_ZH}(?P<term>.+?)在(?:多少|几)(?:个|份|篇)?{_F_ZH}(?:里|中)?(?:出现|被提到|提到|提及)(?:过)?$"),
    ("count_mention", rf"^{_IN_KB_ZH}(?:提到|提及|包含|涉及|讲到)(?:了|过)?(?P<term>.+?)的{_F_ZH}{_MANY_ZH}$"),
    ("count_files", rf"^{_IN_KB_ZH}{_MANY_ZH}{_F_ZH}$"),
    ("which_files", rf"^{_IN_KB_ZH}(?:有)?(?:哪些|哪个|哪份|哪几个|哪几份|哪篇|哪几篇|什么){_F_ZH}(?:是)?(?:关于|讲|讲的是|在讲|"
                    rf"提到|提及|涉及|包含|介绍|讨论|谈到|讲到|说到|和|与|跟)(?:了|过)?(?P<term>.+?)"
                    rf"(?:的|有关的?|相关的?|方面的?)?(?:{_F_ZH})?$"),
    ("which_files", rf"^{_IN_KB_ZH}(?:关于|有关)(?P<term>.+?)的{_F_ZH}有哪些$"),
    ("list_files", rf"^{_IN_KB_ZH}(?:都)?有(?:哪些|什么){_F_ZH}$"),
    ("list_files", rf"^(?:请)?列出{_IN_KB_ZH}(?:的)?(?:所有|全部)?(?:的)?{_F_ZH}(?:名)?$"),
    ("overview", rf"^{_KB_ZH}(?:里面|里|中|内)?(?:都)?(?:有什么|有些什么|有哪些内容|有什么内容|包含什么|包括什么|包含哪些内容|"
                 rf"讲了?什么|讲的是什么|是关于什么的?|是做什么的?|是干什么的?|主要讲什么|涵盖什么|涵盖哪些内容)(?:内容)?$"),
    ("overview", rf"^(?:请)?(?:总结|概括|介绍|描述)(?:一下)?{_KB_ZH}(?:的内容)?$"),
]
PATTERNS: list[tuple[KBQuestionKind, re.Pattern[str]]] = [(kind, re.compile(p, re.IGNORECASE)) for kind, p in _RAW]
_END = re.compile(r"[\s?？。.!！~～]+$")
_TAIL_ZH = re.compile(r"(?:呢|吗|啊|呀|吧)$")
_QUOTES = "\"'“”‘’「」『』《》`"


@dataclass(frozen=True)
class KBQuestion:
    kind: KBQuestionKind
    term: str = ""  # what the files should mention or be about


def kb_question(question: str) -> KBQuestion | None:
    """The KB-level question ``question`` asks, or None for an ordinary question."""
    q = " ".join(question.split())
    if not q or len(q) > 200 or "\n" in question.strip():
        return None
    q = _END.sub("", q)
    zh = _TAIL_ZH.sub("", re.sub(r"\s+", "", q))
    zh = _END.sub("", zh)
    for kind, pattern in PATTERNS:
        m = pattern.match(q) or pattern.match(zh)
        if m is None:
            continue
        term = _clean(m.groupdict().get("term") or "")
        if "term" in pattern.groupindex and not term:
            continue
        return KBQuestion(kind, term)
    return None


_TERM_TAIL = re.compile(rf"(?:,? (?:in|of|within) {_KB_EN}|(?:在)?{_KB_ZH}(?:里面|里|中|内)?)$", re.IGNORECASE)


def _clean(term: str) -> str:
    term = _TERM_TAIL.sub("", _END.sub("", term.strip())).strip(_QUOTES + " ,，:：").strip()
    for prefix in ("the word ", "the term ", "the name ", "the phrase "):
        if term.lower().startswith(prefix):
            term = term[len(prefix):].strip(_QUOTES + " ")
    return term
