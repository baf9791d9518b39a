"""OpenAI-compatible API under ``/v1``: models, chat completions, embeddings.

- ``GET /v1/models`` and ``GET /v1/models/{id}``: the configured chat models plus one model per
  knowledge base, ``kb:<name>``.
- ``POST /v1/chat/completions``: a ``kb:<name>`` model answers over that KB; the last user message
  is the question, earlier user/assistant messages the history (system and developer messages,
  tool results and tool calls are left out: ``openai_wire.for_knowledge_base``). Citations travel in
  an extra top-level field ``citations``; when streaming, in the final chunk. A configured chat
  model answers as itself (LLM chat, no retrieval): system and developer messages are its
  instructions, and tools, tool turns, ``response_format``, ``stop`` and ``seed`` are passed on
  (a model type that cannot honour one refuses it: 400 naming it). ``n`` runs the answer n times
  (``openai_choices``: streamed, the choices follow one another).
- ``POST /v1/embeddings``: ``model`` names an embedder (default: the configured default).

Every parameter is honoured or refused with a 400 that names it (``param``); docs/chatchat-compat.md
has the table. Errors are ``{"error": {"type", "message", "code", "param", "details"}}``, which the
openai SDK reads as its error body; request validation is a 400 here, as OpenAI answers.
"""

from __future__ import annotations

import base64
import time
import unicodedata
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from zhiku.api import openai_tokens, sse
from zhiku.api.chat_events import answer_of, respond, whole
from zhiku.api.openai_choices import Choice, Completion
from zhiku.api.deps import ReadableKBIds, ZhikuDep
from zhiku.api.errors import responses
from zhiku.api.openai_wire import (
    ChatCompletionRequest,
    Cut,
    EmbeddingRequest,
    OpenAIRoute,
    chat_model_options,
    check_kb_options,
    count_tokens,
    for_chat_model,
    for_knowledge_base,
    instructions,
    refuse,
    refuse_unsupported,
    stops,
    text,
)
from zhiku.api.security import KBsNamed, Scope, checked, kbs_in_body
from zhiku.api.vision_chat import has_pictures, vision_completion
from zhiku.app import Zhiku
from zhiku.chat.files import is_temp_kb
from zhiku.chat.pipeline import PreparedAnswer
from zhiku.errors import InvalidInput, NotFound
from zhiku.schema import AnswerRequest

router = APIRouter(prefix="/v1", tags=["openai-compatible"], route_class=OpenAIRoute)

KB_PREFIX = "kb:"


def _kb_names(model: str) -> list[str]:
    """The KB a model id names (none for a chat model: the read scope is still asked for)."""
    return [model[len(KB_PREFIX):]] if model.startswith(KB_PREFIX) else []


# a kb:<name> model answers over that KB; a chat model touches none (the read scope, still)
CompletionBody = Annotated[ChatCompletionRequest, Depends(kbs_in_body(
    "read", ChatCompletionRequest, lambda b: _kb_names(b.model), ["model"]))]
ModelId = Annotated[str, Path(max_length=200, description="a chat model, or `kb:<name>` for a knowledge base")]


class _ModelInPath(KBsNamed):
    """The ``{model}`` path parameter, once the KB a ``kb:<name>`` id names is authorised (read)."""

    async def __call__(self, request: Request, **values: Any) -> Any:
        await checked(request, self._kbs, request, values)
        return values["model"]


ModelInPath = Annotated[str, Depends(_ModelInPath("read", lambda model: _kb_names(model), covers=("model",),
                                                  model=ModelId))]


# -- helpers -------------------------------------------------------------------------------
def _chat_names(zhiku: Zhiku) -> list[str]:
    return [m.name for m in zhiku.list_chat_models(check=False)]


def _unknown(model: str) -> NotFound:
    return NotFound(f"model '{model}' does not exist; see GET /v1/models", model=model, param="model",
                    code="model_not_found")


