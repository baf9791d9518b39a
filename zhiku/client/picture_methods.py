"""Pictures in the typed client: the pictures of a file (a citation's ``images``), their bytes, and
a question asked with pictures attached (``/api/chat``'s ``images``)."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from zhiku.client.routes import Call, parse_as, seg
from zhiku.schema.chat import Message

#: the picture types a question may carry, by their first bytes
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


def data_url(data: bytes, mime: str | None = None) -> str:
    """A picture as the data: URL a question carries (the type is read from its bytes when not given)."""
    if mime is None:
        mime = next((m for sig, m in _SIGNATURES if data.startswith(sig)), None)
        if mime is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            mime = "image/webp"
    return f"data:{mime or 'application/octet-stream'};base64,{base64.b64encode(data).decode('ascii')}"


class PictureRoutes:
    @staticmethod
    def file_images(kb: str, file_id: str) -> Call:
        return Call("GET", f"/api/kbs/{seg(kb)}/files/{seg(file_id)}/images", parse_as(list[dict[str, Any]]))

    @staticmethod
    def file_image(kb: str, file_id: str, image_id: str) -> Call:
        return Call("GET", f"/api/kbs/{seg(kb)}/files/{seg(file_id)}/images/{seg(image_id)}")

    @staticmethod
    def ask_with_pictures(mode: str, question: str, pictures: Sequence[bytes], choices: dict[str, Any]) -> Call:
        body = {"mode": mode, "messages": [{"role": "user", "content": question}], "stream": False,
                "images": [data_url(p) for p in pictures], **{k: v for k, v in choices.items() if v is not None}}
        return Call("POST", "/api/chat", parse_as(Message), json=body)


class PictureMethods:
    """Picture methods of ``ZhikuClient``."""

    if TYPE_CHECKING:  # provided by the client
        def _do(self, call: Any, **kw: Any) -> Any: ...
        def _send(self, call: Any, **kw: Any) -> Any: ...

    def file_images(self, kb: str, file_id: str) -> list[dict[str, Any]]:
        """The file's pictures: id, page, the chunks showing each, its caption."""
        result: list[dict[str, Any]] = self._do(PictureRoutes.file_images(kb, file_id))
        return result

    def file_image(self, kb: str, file_id: str, image_id: str) -> bytes:
        """One picture's bytes (a citation's ``images`` entry)."""
        content: bytes = self._send(PictureRoutes.file_image(kb, file_id, image_id)).content
        return content

    def ask_with_pictures(self, mode: str, question: str, pictures: Sequence[bytes], *, kbs: Sequence[str] | None = None,
                          model: str | None = None) -> Message:
        """A question about ``pictures`` (llm mode: ``model`` or the vision model; kb mode: the KBs'
        passages too); 400 when the server has no vision model."""
        choices = {"kbs": list(kbs) if kbs is not None else None, "model": model}
        message: Message = self._do(PictureRoutes.ask_with_pictures(mode, question, pictures, choices))
        return message
