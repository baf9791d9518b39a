"""Summaries written by a chat model: map-reduce over a file's chunks within the model's context.

The chunks are packed, in order, into parts that fit the model's context window (with room for
the prompt and the reply); each part is summarised (map), and the partial summaries are packed and
summarised again (reduce) until one call holds them all. A file that fits in one call is
summarised in one call. The reply is bounded so that at least two partial summaries fit in one
call: every round shrinks, and the rounds end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zhiku.errors import InvalidInput, ZhikuError
from zhiku.llm.base import ChatModel, Message, complete

PROMPTS = {
    "zh": {
        "whole": "请概括文件《{name}》的内容：它讲了什么、要点有哪些。不超过 {size} 字，只写摘要本身。\n\n{text}",
        "part": "下面是文件《{name}》的一部分（{i}/{n}）。请概括这部分的要点，不超过 {size} 字，只写概括本身。\n\n{text}",
        "reduce": "下面是文件《{name}》各部分的概括。请把它们合成一段完整的文件摘要，不超过 {size} 字，只写摘要本身。\n\n{text}",
        "kb": "下面是知识库“{name}”的说明和其中各文件的摘要。请写一段知识库摘要：包含哪些内容、涉及哪些主题。"
              "不超过 {size} 字，只写摘要本身。\n\n{text}",
    },
    "en": {
        "whole": "Summarise the file '{name}': what it is about and its main points, in at most {size} words. "
                 "Write only the summary.\n\n{text}",
        "part": "This is part {i} of {n} of the file '{name}'. Summarise its main points in at most {size} words. "
                "Write only the summary.\n\n{text}",
        "reduce": "These are summaries of the parts of the file '{name}'. Combine them into one summary of the "
                  "whole file in at most {size} words. Write only the summary.\n\n{text}",
        "kb": "These are the description of the knowledge base '{name}' and the summaries of its files. Write "
              "one summary of the knowledge base: what it contains and which topics it covers, in at most "
              "{size} words. Write only the summary.\n\n{text}",
    },
}
SYSTEM = {"zh": "你是一个认真、简洁的文档摘要助手。", "en": "You summarise documents faithfully and concisely."}
FRAME_TOKENS = 16  # the chat template's own tokens around the two messages
MAX_ROUNDS = 12


@dataclass
class Budget:
    """How a model's context window is shared: the longest reply and the text one call may hold."""

    reply: int
    text: int


def budget(model: ChatModel, lang: str, reply_max: int | None = None) -> Budget:
    frame = model.count_tokens(SYSTEM[lang]) + max(
        model.count_tokens(p.format(name="x" * 40, i=99, n=99, size=999, text="")) for p in PROMPTS[lang].values())
    room = model.context_window - frame - FRAME_TOKENS
    reply = min(reply_max or model.max_tokens, model.max_tokens, max(16, room // 3))
    text = room - reply
    if text < 2 * reply or reply < 16:
        raise InvalidInput(f"chat model '{model.name}' has a context window of {model.context_window} tokens: "
                           f"too small to summarise in (the prompt alone takes {frame})", model=model.name)
    return Budget(reply, text)


class MapReduce:
    """One summary by ``model``, counting its calls."""

    def __init__(self, model: ChatModel, lang: str, reply_max: int | None = None, temperature: float = 0.1) -> None:
        self.model, self.lang = model, lang if lang in PROMPTS else "en"
        self.budget = budget(model, self.lang, reply_max)
        self.temperature = temperature
        self.calls = 0

    def file(self, name: str, texts: Sequence[str]) -> str:
        return self._reduce(name, [t for t in texts if t.strip()], "whole", "part", "reduce")

    def kb(self, name: str, texts: Sequence[str]) -> str:
        return self._reduce(name, [t for t in texts if t.strip()], "kb", "reduce", "kb")

    def _reduce(self, name: str, parts: list[str], whole: str, step: str, last: str) -> str:
        """``whole``: the prompt when everything fits one call; ``step``: the first round's per part;
        ``last``: the call that combines the partial summaries."""
        if not parts:
            raise InvalidInput(f"'{name}' has no text to summarise", name=name)
        for _ in range(MAX_ROUNDS):
            groups = self.pack(parts)
            if len(groups) == 1:
                return self._call(whole, name, groups[0])
            parts = [self._call(step, name, g, i, len(groups)) for i, g in enumerate(groups, 1)]
            step, whole = "reduce", last
        raise ZhikuError(f"the summary of '{name}' did not converge in {MAX_ROUNDS} rounds")

    def pack(self, parts: Sequence[str]) -> list[str]:
        """``parts`` joined, in order, into texts that each fit one call; a part too long for one
        call is cut where it stops fitting."""
        limit, count = self.budget.text, self.model.count_tokens
        groups: list[str] = []
        current: list[str] = []
        used = 0
        for part in parts:
            for piece in self._fitting(part):
                n = count(piece) + 1
                if current and used + n > limit:
                    groups.append("\n\n".join(current))
                    current, used = [], 0
                current.append(piece)
                used += n
        if current:
            groups.append("\n\n".join(current))
        return groups

    def _fitting(self, text: str) -> list[str]:
        limit, count = self.budget.text - 1, self.model.count_tokens
        pieces = []
        while count(text) > limit:
            cut = max(1, int(len(text) * limit / count(text) * 0.95))
            while cut > 1 and count(text[:cut]) > limit:
                cut = int(cut * 0.9)
            pieces.append(text[:cut])
            text = text[cut:]
        return [*pieces, text] if text.strip() else pieces

    def _call(self, kind: str, name: str, text: str, i: int = 1, n: int = 1) -> str:
        size = self.budget.reply if self.lang == "zh" else max(8, int(self.budget.reply * 0.6))
        messages: list[Message] = [
            {"role": "system", "content": SYSTEM[self.lang]},
            {"role": "user", "content": PROMPTS[self.lang][kind].format(name=name, i=i, n=n, size=size, text=text)}]
        self.calls += 1
        reply = complete(self.model, messages, max_tokens=self.budget.reply, temperature=self.temperature)
        out = reply.text.strip()
        if not out:
            raise ZhikuError(f"chat model '{self.model.name}' gave an empty summary of '{name}'", model=self.model.name)
        return out