def _kb_of(zhiku: Zhiku, model: str, look_up: bool = True) -> str | None:
    """The KB a ``kb:<name>`` model answers over; None for a chat model, 404 for an unknown name
    (``look_up`` False: the caller looks the KB up itself, and turns its NotFound into ``_unknown``)."""
    if model.startswith(KB_PREFIX):
        name = model[len(KB_PREFIX):]
        if is_temp_kb(name):  # file chat's KBs are not models
            raise _unknown(model)
        if look_up:
            try:
                zhiku.kb(name)
            except NotFound:
                raise _unknown(model) from None
        return name
    if model in _chat_names(zhiku):
        return None
    raise _unknown(model)


def _max_tokens(body: ChatCompletionRequest) -> int | None:
    if body.max_tokens and body.max_completion_tokens and body.max_tokens != body.max_completion_tokens:
        raise InvalidInput("give max_completion_tokens or max_tokens (its older name), not both",
                           param="max_completion_tokens")
    return body.max_completion_tokens or body.max_tokens


def _request(body: ChatCompletionRequest, kb: str | None) -> tuple[AnswerRequest, Cut | None]:
    """What zhiku is asked, and for a KB the cut that ``stop`` and ``max_tokens`` make."""
    limit = _max_tokens(body)
    if kb is not None:
        check_kb_options(body, body.model)
        asked = for_knowledge_base(body.messages)
        return (AnswerRequest(mode="kb", kbs=[kb], question=asked.question, history=asked.history,
                              temperature=body.temperature), Cut(stops(body), limit))
    asked = for_chat_model(body.messages)
    return AnswerRequest(mode="llm", question=asked.question, history=asked.history, tool_turns=asked.tool_turns,
                         model=body.model, temperature=body.temperature, system=instructions(body.messages),
                         max_tokens=limit, options=chat_model_options(body)), None


def _prepare(zhiku: Zhiku, body: ChatCompletionRequest) -> tuple[str | None, PreparedAnswer | None, Cut | None]:
    """The KB the model names, and the prepared answer (None for a question with a picture): one trip
    to the thread pool for both (each trip is a hand-over of the interpreter, which a burst of chats
    waits for)."""
    if has_pictures(body.messages):
        return _kb_of(zhiku, body.model), None, None
    kb = _kb_of(zhiku, body.model, look_up=False)  # preparing the answer looks the KB up (once a request)
    asked, cut = _request(body, kb)
    try:
        return kb, zhiku.answers.prepare(asked), cut
    except NotFound as exc:
        if kb is not None and exc.details.get("name") == unicodedata.normalize("NFC", kb):
            raise _unknown(body.model) from None
        raise


def _model(id_: str, created: int, owned_by: str, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "object": "model", "created": created, "owned_by": owned_by, **extra}


# -- routes ----------------------------------------------------------------------------------
@router.get("/models")
def list_models(readable: ReadableKBIds, zhiku: ZhikuDep) -> dict[str, Any]:
    """Configured chat models, and one ``kb:<name>`` model per knowledge base the caller may read."""
    now = int(time.time())
    data = [_model(m.name, now, f"zhiku ({m.source})") for m in zhiku.list_chat_models(check=False)]
    data += [_model(KB_PREFIX + kb.name, int(kb.created_at.timestamp()), "zhiku (knowledge base)",
                    description=kb.description)
             for kb in zhiku.list_kbs() if readable is None or kb.id in readable]
    return {"object": "list", "data": data}


@router.get("/models/{model}", responses=responses(400, 404))
def retrieve_model(model: ModelInPath, zhiku: ZhikuDep) -> dict[str, Any]:
    """One model: a chat model, or ``kb:<name>`` (a KB the caller cannot read is 404, as an unknown one)."""
    kb = _kb_of(zhiku, model)
    if kb is not None:
        info = zhiku.kb(kb)
        return _model(model, int(info.created_at.timestamp()), "zhiku (knowledge base)",
                      description=info.description)
    source = next(m.source for m in zhiku.list_chat_models(check=False) if m.name == model)
    return _model(model, int(time.time()), f"zhiku ({source})")


