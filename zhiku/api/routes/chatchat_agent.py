"""Langchain-Chatchat 0.3's agent routes over zhiku's agent, with the safe (read-only) tools only:

- ``GET /tools``: ``{"code": 200, "msg": "success", "data": {name: {name, title, description, args,
  config}}}``; ``args`` is the tool's JSON-schema properties (read scope).
- ``POST /tools/call`` ``{name, tool_input}``: ``data`` is the tool's text; a refused or failed call
  is ``{"code": 500, "msg": "..."}`` as in Chatchat (admins only, as zhiku's ``POST /api/tools/call``).
- ``POST /chat/chat/completions``: OpenAI's request with Chatchat's extras. ``tool_choice`` (a name or
  OpenAI's object) with ``tool_input`` runs that tool on the input and has the chat model answer the
  question from its result (the first chunk carries ``tool_call``, ``tool_output``, ``is_ref``);
  ``tool_choice`` alone, or ``tools`` (names or OpenAI's objects), is agent chat with those tools;
  neither is plain LLM chat. Agent chunks carry Chatchat's ``status`` (6 tool start, 7 tool end with
  the call in ``tool_calls``, 2 text, 5 finished). KB search reads the KBs the caller may read.
  Nothing is stored (``conversation_id`` is accepted and ignored).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from zhiku.api.chat_events import respond, text_of, whole
from zhiku.api.deps import AdminUserDep, ReadableKBIds, ReadScope, ZhikuDep
from zhiku.api.routes.chatchat_chat import chat_model_name
from zhiku.api.routes.chatchat_common import ChatchatRoute, CompatBody, data_line, envelope
from zhiku.api.routes.tools import readable_names
from zhiku.chat.pipeline import as_turns
from zhiku.chat.prompts import render
from zhiku.chat.turns import Ended, TurnResult
from zhiku.errors import InvalidInput
from zhiku.schema import AnswerEvent, AnswerRequest, ToolStep, limits

router = APIRouter(tags=["chatchat-compatible"], route_class=ChatchatRoute, include_in_schema=False)
TOOL_START, TOOL_END, NEW_TOKEN, FINISHED = 6, 7, 2, 5  # Chatchat's AgentStatus


class ToolCallBody(CompatBody):
    name: str = Field(min_length=1, max_length=limits.NAME_MAX_CHARS)
    tool_input: dict[str, Any] = Field(default_factory=dict)


class ChatCompletionsBody(BaseModel):
    """OpenAI's chat request as Chatchat takes it: extra fields (``extra_body``) are allowed."""

    model_config = ConfigDict(extra="allow")

    messages: list[dict[str, Any]] = Field(min_length=1, max_length=limits.MESSAGES_MAX)
    model: str | None = Field(None, max_length=limits.NAME_MAX_CHARS)
    stream: bool | None = False
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=0)
    tools: list[str | dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    tool_input: dict[str, Any] | None = None


def _name(tool: str | dict[str, Any]) -> str:
    """A tool as Chatchat's clients name it: a bare name, or OpenAI's ``{"function": {"name": ...}}``."""
    if isinstance(tool, str):
        return tool
    return str((tool.get("function") or {}).get("name") or tool.get("name") or "")


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")


@router.get("/tools")
def list_tools(who: ReadScope, readable: ReadableKBIds, zhiku: ZhikuDep) -> dict[str, Any]:
    tools = zhiku.answers.agent_chat.available(who.user_id, readable_names(zhiku, readable), safe_only=True)
    return envelope({t.spec.name: {"name": t.spec.name, "title": t.spec.name, "description": t.spec.description,
                                   "args": t.spec.parameters.get("properties") or {},
                                   "config": {"read_only": t.spec.read_only, "timeout_s": t.spec.timeout_s}}
                     for t in tools})


@router.post("/tools/call")
async def call_tool(body: ToolCallBody, who: AdminUserDep, zhiku: ZhikuDep) -> dict[str, Any]:
    step, result = await run_in_threadpool(zhiku.answers.agent_chat.call, who.user_id, readable_names(zhiku, None),
                                           body.name, body.tool_input, True)
    if result is None:
        return {**envelope(None, f"failed to call tool '{body.name}': {step.error}", 500), "step": step.model_dump()}
    return {**envelope(result.text), "step": step.model_dump()}


class _Agent:
    """Chatchat's ``OpenAIChatOutput`` chunks of an agent answer."""

    def __init__(self, model: str, header: dict[str, Any] | None = None) -> None:
        self.id, self.created, self.model, self.header = f"chat{uuid.uuid4()}", int(time.time()), model, header

    def chunk(self, content: str, status: int | None, tool_calls: list[dict[str, Any]] | None = None,
              finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "model": self.model, "created": self.created,
                "status": status, "message_type": 1, "message_id": None, "is_ref": False, **extra,
                "choices": [{"index": 0, "role": "assistant", "finish_reason": finish,
                             "delta": {"role": "assistant", "content": content, "tool_calls": tool_calls or []}}]}

    @staticmethod
    def call(step: ToolStep, ended: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"index": 0, "id": f"call_{step.step}", "type": "function",
                               "function": {"name": step.tool, "arguments": json.dumps(step.arguments,
                                                                                       ensure_ascii=False)},
                               "tool_output": None, "is_error": False}
        if ended:
            out.update(tool_output=step.summary if step.status == "ok" else step.error,
                       is_error=step.status != "ok", status=step.status)
        return out

    # the stream's encoder
    def head(self) -> Iterator[bytes]:
        if self.header is not None:
            extra = {k: v for k, v in self.header.items() if k != "content"}
            yield data_line(self.chunk(self.header["content"], None, **extra))

    def event(self, event: AnswerEvent) -> Iterator[bytes]:
        if isinstance(event, ToolStep):
            yield data_line(self.chunk("", TOOL_START, [self.call(event, False)]))
            yield data_line(self.chunk("", TOOL_END, [self.call(event, True)]))
        elif text := text_of(event):
            yield data_line(self.chunk(text, NEW_TOKEN))

    def end(self, ended: Ended[TurnResult]) -> Iterator[bytes]:
        if ended.error is not None:
            yield data_line({"error": ended.error.message, "code": 500, "msg": ended.error.message})
            return
        yield data_line(self.chunk("", FINISHED, finish="stop"))

    def completion(self, result: TurnResult) -> dict[str, Any]:
        calls = [self.call(s, True) for s in result.trace or []]
        answer = result.answer
        message = {"role": "assistant", "content": result.text, "finish_reason": "stop", "tool_calls": calls}
        return {"id": self.id, "object": "chat.completion", "model": self.model, "created": self.created,
                "status": FINISHED, "message_type": 1, "message_id": None, "is_ref": False,
                **(self.header or {}), "citations": [c.model_dump(mode="json") for c in answer.citations]
                if answer is not None else [], "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}


@router.post("/chat/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionsBody, request: Request, who: ReadScope, readable: ReadableKBIds,
                           zhiku: ZhikuDep) -> Any:
    last = body.messages[-1]
    if last.get("role") != "user":
        raise InvalidInput("the last message must come from the user")
    question = _text(last.get("content"))
    history = as_turns([{"role": m["role"], "content": _text(m.get("content"))} for m in body.messages[:-1]
                        if m.get("role") in ("user", "assistant")])
    kbs = readable_names(zhiku, readable)
    model = await run_in_threadpool(chat_model_name, zhiku, body.model)
    chosen = _name(body.tool_choice) if body.tool_choice else None
    names = [_name(t) for t in body.tools or []] or ([chosen] if chosen else [])
    safe = {t.spec.name for t in await run_in_threadpool(zhiku.answers.agent_chat.available, who.user_id, kbs, True)}
    refused = [n for n in names if n not in safe]
    if refused:
        raise InvalidInput(f"no tool named '{refused[0]}' (tools: {', '.join(sorted(safe)) or 'none'})",
                           tool=refused[0])
    header = None
    common: dict[str, Any] = {"history": history, "owner": who.user_id, "model": model,
                              "temperature": body.temperature}
    if chosen and body.tool_input is not None:  # the tool on the given input, then the model answers from it
        step, result = await run_in_threadpool(zhiku.answers.agent_chat.call, who.user_id, kbs, chosen,
                                               body.tool_input, True)
        if result is None:
            raise InvalidInput(f"failed to call tool '{chosen}': {step.error}", tool=chosen)
        header = {"content": result.text, "tool_call": chosen, "tool_output": result.data or result.text,
                  "is_ref": True}
        from zhiku.text.normalize import detect_lang

        lang = detect_lang(question)
        asked = AnswerRequest(mode="llm", question=render(lang, "kb_user", sources=result.text, question=question),
                              system=render(lang, "kb_system"), max_tokens=body.max_tokens or None, **common)
    elif names:
        asked = AnswerRequest(mode="agent", question=question, kbs=kbs, tools=names, **common)
    else:
        asked = AnswerRequest(mode="llm", question=question, max_tokens=body.max_tokens or None, **common)
    prepared = await run_in_threadpool(zhiku.answers.prepare, asked)
    out = _Agent(prepared.answered_by, header)
    outcome = await respond(request, lambda control: zhiku.answers.events(prepared, control), prepared.timeouts,
                            whole, bool(body.stream), lambda _: out, zhiku.settings.server.sse_heartbeat_s)
    if isinstance(outcome, TurnResult):
        return out.completion(outcome)
    return outcome
