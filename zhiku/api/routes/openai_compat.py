"""OpenAI-compatible API under ``/v1``: models, chat completions, embeddings.

- ``GET /v1/models``: the configured chat models plus one model per knowledge base, ``kb:<name>``.
- ``POST /v1/chat/completions``: a ``kb:<name>`` model answers over that KB; the last user message
  is the question, earlier user/assistant messages the history (system messages are ignored).
  Citations travel in an extra top-level field ``citations`` (a list of Citation objects); when
  streaming, in the final chunk (the one with ``finish_reason``). A configured chat model answers
  as itself (LLM chat, no retrieval): system messages are its instructions, ``temperature`` and
  ``max_tokens`` are passed on; an unreachable model is a 503 with the reason.
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
from typing import Annotated, Any, Iterator, Literal

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from zhiku.api import sse
from zhiku.api.chat_events import answer_of, respond, text_of, whole
from zhiku.api.deps import ReadableKBIds, ZhikuDep
from zhiku.api.errors import responses
from zhiku.api.security import Scope, kbs_in_body
from zhiku.app import Zhiku
from zhiku.chat.files import is_temp_kb
from zhiku.chat.pipeline import as_turns
from zhiku.chat.turns import Ended, TurnResult
from zhiku.errors import InvalidInput, NotFound
from zhiku.schema import Answer, AnswerEvent, AnswerRequest, limits

router = APIRouter(prefix="/v1", tags=["openai-compatible"])

KB_PREFIX = "kb:"
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\s\u3400-\u9fff\uf900-\ufaff]+")


def _tokens(text: str) -> int:
    """A rough token count (each CJK character, each other word): there is no tokenizer to ask."""
    return len(_TOKEN.findall(text))


# -- request bodies ----------------------------------------------------------------------
class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str = Field(max_length=limits.NAME_MAX_CHARS)
    content: Annotated[str, Field(max_length=limits.MESSAGE_MAX_CHARS)] | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's request; sampling options are accepted and ignored by the extractive answerer."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=limits.NAME_MAX_CHARS,
                       description="`kb:<name>` to answer over a knowledge base, or a chat model")
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=limits.MESSAGES_MAX),
                        AfterValidator(limits.question_last)]
    stream: bool = False
    temperature: float | None = Field(None, ge=0, le=2, description="chat models only")
    max_tokens: int | None = Field(None, ge=1, description="chat models only")
    stream_options: StreamOptions | None = None


EmbeddingText = Annotated[str, Field(max_length=limits.EMBED_INPUT_MAX_CHARS)]


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    input: Annotated[EmbeddingText | Annotated[list[EmbeddingText], Field(max_length=limits.EMBED_INPUTS_MAX)],
                     Field(description="a text or a list of texts"), AfterValidator(limits.embedding_inputs)]
    model: str | None = Field(None, max_length=limits.NAME_MAX_CHARS,
                              description="an embedder name (default: the configured default)")
    encoding_format: Literal["float", "base64"] = "float"


# a kb:<name> model answers over that KB; a chat model touches none (the read scope, still)
CompletionBody = Annotated[ChatCompletionRequest, Depends(kbs_in_body(
    "read", ChatCompletionRequest, lambda b: [b.model[len(KB_PREFIX):]] if b.model.startswith(KB_PREFIX) else [],
    ["model"]))]


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


def _kb_of(zhiku: Zhiku, model: str) -> str | None:
    """The KB a ``kb:<name>`` model answers over; None for a chat model, 404 for an unknown name."""
    if model.startswith(KB_PREFIX):
        name = model[len(KB_PREFIX):]
        if is_temp_kb(name):  # file chat's KBs are not models
            raise NotFound(f"model '{model}' does not exist; see GET /v1/models", model=model)
        zhiku.kb(name)  # NotFound (404) for an unknown KB
        return name
    if model in _chat_names(zhiku):
        return None
    raise NotFound(f"model '{model}' does not exist; see GET /v1/models", model=model)


def _system(messages: list[ChatMessage]) -> str | None:
    parts = [_text(m) for m in messages if m.role == "system"]
    return "\n\n".join(p for p in parts if p.strip()) or None


def _request(body: ChatCompletionRequest, kb: str | None, question: str,
             history: list[dict[str, str]]) -> AnswerRequest:
    """Over the KB (its default chat model, or extractive), or from the chat model alone."""
    if kb is not None:
        return AnswerRequest(mode="kb", kbs=[kb], question=question, history=as_turns(history))
    return AnswerRequest(mode="llm", question=question, history=as_turns(history), model=body.model,
                         temperature=body.temperature, system=_system(body.messages), max_tokens=body.max_tokens)


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
    reported = answer.usage if answer is not None else None
    if reported is not None and {"prompt_tokens", "completion_tokens"} <= set(reported):
        p, c = int(reported["prompt_tokens"]), int(reported["completion_tokens"])
    else:
        p, c = _tokens(prompt), _tokens(completion)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _finish_reason(answer: Answer) -> str:
    return "length" if answer.finish_reason == "length" else "stop"


# -- routes ----------------------------------------------------------------------------------
@router.get("/models")
def list_models(readable: ReadableKBIds, zhiku: ZhikuDep) -> dict[str, Any]:
    """Configured chat models, and one ``kb:<name>`` model per knowledge base the caller may read."""
    now = int(time.time())
    data = [{"id": m.name, "object": "model", "created": now, "owned_by": f"zhiku ({m.source})"}
            for m in zhiku.list_chat_models(check=False)]
    data += [{"id": KB_PREFIX + kb.name, "object": "model", "created": int(kb.created_at.timestamp()),
              "owned_by": "zhiku (knowledge base)", "description": kb.description}
             for kb in zhiku.list_kbs() if readable is None or kb.id in readable]
    return {"object": "list", "data": data}


@router.post("/chat/completions", responses={
    200: {"description": "a `chat.completion` (JSON), or with `stream: true` a text/event-stream of "
                         "`chat.completion.chunk` objects as `data:` lines, ending with `data: [DONE]`",
          "content": {sse.MEDIA_TYPE: {"schema": {"type": "string"}}}},
    **responses(400, 404, 422, 503, 504)})
async def chat_completions(body: CompletionBody, request: Request, zhiku: ZhikuDep) -> Any:
    """OpenAI chat completions; a `kb:<name>` model answers over that KB, with `citations`; a chat
    model answers as itself."""
    kb = await run_in_threadpool(_kb_of, zhiku, body.model)
    question, history = _question_and_history(body.messages)
    prepared = await run_in_threadpool(zhiku.answers.prepare, _request(body, kb, question, history))
    reply = _Completion(body.model, "\n".join(_text(m) for m in body.messages),
                        bool(body.stream_options and body.stream_options.include_usage))
    outcome = await respond(request, lambda control: zhiku.answers.events(prepared, control), prepared.timeouts,
                            whole, body.stream, lambda _: reply, zhiku.settings.server.sse_heartbeat_s)
    if isinstance(outcome, StreamingResponse):
        return outcome
    return reply.completion(answer_of(outcome))


class _Completion:
    """One answer as OpenAI's ``chat.completion`` (JSON), or its stream of ``chat.completion.chunk``
    objects: the errors after the stream started travel in the last chunk."""

    def __init__(self, model: str, prompt: str, include_usage: bool) -> None:
        self.id, self.created, self.model = "chatcmpl-" + uuid.uuid4().hex, int(time.time()), model
        self.prompt, self.include_usage = prompt, include_usage
        self.text: list[str] = []

    def completion(self, answer: Answer) -> dict[str, Any]:
        return {
            "id": self.id, "object": "chat.completion", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.answer},
                         "logprobs": None, "finish_reason": _finish_reason(answer)}],
            "usage": _usage(self.prompt, answer.answer, answer),
            "citations": _citations(answer),
        }

    def _chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        body = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False, default=str)}\n\n".encode("utf-8")

    def head(self) -> Iterator[bytes]:
        yield self._chunk({"role": "assistant", "content": ""})

    def event(self, event: AnswerEvent) -> Iterator[bytes]:
        if text := text_of(event):
            self.text.append(text)
            yield self._chunk({"content": text})

    def end(self, ended: Ended[TurnResult]) -> Iterator[bytes]:
        final = ended.outcome.answer if ended.outcome is not None else None
        extra: dict[str, Any] = {"citations": _citations(final) if final is not None else []}
        if ended.error is not None:  # failed mid-answer: the error travels in the last chunk
            extra["error"] = {"type": ended.error.kind, "message": ended.error.message}
        yield self._chunk({}, _finish_reason(final) if final is not None else "stop", **extra)
        if self.include_usage:
            usage = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                     "choices": [], "usage": _usage(self.prompt, "".join(self.text), final)}
            yield f"data: {json.dumps(usage)}\n\n".encode("utf-8")
        yield b"data: [DONE]\n\n"


@router.post("/embeddings", responses=responses(400, 404, 422), dependencies=[Depends(Scope("read"))])
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
