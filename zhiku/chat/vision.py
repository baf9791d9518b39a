"""Pictures and the vision model: captions at ingestion, questions that come with a picture.

The vision model is ``llm.vision_model`` or, when that is empty, the first configured model with
``vision: true``; it must be an OpenAI-compatible server with image input (Qwen-VL or LLaVA on
Ollama or vLLM, GPT-4o...). Pictures travel to it as OpenAI ``image_url`` content parts with
``data:`` URLs. With none configured, a question with a picture is refused (400,
``code: no_vision_model``) — never answered as if the picture were not there.

- ``Vision.caption``: one picture → a short description (the ingestion ``Captioner``).
- ``Vision.events``: a question with pictures → the answer's events (``Delta``s, then ``Final``),
  as every face streams or collects them.
- ``read_image``: a ``data:`` URL from a request → the picture, checked (PNG, JPEG, GIF or WebP,
  at most ``MAX_IMAGE_BYTES``); a URL of any other scheme is refused (zhiku fetches no picture).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from zhiku.errors import InvalidInput, NotFound
from zhiku.llm.base import CallControl, Message, Timeouts
from zhiku.schema import Answer, AnswerEvent, Delta, Final

if TYPE_CHECKING:
    from zhiku.config import ChatModelConfig, Settings
    from zhiku.llm.base import ChatModel
    from zhiku.llm.registry import ModelRegistry

MAX_IMAGES = 4
MAX_IMAGE_BYTES = 10 * 2**20
_DATA_URL = re.compile(r"data:(image/[a-z0-9.+-]+)(?:;[a-z0-9=.-]+)*;base64,", re.I)
_MAGIC = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",), "image/gif": (b"GIF87a", b"GIF89a"),
          "image/webp": (b"RIFF",)}
CAPTION_PROMPT = ("Describe this picture in one to three sentences for a search index: what it shows, and the "
                  "text, numbers and labels in it. Write in the language of the text in the picture, if any.")
ANSWER_SYSTEM = "Answer the user's question about the picture(s) they attached. Be concise and factual."
NO_VISION = ("no vision model is configured, so the attached picture cannot be read: set llm.vision_model (or "
             "`vision: true` on a model of llm.models) to an OpenAI-compatible server with image input")


@dataclass(frozen=True)
class Picture:
    """A picture attached to a question."""

    data: bytes
    mime: str

    def url(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"


def read_image(url: str, param: str = "messages") -> Picture:
    """The picture of a ``data:`` URL; 400 naming ``param`` for anything else."""
    url = (url or "").strip()
    m = _DATA_URL.match(url)
    if m is None:
        scheme = url.split(":", 1)[0][:20] if ":" in url else "none"
        raise InvalidInput(f"a picture must be sent as a data: URL (data:image/png;base64,...); zhiku fetches no "
                           f"picture from a URL (scheme: {scheme})", param=param, code="bad_image")
    mime = m.group(1).lower().replace("image/jpg", "image/jpeg")
    if mime not in _MAGIC:
        raise InvalidInput(f"pictures may be PNG, JPEG, GIF or WebP, not {mime}", param=param, code="bad_image")
    b64 = url[m.end():]
    if len(b64) > MAX_IMAGE_BYTES * 4 // 3 + 8:
        raise InvalidInput(f"a picture may be {MAX_IMAGE_BYTES // 2**20} MB at most", param=param, code="bad_image")
    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("the picture's data: URL is not valid base64", param=param, code="bad_image") from None
    if not data or not any(data.startswith(sig) for sig in _MAGIC[mime]):
        raise InvalidInput(f"the picture's bytes are not {mime}", param=param, code="bad_image")
    return Picture(data, mime)


def read_images(urls: Sequence[str], param: str = "messages") -> list[Picture]:
    if len(urls) > MAX_IMAGES:
        raise InvalidInput(f"at most {MAX_IMAGES} pictures per question ({len(urls)} given)", param=param,
                           code="bad_image")
    return [read_image(u, param) for u in urls]


class Vision:
    """The vision model of the settings as they are now (``settings`` and ``models`` are read at
    each call, so a model added in the settings page is used at once)."""

    def __init__(self, settings: Callable[[], "Settings"], models: Callable[[], "ModelRegistry"]) -> None:
        self._settings, self._models = settings, models

    def model_name(self) -> str | None:
        """The configured vision model, or None."""
        llm = self._settings().llm
        if llm.vision_model:
            return llm.vision_model
        return next((name for name, cfg in llm.models.items() if cfg.vision), None)

    def sees(self, name: str) -> bool:
        """Whether the chat model ``name`` takes pictures."""
        cfg = self._settings().llm.models.get(name)
        return name == self.model_name() or bool(cfg is not None and cfg.vision)

    def choose(self, asked: str | None = None) -> str:
        """The model a question with a picture goes to: ``asked`` (a chat model) when it takes
        pictures, else the vision model; 400 when there is none or ``asked`` cannot see."""
        if asked is not None and self.sees(asked):
            return asked
        if asked is not None:
            raise InvalidInput(f"model '{asked}' does not take pictures (set `vision: true` in its settings if it "
                               f"does); ask {self.model_name() or 'a vision model'} instead"
                               if self.model_name() else NO_VISION, param="model", code="no_vision_model")
        name = self.model_name()
        if name is None:
            raise InvalidInput(NO_VISION, param="messages", code="no_vision_model")
        return name

    def _model(self, name: str) -> "ChatModel":
        cfg: ChatModelConfig | None = self._settings().llm.models.get(name)
        if cfg is not None and cfg.type != "openai":
            raise InvalidInput(f"vision model '{name}' is a {cfg.type} model: pictures need an openai-type server "
                               "with image input", param="model", code="no_vision_model")
        try:
            return self._models().get(name)
        except NotFound:
            raise InvalidInput(f"the vision model '{name}' is not configured (llm.vision_model names a key of "
                               "llm.models)", param="model", code="no_vision_model") from None

    def timeouts(self, name: str) -> Timeouts:
        try:
            return self._model(name).timeouts
        except InvalidInput:
            return Timeouts()

    # -- the ingestion captioner ---------------------------------------------------------------
    def caption_model(self) -> str | None:
        return self.model_name()

    def caption(self, data: bytes, mime: str, timeout_s: float) -> str:
        name = self.choose()
        model = self._model(name)
        t = model.timeouts
        control = CallControl(Timeouts(t.connect, min(t.read, timeout_s), timeout_s))
        message = cast(Message, {"role": "user", "content": [
            {"type": "text", "text": CAPTION_PROMPT},
            {"type": "image_url", "image_url": {"url": Picture(data, mime).url()}}]})
        text, _, _ = _collect(model, [message], control, 200)
        return text.strip()

    # -- questions with pictures ---------------------------------------------------------------
    def events(self, name: str, question: str, pictures: Sequence[Picture], history: Sequence[dict[str, Any]],
               control: CallControl, *, lang: str = "en", max_tokens: int | None = None,
               temperature: float | None = None, system: str | None = None,
               ) -> Generator[AnswerEvent, None, None]:
        """The answer of model ``name`` to ``question`` about ``pictures`` (``history``: earlier
        turns as {role, content} with text content)."""
        model = self._model(name)
        messages: list[Message] = [cast(Message, {"role": "system", "content": system or ANSWER_SYSTEM})]
        for turn in history:
            if turn.get("role") in ("user", "assistant") and isinstance(turn.get("content"), str):
                messages.append(cast(Message, {"role": turn["role"], "content": turn["content"]}))
        parts: list[dict[str, Any]] = [{"type": "text", "text": question or "What does this picture show?"}]
        parts += [{"type": "image_url", "image_url": {"url": p.url()}} for p in pictures]
        messages.append(cast(Message, {"role": "user", "content": parts}))
        pieces: list[str] = []
        finish: str | None = None
        usage: dict[str, int] | None = None
        deltas = model.stream(messages, max_tokens=max_tokens, temperature=temperature, control=control)
        try:
            for delta in deltas:
                if delta.text:
                    pieces.append(delta.text)
                    yield Delta(text=delta.text)
                finish = delta.finish_reason or finish
                if delta.usage is not None:
                    usage = {"prompt_tokens": delta.usage.prompt_tokens,
                             "completion_tokens": delta.usage.completion_tokens}
        finally:
            deltas.close()
        text = "".join(pieces).strip()
        yield Final(answer=Answer(answer=text, found=bool(text), citations=[], lang=lang, mode="llm", model=name,
                                  finish_reason=finish, usage=usage))


def _collect(model: "ChatModel", messages: list[Message], control: CallControl,
             max_tokens: int) -> tuple[str, str | None, Any]:
    pieces: list[str] = []
    finish = usage = None
    deltas = model.stream(messages, max_tokens=max_tokens, temperature=0, control=control)
    try:
        for delta in deltas:
            pieces.append(delta.text)
            finish = delta.finish_reason or finish
            usage = delta.usage or usage
    finally:
        deltas.close()
    return "".join(pieces), finish, usage
