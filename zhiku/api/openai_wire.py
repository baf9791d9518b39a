"""OpenAI's wire format for ``/v1``: the request bodies, the error shape OpenAI clients read
(400 for validation, ``type``/``message``/``code``/``param`` beside zhiku's ``details``), the
messages of a chat request as an ``AnswerRequest``'s parts, and the cut that ``stop`` and
``max_tokens`` make in a knowledge-base answer (which no model generates under them)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from zhiku.api.errors import ErrorBody, error_body, status_of
from zhiku.errors import InvalidInput, ZhikuError
from zhiku.schema import GenerationOptions, Turn, limits

log = logging.getLogger(__name__)
N_MAX = 8  # choices in one completion (each is a whole answer)
STOP_MAX = 4  # stop sequences, as OpenAI allows
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\s\u3400-\u9fff\uf900-\ufaff]+")


def count_tokens(text: str) -> int:
    """A rough token count (each CJK character, each other word): there is no tokenizer to ask."""
    return len(_TOKEN.findall(text))


# -- errors ----------------------------------------------------------------------------------
def openai_error(status: int, type_: str, message: str, details: dict[str, Any] | None = None,
                 code: str | None = None, param: str | None = None) -> JSONResponse:
    body = error_body(type_, message, details)
    body["error"].update(code=code or type_, param=param)
    return JSONResponse(body, status_code=status, headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)


def _plain(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if isinstance(v, (str, int, float, bool, list, dict, type(None)))}


class OpenAIRoute(APIRoute):
    """A ``/v1`` route answers its errors as OpenAI does: request validation is a 400, and every
    error names its ``code`` and (where one parameter is at fault) its ``param``."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # documented as what it is (any 4xx in the one error shape), not as FastAPI's default 422
        kwargs["responses"] = {**(kwargs.get("responses") or {}), "4XX": {
            "model": ErrorBody, "description": "invalid request (400 for request validation, as OpenAI answers), "
                                              "with OpenAI's code and param beside the error's type and message"}}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Any:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                            for e in exc.errors()]
                summary = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in problems[:5])
                first = problems[0] if problems else {"loc": [], "type": ""}
                # the field's path: not "body", nor the union members pydantic names (``constrained-str``)
                loc = [str(p) for p in first["loc"] if p != "body" and re.fullmatch(r"\w+", str(p))]
                return openai_error(400, "validation_error", f"invalid request: {summary}",
                                    {"errors": jsonable_encoder(problems)},
                                    "missing_required_parameter" if first["type"] == "missing" else "invalid_value",
                                    ".".join(loc) or None)
            except ZhikuError as exc:
                status = status_of(exc)
                if status >= 500:
                    log.warning("%s %s: %s", request.method, request.url.path, exc.message)
                details = _plain(exc.details)
                param = details.pop("param", None)
                return openai_error(status, exc.kind, exc.message, details, details.pop("code", None), param)

        return route


def refuse(param: str, why: str, **details: Any) -> InvalidInput:
    """A 400 that names the parameter that cannot be honoured."""
    return InvalidInput(f"'{param}' cannot be honoured: {why}", param=param, code="unsupported_parameter", **details)


# -- request bodies ----------------------------------------------------------------------------
class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Annotated[str, Field(max_length=limits.MESSAGE_MAX_CHARS)] | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = Field(None, max_length=128)
    tool_call_id: str | None = Field(None, max_length=limits.NAME_MAX_CHARS)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's request. Parameters zhiku cannot honour are refused (400, naming them), never
    ignored; README.md (the HTTP API, /v1) has the table."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=limits.NAME_MAX_CHARS,
                       description="`kb:<name>` to answer over a knowledge base, or a chat model")
    messages: Annotated[list[ChatMessage], Field(min_length=1, max_length=limits.MESSAGES_MAX),
                        AfterValidator(limits.question_last)]
    stream: bool = False
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    n: int | None = Field(None, ge=1, le=N_MAX)
    stop: Annotated[str, Field(max_length=200)] | Annotated[list[Annotated[str, Field(max_length=200)]],
                                                            Field(max_length=STOP_MAX)] | None = None
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = Field(None, max_length=128)
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    stream_options: StreamOptions | None = None


EmbeddingText = Annotated[str, Field(max_length=limits.EMBED_INPUT_MAX_CHARS)]
TokenIds = Annotated[list[int], Field(max_length=limits.EMBED_INPUT_MAX_CHARS)]


