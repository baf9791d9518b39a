"""Fitting a conversation into a model's context window.

The reply's tokens are reserved first, then the system prompt and the question (never
cut). Sources come next, whole and in rank order; only the first source may be
shortened, at a sentence boundary under its ``[n]`` header, so a citation number
always points at the text it names. Earlier turns get what is left (at most
``history_share`` of the room when sources need it): the newest turns are kept, the
oldest go first, a turn (question + answer) stays whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from zhiku.errors import ContextTooLong
from zhiku.llm.base import Message

Counter = Callable[[str], int]
PER_MESSAGE = 8  # role markers and separators a chat template adds around each message


@dataclass
class Fitted:
    sources: list[str]  # rendered source blocks kept, in order (the first may be shortened)
    history: list[Message]  # the turns kept, oldest first
    dropped_sources: int
    dropped_turns: int
    prompt_tokens: int


def _turns(history: Sequence[Message]) -> list[list[Message]]:
    """Group messages into turns: a user message and the replies that follow it."""
    turns: list[list[Message]] = []
    for m in history:
        if m["role"] == "user" or not turns:
            turns.append([m])
        else:
            turns[-1].append(m)
    return turns


def _shorten(header: str, body: str, room: int, count: Counter) -> str | None:
    from zhiku.text.sentences import split_sentences

    kept = ""
    for sent in split_sentences(body):
        trial = kept + (" " if kept and kept[-1].isascii() and sent[:1].isascii() else "") + sent
        if count(f"{header}\n{trial}…") > room:
            break
        kept = trial
    return f"{header}\n{kept.strip()}…" if kept.strip() else None


def fit(
    count: Counter, context_window: int, reply_tokens: int, system: str, question_block: Callable[[str], str],
    sources: Sequence[tuple[str, str]], history: Sequence[Message], history_share: float = 0.3,
    separator: str = "\n\n",
) -> Fitted:
    """``sources`` are (header, body) pairs; ``question_block(rendered_sources)`` is the user message."""
    fixed = count(system) + count(question_block("")) + 3 * PER_MESSAGE
    room = context_window - reply_tokens - fixed
    if room <= 0:
        raise ContextTooLong(
            f"the question and instructions ({fixed} tokens) leave no room in the model's {context_window}-token "
            f"window for a {reply_tokens}-token reply; shorten the question", needed=fixed, window=context_window)
    history_tokens = [sum(count(m["content"]) + PER_MESSAGE for m in t) for t in _turns(history)]
    want_history = sum(history_tokens)
    source_room = room - min(want_history, int(room * history_share)) if sources else 0
    sep = count(separator)
    kept: list[str] = []
    used = 0
    for i, (header, body) in enumerate(sources):
        block = f"{header}\n{body}"
        cost = count(block) + sep
        if used + cost <= source_room:
            kept.append(block)
            used += cost
            continue
        if i == 0:
            short = _shorten(header, body, source_room - sep, count)
            if short is not None:
                kept.append(short)
                used += count(short) + sep
        break
    if sources and not kept:
        raise ContextTooLong(
            f"no source fits the model's {context_window}-token window next to the question; use a model with a "
            "larger context window or a shorter question", window=context_window)
    left = room - used
    turns = _turns(history)
    chosen: list[list[Message]] = []
    for turn, cost in zip(reversed(turns), reversed(history_tokens)):
        if cost > left:
            break
        chosen.append(turn)
        left -= cost
    chosen.reverse()
    return Fitted(
        sources=kept, history=[m for t in chosen for m in t], dropped_sources=len(sources) - len(kept),
        dropped_turns=len(turns) - len(chosen), prompt_tokens=context_window - reply_tokens - left,
    )
