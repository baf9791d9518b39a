"""Questions that come with a picture, on ``/v1/chat/completions`` (``image_url`` content parts) and
``/api/chat`` (``images``: data: URLs): answered by the vision model (``zhiku.chat.vision``).

- A chat model that takes pictures (``vision: true``, or ``llm.vision_model``) answers as itself; a
  chat model that does not is refused (400 naming it), never asked without the picture.
- A knowledge base (``kb:<name>``, or ``/api/chat`` in kb mode) is searched with the question's text;
  the passages go to the vision model with the picture and come back as the answer's citations.
- With no vision model configured: 400, ``code: no_vision_model``, saying how to configure one.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from zhiku.api.chat_events import answer_of, respond, whole
from zhiku.api.openai_choices import Completion
from zhiku.api.openai_wire import ChatCompletionRequest, ChatMessage, refuse
from zhiku.app import Zhiku
from zhiku.chat.vision import Picture, read_image, read_images
from zhiku.errors import InvalidInput
from zhiku.schema import Citation, Hit
from zhiku.text.normalize import detect_lang

KB_SYSTEM = ("Answer the user's question about the picture(s) they attached, using the numbered passages of "
             "the knowledge base below where they help; cite a passage as [n].\n\n{passages}")


def has_pictures(messages: list[ChatMessage]) -> bool:
    return any(isinstance(m.content, list) and any(isinstance(p, dict) and p.get("type") == "image_url"
                                                   for p in m.content) for m in messages)


def _url(part: dict[str, Any]) -> str:
    value = part.get("image_url")
    if isinstance(value, dict):
        value = value.get("url")
    if not isinstance(value, str):
        raise InvalidInput("an image_url part needs image_url.url (a data: URL)", param="messages", code="bad_image")
    return value


def split_messages(messages: list[ChatMessage]) -> tuple[str, list[Picture], list[dict[str, Any]], str | None]:
    """The question (the last user message's text), every picture of the user's messages, the
    earlier turns as text and the system/developer instructions."""
    pictures: list[str] = []
    history: list[dict[str, Any]] = []
    system: list[str] = []
    for m in messages:
        parts = m.content if isinstance(m.content, list) else [{"type": "text", "text": m.content or ""}]
        texts = []
        for part in parts:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif kind == "image_url" and m.role == "user":
                pictures.append(_url(part))
            else:
                raise InvalidInput(f"content parts may be text or image_url (of a user message), not {kind}",
                                   param="messages", part_type=kind)
        if m.role in ("system", "developer"):
            system.append("".join(texts))
        elif m.role in ("user", "assistant"):
            history.append({"role": m.role, "content": "".join(texts)})
    if not history or history[-1]["role"] != "user":
        raise InvalidInput("the last message must come from the user", param="messages")
    return history[-1]["content"], read_images(pictures), history[:-1], "\n\n".join(system) or None


def _kb_context(zhiku: Zhiku, kbs: list[str], question: str, top_k: int | None) -> tuple[str, list[Hit]]:
    hits = zhiku.search(kbs, question, top_k=top_k) if question.strip() else []
    passages = "\n\n".join(f"[{i}] ({h.file}{f', p. {h.page}' if h.page else ''}) {h.text}"
                           for i, h in enumerate(hits, 1))
    return KB_SYSTEM.format(passages=passages or "(no passage found)"), hits


def _with_citations(events: Any, hits: list[Hit]) -> Any:
    """The vision answer's events, its final answer citing the passages it was given."""
    for event in events:
        if event.type == "final" and hits:
            cited = [Citation(n=i, **h.model_dump()) for i, h in enumerate(hits, 1)]
            event = event.model_copy(update={"answer": event.answer.model_copy(update={"citations": cited})})
        yield event


async def vision_completion(body: ChatCompletionRequest, request: Request, zhiku: Zhiku, kb: str | None) -> Any:
    """``/v1/chat/completions`` with pictures (see the module docstring)."""
    if (body.n or 1) > 1:
        raise refuse("n", "a question with a picture is answered once (n: 1)")
    if body.tools:
        raise refuse("tools", "a question with a picture is answered without tools")
    question, pictures, history, system = split_messages(body.messages)
    name = zhiku.vision.choose(None if kb is not None else body.model)
    hits: list[Hit] = []
    if kb is not None:
        system, hits = await run_in_threadpool(_kb_context, zhiku, [kb], question, None)
    limit = body.max_completion_tokens or body.max_tokens
    lang = detect_lang(question) if question else "en"

    def make(control: Any) -> Any:
        return _with_citations(zhiku.vision.events(name, question, pictures, history, control, lang=lang,
                                                   max_tokens=limit, temperature=body.temperature, system=system),
                               hits)

    completion = Completion(body.model, question, bool(body.stream_options and body.stream_options.include_usage),
                            1, None)
    choice = completion.choices[0]
    timeouts = zhiku.vision.timeouts(name)
    heartbeat = zhiku.settings.server.sse_heartbeat_s
    if body.stream:
        return await respond(request, make, timeouts, whole, True, lambda _: choice, heartbeat)
    result = await respond(request, make, timeouts, whole, False, lambda _: choice, heartbeat)
    choice.answer = answer_of(result)  # type: ignore[arg-type]  # not streamed: the whole result
    return completion.json()


async def vision_chat(zhiku: Zhiku, request: Request, images: list[str], question: str,
                      history: list[dict[str, Any]], mode: str, kbs: list[str] | None, model: str | None,
                      top_k: int | None, finish: Any, encoder: Any, stream: bool) -> Any:
    """``/api/chat`` with ``images``: llm mode asks ``model`` (or the vision model), kb mode
    searches ``kbs`` and asks the vision model; other modes refuse pictures."""
    if mode not in ("llm", "kb"):
        raise InvalidInput(f"pictures can be asked about in llm and kb mode, not {mode}", param="images")
    pictures = [read_image(u, "images") for u in images]
    name = zhiku.vision.choose(model if mode == "llm" else None)
    system: str | None = None
    hits: list[Hit] = []
    if mode == "kb":
        if not kbs:
            raise InvalidInput("kb mode needs kbs", param="kbs")
        if "*" in kbs:
            raise InvalidInput("a question with a picture is not routed: name its knowledge bases in kbs", param="kbs")
        system, hits = await run_in_threadpool(_kb_context, zhiku, kbs, question, top_k)
    lang = detect_lang(question) if question else "en"

    def make(control: Any) -> Any:
        return _with_citations(zhiku.vision.events(name, question, pictures, history, control, lang=lang,
                                                   system=system), hits)

    return await respond(request, make, zhiku.vision.timeouts(name), finish, stream, encoder,
                         zhiku.settings.server.sse_heartbeat_s)