def _embedding_inputs(value: Any) -> Any:
    return limits.embedding_inputs(value) if isinstance(value, str) or all(isinstance(v, str) for v in value) \
        else value


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    input: Annotated[EmbeddingText | Annotated[list[EmbeddingText], Field(max_length=limits.EMBED_INPUTS_MAX)]
                     | TokenIds | Annotated[list[TokenIds], Field(max_length=limits.EMBED_INPUTS_MAX)],
                     Field(description="a text, a list of texts, or token ids (cl100k_base)"),
                     AfterValidator(_embedding_inputs)]
    model: str | None = Field(None, max_length=limits.NAME_MAX_CHARS,
                              description="an embedder name (default: the configured default)")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)


# parameters OpenAI defines that zhiku cannot honour: refused when set to anything but their default
_UNSUPPORTED: dict[str, tuple[Callable[[Any], bool], str]] = {
    "logprobs": (lambda v: v is True, "token log-probabilities are not reported"),
    "top_logprobs": (lambda v: v not in (None, 0), "token log-probabilities are not reported"),
    "logit_bias": (lambda v: bool(v), "token biases cannot be applied"),
    "top_p": (lambda v: v not in (None, 1, 1.0), "nucleus sampling is not configurable here; use temperature"),
    "frequency_penalty": (lambda v: v not in (None, 0, 0.0), "penalties are not configurable here"),
    "presence_penalty": (lambda v: v not in (None, 0, 0.0), "penalties are not configurable here"),
    "functions": (lambda v: bool(v), "the legacy functions API is not supported; use tools"),
    "function_call": (lambda v: v not in (None, "none"), "the legacy functions API is not supported; use tools"),
    "audio": (lambda v: v is not None, "answers are text only"),
    "modalities": (lambda v: v not in (None, ["text"]), "answers are text only"),
    "prediction": (lambda v: v is not None, "predicted outputs are not supported"),
    "store": (lambda v: v is True, "completions are not stored for later use"),
    "reasoning_effort": (lambda v: v is not None, "reasoning effort is not configurable here"),
    "verbosity": (lambda v: v is not None, "verbosity is not configurable here"),
    "web_search_options": (lambda v: v is not None, "use zhiku's search mode (/api/chat) for web search"),
}
# OpenAI's fields that do not change an answer: accepted as they are
_NEUTRAL = {"user", "metadata", "service_tier", "safety_identifier", "prompt_cache_key"}


def refuse_unsupported(body: ChatCompletionRequest) -> None:
    """Refuse what zhiku cannot honour, unknown fields too (OpenAI refuses those as well)."""
    for name, value in (body.model_extra or {}).items():
        if name in _UNSUPPORTED:
            if _UNSUPPORTED[name][0](value):
                raise refuse(name, _UNSUPPORTED[name][1])
        elif name not in _NEUTRAL:
            raise InvalidInput(f"unrecognised request argument '{name}'", param=name,
                               code="unrecognized_parameter")


# -- messages --------------------------------------------------------------------------------
def text(message: ChatMessage) -> str:
    if message.content is None:
        return ""
    if isinstance(message.content, str):
        return message.content
    parts = []
    for part in message.content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise InvalidInput("only text content parts are supported", part_type=part.get("type"), param="messages")
        parts.append(part["text"])
    return "".join(parts)


def instructions(messages: list[ChatMessage]) -> str | None:
    """The system and developer messages (OpenAI's newer name for system), joined."""
    parts = [text(m) for m in messages if m.role in ("system", "developer")]
    return "\n\n".join(p for p in parts if p.strip()) or None


@dataclass
class Conversation:
    question: str
    history: list[Turn]
    tool_turns: list[Turn] = field(default_factory=list)


def _turn(i: int, m: ChatMessage) -> Turn:
    if m.role == "tool" and not m.tool_call_id:
        raise InvalidInput("a tool message answers a call: give its tool_call_id", param=f"messages.{i}.tool_call_id")
    if m.tool_calls and m.role != "assistant":
        raise InvalidInput("only assistant messages carry tool_calls", param=f"messages.{i}.tool_calls")
    role = "assistant" if m.role == "assistant" else m.role
    return Turn(role=role, content=text(m), tool_calls=m.tool_calls, tool_call_id=m.tool_call_id)


def for_chat_model(messages: list[ChatMessage]) -> Conversation:
    """A chat model's conversation: the last user message is the question; what follows it (the
    model's tool calls and the tools' results) goes after it, in order; the rest is history."""
    turns = [(i, m) for i, m in enumerate(messages) if m.role not in ("system", "developer")]
    asked = max((k for k, (_, m) in enumerate(turns) if m.role == "user"), default=None)
    if asked is None:
        raise InvalidInput("no user message: the question is the last message from the user", param="messages")
    after = turns[asked + 1:]
    if after and after[-1][1].role != "tool":
        raise InvalidInput("the last message must come from the user, or be a tool's result", param="messages")
    question = text(turns[asked][1])
    if not question.strip() and not after:
        raise InvalidInput("the last user message is empty", param="messages")
    return Conversation(question, [_turn(i, m) for i, m in turns[:asked]], [_turn(i, m) for i, m in after])


