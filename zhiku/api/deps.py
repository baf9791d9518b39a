"""Dependencies shared by the routers (``Annotated`` aliases, as in full-stack-fastapi-template)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from zhiku.app import Zhiku


def get_zhiku(request: Request) -> Zhiku:
    return request.app.state.zhiku


ZhikuDep = Annotated[Zhiku, Depends(get_zhiku)]
KBName = Annotated[str, Path(description="knowledge base name (URL-encoded; Chinese is fine)", min_length=1)]
FileId = Annotated[str, Path(description="file id (as listed by the files route)", pattern=r"^[0-9a-f]{32}$")]
JobId = Annotated[str, Path(description="job id", pattern=r"^[0-9a-f]{32}$")]
ChunkId = Annotated[int, Path(description="chunk id", ge=1)]
