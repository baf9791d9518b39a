"""The CLI against a running server (`zhiku --server URL ...`), through ``zhiku.client``.

``RemoteBackend`` offers the methods the commands call on a local ``Zhiku`` with the same
signatures and return types, so each command is written once and runs either way.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any, Sequence

from zhiku.client import ZhikuClient
from zhiku.client.routes import UploadItem
from zhiku.errors import NotFound, Unavailable
from zhiku.ingest.pipeline import IngestProgress, IngestReport, Source, expand_paths, name_clashes
from zhiku.schema import Answer, AnswerRequest, Chunk, FileRecord, Hit, KnowledgeBase

UPLOAD_BATCH_BYTES = 256 * 1024 * 1024  # well under the server's default upload limit (1 GiB)


class RemoteBackend:
    def __init__(self, url: str, api_key: str | None = None) -> None:
        self.url = url
        self.client = ZhikuClient(url, api_key=api_key, timeout=600.0)

    def close(self) -> None:
        self.client.close()

    # -- knowledge bases -------------------------------------------------------------
    def create_kb(self, name: str, description: str = "", embedder: str | None = None) -> KnowledgeBase:
        return self.client.create_kb(name, description, embedder)

    def kb(self, name: str) -> KnowledgeBase:
        return self.client.get_kb(name)

    def list_kbs(self) -> list[KnowledgeBase]:
        return self.client.list_kbs()

    def delete_kb(self, name: str) -> None:
        self.client.delete_kb(name)

    def rebuild(self, name: str) -> int:
        return self.client.rebuild_kb(name).chunks

    def check(self, name: str, repair: bool = False) -> list[str]:
        return self.client.check_kb(name, repair).problems

    # -- files -----------------------------------------------------------------------
    def list_files(self, kb_name: str) -> list[FileRecord]:
        return self.client.list_files(kb_name)

    def _find(self, kb_name: str, file: str) -> list[FileRecord]:
        files = self.client.list_files(kb_name)
        found = [f for f in files if f.name == file] or [f for f in files if f.id == file]
        if not found:
            raise NotFound(f"no file '{file}' in knowledge base '{kb_name}'", file=file)
        return found

    def remove_files(self, kb_name: str, names: Sequence[str]) -> list[str]:
        targets = [f for n in names for f in self._find(kb_name, n)]  # all found before any is deleted
        for f in targets:
            self.client.delete_file(kb_name, f.id)
        return sorted({f.name for f in targets})

    def file_chunks(self, kb_name: str, file: str) -> tuple[FileRecord, list[Chunk]]:
        versions = self._find(kb_name, file)
        record = ([f for f in versions if f.status == "indexed"] or versions)[-1]
        return record, self.client.list_chunks(kb_name, record.id)

    def add_files(self, kb_name: str, paths: Sequence[str | Path], force: bool = False,
                  progress: IngestProgress | None = None) -> IngestReport:
        """Upload the files (in batches) and follow each ingestion job to its end."""
        return self.add_sources(kb_name, expand_paths(paths), force, progress)

    def add_sources(self, kb_name: str, sources: list[Source], force: bool = False,
                    progress: IngestProgress | None = None) -> IngestReport:
        """Upload these files under their names (in batches) and follow each ingestion job to its end."""
        if progress is not None:
            progress.files_found(len(sources))
        report = IngestReport()
        clashes = name_clashes(sources)  # as locally: a second file of one name is refused, not uploaded
        for src, why in clashes.values():
            report.failed.append((src.name, why))
            if progress is not None:
                progress.file_finished(src.name, "failed", why)
        for batch in _batches([s for i, s in enumerate(sources) if i not in clashes]):
            with ExitStack() as stack:  # each file under its name in the KB (a folder's files keep their folder)
                items: list[UploadItem] = [(s.name, stack.enter_context(s.path.open("rb"))) for s in batch]
                job = self.client.upload(kb_name, items, force=force)
            self._follow(job.id, report, progress)
        return report

    def _follow(self, job_id: str, report: IngestReport, progress: IngestProgress | None) -> None:
        finished: set[int] = set()
        chunks_seen = embedded_seen = 0
        final: Any = None
        for job in self.client.job_events(job_id):
            final = job
            if progress is not None:
                if job.chunks_total > chunks_seen:
                    progress.file_started(job.current_file or "", job.chunks_total - chunks_seen)
                    chunks_seen = job.chunks_total
                if job.chunks_embedded > embedded_seen:
                    progress.chunks_embedded(job.chunks_embedded - embedded_seen)
                    embedded_seen = job.chunks_embedded
            for i, f in enumerate(job.files):
                if i not in finished and f.outcome not in ("queued", "running"):
                    finished.add(i)
                    if progress is not None:
                        progress.file_finished(f.name, f.outcome, f.detail)
        if final is None:
            final = self.client.get_job(job_id)
        for f in final.files:
            if f.outcome == "added":
                report.added.append(f.name)
            elif f.outcome == "replaced":
                report.replaced.append(f.name)
            elif f.outcome == "skipped":
                report.skipped.append((f.name, f.detail))
            elif f.outcome in ("failed", "cancelled"):
                report.failed.append((f.name, f.detail or final.error or f.outcome))
        report.chunks += final.chunks_total
        report.embedded += final.chunks_embedded
        if final.status == "failed" and not report.failed:
            report.failed.append(("(job)", final.error or "the ingestion job failed"))

    # -- search and answers ----------------------------------------------------------
    def search(self, kb_names: Sequence[str], query: str, top_k: int | None = None, mode: str | None = None,
               file_glob: str | None = None, rerank: str | None = None) -> list[Hit]:
        return self.client.search(list(kb_names), query, top_k=top_k, mode=mode, file=file_glob, rerank=rerank)

    def answer(self, request: AnswerRequest) -> Answer:
        """The server's answer, through its chat route (the same pipeline as a local answer): with
        its default chat model (or the one named), else extractive."""
        msg = self.client.chat(request.mode, [t.model_dump() for t in request.history] + [
            {"role": "user", "content": request.question}], kbs=request.kbs or None, temp_kb=request.temp_kb,
            model=request.model, temperature=request.temperature, top_k=request.top_k, strict=request.strict,
            retrieval=request.retrieval, agentic=request.agentic)
        if msg.status == "error":
            raise Unavailable(msg.error or "the server could not answer", kind=msg.meta.get("error_type"))
        meta = msg.meta
        return Answer(
            answer=msg.content, found=bool(meta.get("found", True)), citations=msg.citations,
            lang=str(meta.get("lang") or "zh"), mode="extractive" if msg.model in (None, "extractive") else "llm",
            best_score=float(meta.get("best_score") or 0.0),
            model=None if msg.model in (None, "extractive") else msg.model, warning=meta.get("warning"),
            finish_reason=meta.get("finish_reason"), usage=msg.usage,
            dropped_sources=int(meta.get("dropped_sources") or 0), dropped_turns=int(meta.get("dropped_turns") or 0),
            trace=msg.trace, kbs=meta.get("kbs"))


def _batches(sources: Sequence[Source]) -> list[list[Source]]:
    out: list[list[Source]] = []
    size = 0
    for src in sources:
        n = src.path.stat().st_size
        if not out or size + n > UPLOAD_BATCH_BYTES:
            out.append([])
            size = 0
        out[-1].append(src)
        size += n
    return out