def for_knowledge_base(messages: list[ChatMessage]) -> Conversation:
    """A ``kb:`` model's conversation: it calls no tools, so tool results and the calls that asked
    for them are history it cannot use — they are left out (an assistant's words beside its calls
    stay); system and developer messages are not its instructions either (zhiku's KB prompt is)."""
    turns = [m for m in messages if m.role not in ("system", "developer")]
    if not turns or turns[-1].role != "user":
        raise InvalidInput("the last message must come from the user (a kb: model answers a question; it calls no "
                           "tools)", param="messages")
    question = text(turns[-1])
    if not question.strip():
        raise InvalidInput("the last user message is empty", param="messages")
    history = [Turn(role="user" if m.role == "user" else "assistant", content=text(m)) for m in turns[:-1]
               if m.role in ("user", "assistant") and text(m).strip()]
    return Conversation(question, history)


# -- options -----------------------------------------------------------------------------------
def stops(body: ChatCompletionRequest) -> list[str]:
    if body.stop is None:
        return []
    return [s for s in ([body.stop] if isinstance(body.stop, str) else body.stop) if s]


def response_format(body: ChatCompletionRequest) -> dict[str, Any] | None:
    """The response format a model must follow; None for plain text (every answer is)."""
    fmt = body.response_format
    if fmt is None or fmt.get("type") == "text":
        return None
    if fmt.get("type") == "json_object":
        return fmt
    if fmt.get("type") == "json_schema":
        if not isinstance(fmt.get("json_schema"), dict):
            raise InvalidInput("response_format json_schema needs its 'json_schema' object",
                               param="response_format.json_schema")
        return fmt
    raise InvalidInput(f"unknown response_format type {fmt.get('type')!r}; use text, json_object or json_schema",
                       param="response_format.type")


def chat_model_options(body: ChatCompletionRequest) -> GenerationOptions | None:
    """What a chat model is asked to honour (it refuses what it cannot: ``ChatModel.options``)."""
    if body.tool_choice is not None and not body.tools:
        raise InvalidInput("tool_choice needs tools", param="tool_choice")
    options = GenerationOptions(stop=stops(body) or None, seed=body.seed, response_format=response_format(body),
                                tools=body.tools or None, tool_choice=body.tool_choice if body.tools else None,
                                parallel_tool_calls=body.parallel_tool_calls if body.tools else None)
    return options if options.given() else None


def check_kb_options(body: ChatCompletionRequest, model: str) -> None:
    """What a ``kb:`` model cannot honour: a response format, a forced tool call. ``tools`` with
    ``tool_choice`` auto or none are honoured: the answer calls none. ``stop`` and the token
    limit are cut in the answer (:class:`Cut`); ``seed`` is checked once the answerer is known."""
    if response_format(body) is not None:
        raise refuse("response_format", f"{model} answers in prose with numbered citations", model=model)
    if body.tools and body.tool_choice not in (None, "auto", "none"):
        raise refuse("tool_choice", f"{model} answers from its documents and calls no tools", model=model)
    if body.tool_choice is not None and not body.tools:
        raise InvalidInput("tool_choice needs tools", param="tool_choice")


# -- stop and max_tokens over an answer's text ---------------------------------------------------
class Cut:
    """``stop`` sequences and a token limit applied to an answer's text as it streams: the text
    ends before the first stop sequence (finish ``stop``) or after ``max_tokens`` tokens counted
    as :func:`count_tokens` does (finish ``length``)."""

    def __init__(self, stop: list[str], max_tokens: int | None) -> None:
        self.stop, self.max_tokens = stop, max_tokens
        self.hold = max((len(s) for s in stop), default=1) - 1
        self.pending, self.shown = "", ""
        self.reason: str | None = None

    def feed(self, piece: str, last: bool = False) -> str:
        if self.reason is not None:
            return ""
        text = self.pending + piece
        ends = [text.index(s) for s in self.stop if s in text]
        if ends:
            text, self.reason = text[:min(ends)], "stop"
            self.pending = ""
        elif not last and self.hold:
            text, self.pending = text[:len(text) - self.hold], text[len(text) - self.hold:]
        else:
            self.pending = ""
        if self.max_tokens is not None:
            whole = self.shown + text
            tokens = list(_TOKEN.finditer(whole))
            if len(tokens) > self.max_tokens:
                text, self.reason = whole[len(self.shown):tokens[self.max_tokens - 1].end()], "length"
                self.pending = ""
        self.shown += text
        return text

    def flush(self) -> str:
        return self.feed("", last=True)

    def whole(self, text: str) -> str:
        return self.feed(text, last=True)
