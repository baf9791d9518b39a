"""OpenAI-compatible API under ``/v1``: models, chat completions, embeddings.

- ``GET /v1/models``: the configured chat models plus one model per knowledge base, ``kb:<name>``.
- ``POST /v1/chat/completions``: a ``kb:<name>`` model answers over that KB; the last user message
  is the question, earlier user/assistant messages the history (system messages are ignored).
  Citations travel in an extra top-level field ``citations`` (a list of Citation objects); when
  streaming, in the final chunk (the one with ``finish_reason``). Chat with a plain chat model and
  no KB is not available yet (400).
- ``POST /v1/embeddings``: ``model`` names an embedder (default: the configured default).

Errors keep the one error shape ``{"error": {"type", "message", "details"}}``, which the openai
SDK reads as its error body (``openai.NotFoundError`` for 404 and so on).
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any, AsyncIterator, Iterator, Literal

import numpy as np
from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from zhiku.api import sse
from zhiku.api.deps import ZhikuDep
from zhiku.api.errors import responses
from zhiku.app import Zhiku
from zhiku.errors import InvalidInput, NotFound
from zhiku.schema import Answer

router = APIRouter(prefix="/v1", tags=["openai-compatible"])

KB_PREFIX = "kb:"
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\s\u3400-\u9fff\uf900-\ufaff]+")


def _tokens(text: str) -> int:
    """A rough token count (each CJK character, each other word): there is no tokenizer to ask."""
    return len(_TOKEN.findall(text))


# -- request bodies ----------------------------------------------------------------------
class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's request; sampling options are accepted and ignored by the extractive answerer."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, description="`kb:<name>` to answer over a knowledge base")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    input: str | list[str] = Field(description="a text or a list of texts")
    model: str | None = Field(None, description="an embedder name (default: the configured default)")
    encoding_format: Literal["float", "base64"] = "float"


# -- helpers -------------------------------------------------------------------------------
def _text(message: ChatMessage) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    parts = []
    for part in message.content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise InvalidInput("only text content parts are supported", part_type=part.get("type"))
        parts.append(part["text"])
    return "".join(parts)


def _chat_names(zhiku: Zhiku) -> list[str]:
    return [m.name for m in zhiku.list_chat_models(check=False)]


def _kb_of(zhiku: Zhiku, model: str) -> str:
    """The KB a ``kb:<name>`` model answers over; 400 for a chat model, 404 for an unknown name."""
    if model.startswith(KB_PREFIX):
        name = model[len(KB_PREFIX):]
        zhiku.kb(name)  # NotFound (404) for an unknown KB
        return name
    if model in _chat_names(zhiku):
        raise InvalidInput(
            f"chat with the model '{model}' without a knowledge base comes later; "
            f"use a '{KB_PREFIX}<name>' model to answer over a knowledge base", model=model)
    raise NotFound(f"model '{model}' does not exist; see GET /v1/models", model=model)


def _question_and_history(messages: list[ChatMessage]) -> tuple[str, list[dict[str, str]]]:
    turns = [m for m in messages if m.role != "system"]
    if not turns or turns[-1].role != "user":
        raise InvalidInput("the last message must come from the user")
    for m in turns[:-1]:
        if m.role not in ("user", "assistant"):
            raise InvalidInput(f"unsupported message role '{m.role}' (user, assistant or system)", role=m.role)
    question = _text(turns[-1])
    if not question.strip():
        raise InvalidInput("the last user message is empty")
    return question, [{"role": m.role, "content": _text(m)} for m in turns[:-1]]


def _citations(answer: Answer) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in answer.citations]


def _usage(prompt: str, completion: str, answer: Answer | None = None) -> dict[str, int]:
    reported = getattr(answer, "usage", None)
    if isinstance(reported, dict) and {"prompt_tokens", "completion_tokens"} <= set(reported):
        p, c = int(reported["prompt_tokens"]), int(reported["completion_tokens"])
    else:
        p, c = _tokens(prompt), _tokens(completion)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _finish_reason(answer: Answer) -> str:
    reason = getattr(answer, "finish_reason", None)
    return "length" if reason == "length" else "stop"


# -- routes ----------------------------------------------------------------------------------
@router.get("/models")
def list_models(zhiku: ZhikuDep) -> dict[str, Any]:
    """Configured chat models, and one ``kb:<name>`` model per knowledge base."""
    now = int(time.time())
    data = [{"id": m.name, "object": "model", "created": now, "owned_by": f"zhiku ({m.source})"}
            for m in zhiku.list_chat_models(check=False)]
    data += [{"id": KB_PREFIX + kb.name, "object": "model", "created": int(kb.created_at.timestamp()),
              "owned_by": "zhiku (knowledge base)", "description": kb.description}
             for kb in zhiku.list_kbs()]
    return {"object": "list", "data": data}


@router.post("/chat/completions", responses={
    200: {"description": "a `chat.completion` (JSON), or with `stream: true` a text/event-stream of "
                         "`chat.completion.chunk` objects as `data:` lines, ending with `data: [DONE]`",
          "content": {sse.MEDIA_TYPE: {"schema": {"type": "string"}}}},
    **responses(400, 404, 422)})
async def chat_completions(body: ChatCompletionRequest, zhiku: ZhikuDep) -> Any:
    """OpenAI chat completions; a `kb:<name>` model answers over that KB, with `citations`."""
    kb = await run_in_threadpool(_kb_of, zhiku, body.model)
    question, history = _question_and_history(body.messages)
    cid = "chatcmpl-" + uuid.uuid4().hex
    created = int(time.time())
    prompt = "\n".join(_text(m) for m in body.messages)
    if not body.stream:
        answer = await run_in_threadpool(zhiku.chat_kb, [kb], question, history)
        return {
            "id": cid, "object": "chat.completion", "created": created, "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.answer},
                         "logprobs": None, "finish_reason": _finish_reason(answer)}],
            "usage": _usage(prompt, answer.answer, answer),
            "citations": _citations(answer),
        }

    items: Iterator[str | Answer] = await run_in_threadpool(zhiku.chat_kb_stream, [kb], question, history)
    # the first item runs retrieval: its errors become error responses, not a broken stream
    first = await run_in_threadpool(next, items, None)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(_chunks(cid, created, body.model, prompt, first, items, include_usage),
                             media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


async def _chunks(cid: str, created: int, model: str, prompt: str, first: str | Answer | None,
                  items: Iterator[str | Answer], include_usage: bool) -> AsyncIterator[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False, default=str)}\n\n".encode("utf-8")

    yield chunk({"role": "assistant", "content": ""})
    text: list[str] = []
    final: Answer | None = None
    try:
        rest = iterate_in_threadpool(items)
        pending = [first] if first is not None else []
        while True:
            if pending:
                item = pending.pop()
            else:
                try:
                    item = await rest.__anext__()
                except StopAsyncIteration:
                    break
            if isinstance(item, Answer):
                final = item
            elif item:
                text.append(item)
                yield chunk({"content": item})
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            await run_in_threadpool(close)  # stops a model's generation when the client goes away
    completion = "".join(text)
    citations = _citations(final) if final is not None else []
    yield chunk({}, _finish_reason(final) if final is not None else "stop", citations=citations)
    if include_usage:
        usage = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [], "usage": _usage(prompt, completion, final)}
        yield f"data: {json.dumps(usage)}\n\n".encode("utf-8")
    yield b"data: [DONE]\n\n"


@router.post("/embeddings", responses=responses(400, 404, 422))
def embeddings(body: EmbeddingRequest, zhiku: ZhikuDep) -> dict[str, Any]:
    """OpenAI embeddings from one of zhiku's embedders (passage embeddings, L2-normalised as stored)."""
    name = body.model or zhiku.settings.embedding.default
    if name not in zhiku.settings.embedder_names():
        raise NotFound(f"embedding model '{name}' does not exist; configured: "
                       f"{', '.join(zhiku.settings.embedder_names())}", model=name)
    texts = [body.input] if isinstance(body.input, str) else list(body.input)
    if not texts:
        raise InvalidInput("input is empty")
    vectors = np.asarray(zhiku.embedder(name).embed_passages(texts), dtype=np.float32)
    data = []
    for i, vector in enumerate(vectors):
        embedding: Any = (base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
                          if body.encoding_format == "base64" else vector.tolist())
        data.append({"object": "embedding", "index": i, "embedding": embedding})
    tokens = sum(_tokens(t) for t in texts)
    return {"object": "list", "data": data, "model": name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