@router.post("/chat/completions", responses={
    200: {"description": "a `chat.completion` (JSON), or with `stream: true` a text/event-stream of "
                         "`chat.completion.chunk` objects as `data:` lines, ending with `data: [DONE]`",
          "content": {sse.MEDIA_TYPE: {"schema": {"type": "string"}}}},
    **responses(400, 404, 503, 504)})
async def chat_completions(body: CompletionBody, request: Request, zhiku: ZhikuDep) -> Any:
    """OpenAI chat completions; a `kb:<name>` model answers over that KB, with `citations`; a chat
    model answers as itself."""
    refuse_unsupported(body)
    kb, prepared, cut = await run_in_threadpool(_prepare, zhiku, body)
    if prepared is None:  # a question with a picture goes to the vision model (vision_chat.py)
        return await vision_completion(body, request, zhiku, kb)
    if kb is not None and body.seed is not None and prepared.model is not None:
        raise refuse("seed", f"{body.model} answers through chat model '{prepared.model}' with zhiku's KB "
                             "prompt, which takes no seed", model=body.model)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    completion = Completion(body.model, "\n".join(text(m) for m in body.messages), include_usage, body.n or 1, cut)

    async def answer(choice: Choice) -> Any:
        return await respond(request, lambda control: zhiku.answers.events(prepared, control), prepared.timeouts,
                             whole, body.stream, lambda _: choice, zhiku.settings.server.sse_heartbeat_s)

    if body.stream:
        first = await answer(completion.choices[0])  # an answer that fails before its text: an error response
        if len(completion.choices) == 1:
            return first
        return StreamingResponse(completion.stream(first, answer), media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)
    for choice in completion.choices:  # n answers, one after the other
        choice.answer = answer_of(await answer(choice))
    return completion.json()


@router.post("/embeddings", responses=responses(400, 404), dependencies=[Depends(Scope("read"))])
def embeddings(body: EmbeddingRequest, zhiku: ZhikuDep) -> dict[str, Any]:
    """OpenAI embeddings from one of zhiku's embedders (passage embeddings, L2-normalised as stored).
    Token ids (LangChain's default) are read as cl100k_base where tiktoken has it offline."""
    for field in body.model_extra or {}:
        if field != "user":  # the end user's id changes nothing; anything else would be ignored
            raise InvalidInput(f"unrecognised request argument '{field}'", param=field, code="unrecognized_parameter")
    name = body.model or zhiku.settings.embedding.default
    if name not in zhiku.settings.embedder_names():
        raise NotFound(f"embedding model '{name}' does not exist; configured: "
                       f"{', '.join(zhiku.settings.embedder_names())}", model=name, param="model",
                       code="model_not_found")
    given: Any = body.input
    if isinstance(given, str):
        texts = [given]
    elif given and all(isinstance(v, int) for v in given):
        texts = openai_tokens.decode([given])
    elif given and all(isinstance(v, list) for v in given):
        texts = openai_tokens.decode(given)
    else:
        texts = list(given)
    if not texts:
        raise InvalidInput("input is empty", param="input")
    embedder = zhiku.embedder(name)
    if body.dimensions is not None and body.dimensions != embedder.dimensions:
        raise refuse("dimensions", f"embedder '{name}' makes {embedder.dimensions}-dimensional vectors and cannot "
                                   "shorten them (it is not trained for truncation)", model=name,
                     dimensions=embedder.dimensions)
    vectors = np.asarray(embedder.embed_passages(texts), dtype=np.float32)
    data = []
    for i, vector in enumerate(vectors):
        embedding: Any = (base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
                          if body.encoding_format == "base64" else vector.tolist())
        data.append({"object": "embedding", "index": i, "embedding": embedding})
    tokens = sum(count_tokens(t) for t in texts)
    return {"object": "list", "data": data, "model": name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
