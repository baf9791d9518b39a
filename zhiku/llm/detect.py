"""Model servers running on this machine: Ollama, llama.cpp server, vLLM, LM Studio and Xinference,
looked for on 127.0.0.1 at their usual ports (``llm.probe_ports``), all at once, each with a short
timeout. A port that answers is counted only when it answers as that kind of server does; what it
serves is listed so one click (``zhiku model detect --add``, ``POST /api/settings/detect/add``)
makes it a model server of the settings."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from zhiku.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    import httpx

    from zhiku.config import Settings

HOST = "127.0.0.1"  # only this machine's loopback is ever probed
LABELS = {"ollama": "Ollama", "llamacpp": "llama.cpp server", "vllm": "vLLM", "lmstudio": "LM Studio",
          "xinference": "Xinference"}


@dataclass
class Found:
    kind: str
    label: str
    port: int
    base_url: str  # the OpenAI-compatible base zhiku talks to
    models: list[str]


@dataclass
class Detection:
    found: list[Found] = field(default_factory=list)
    probed: dict[str, int] = field(default_factory=dict)  # kind → port looked at
    problems: list[str] = field(default_factory=list)  # ports that answered, but not as the server expected


class NotAServer(Exception):
    """The port answered, but not as the server of that kind answers."""


def _json(client: "httpx.Client", url: str) -> Any:
    r = client.get(url)
    if r.status_code != 200:
        raise NotAServer(f"{url} answered {r.status_code}")
    try:
        return r.json()
    except ValueError:
        raise NotAServer(f"{url} did not answer JSON") from None


def _openai_models(client: "httpx.Client", base: str) -> list[str]:
    data = _json(client, f"{base}/v1/models")
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(m, dict) and m.get("id") for m in items):
        raise NotAServer(f"{base}/v1/models is not an OpenAI-compatible model list")
    return [str(m["id"]) for m in items]


def _ollama(client: "httpx.Client", base: str) -> list[str]:
    tags = _json(client, f"{base}/api/tags")  # Ollama's own list: the sign that this is Ollama
    items = tags.get("models") if isinstance(tags, dict) else None
    if not isinstance(items, list) or not all(isinstance(m, dict) and (m.get("name") or m.get("model"))
                                              for m in items):
        raise NotAServer(f"{base}/api/tags is not Ollama's model list")
    try:
        return _openai_models(client, base)  # the names its /v1 takes
    except NotAServer:
        return [str(m.get("name") or m.get("model")) for m in items]


def _llamacpp(client: "httpx.Client", base: str) -> list[str]:
    try:
        return _openai_models(client, base)
    except NotAServer:  # older builds: /props names the one loaded file
        props = _json(client, f"{base}/props")
        if not isinstance(props, dict) or not ("default_generation_settings" in props or "model_path" in props):
            raise NotAServer(f"{base} answers neither /v1/models nor llama.cpp's /props") from None
        path = str(props.get("model_path") or "")
        return [PurePath(path).name if path else "default"]


def probe(kind: str, port: int, timeout_s: float = 0.5) -> Found | None:
    """The server of ``kind`` at 127.0.0.1:``port`` with its models; None when nothing listens there.
    Raises NotAServer when something answers, but not as that kind of server."""
    import httpx

    base = f"http://{HOST}:{port}"
    # trust_env off: a proxy from the environment must never see (or answer for) a loopback probe
    with httpx.Client(timeout=timeout_s, trust_env=False, follow_redirects=False) as client:
        try:
            if kind == "ollama":
                models = _ollama(client, base)
            elif kind == "llamacpp":
                models = _llamacpp(client, base)
            else:
                models = _openai_models(client, base)
        except httpx.TransportError:
            return None  # nothing listens, or it did not answer in time
        except httpx.HTTPError as exc:
            raise NotAServer(f"{base}: {type(exc).__name__}") from None
    return Found(kind, LABELS.get(kind, kind), port, f"{base}/v1", sorted(models))


def detect(ports: dict[str, int], timeout_s: float = 0.5) -> Detection:
    """Every kind of ``ports`` probed at once (one thread each): what answers, in the order given."""
    result = Detection(probed=dict(ports))
    if not ports:
        return result
    with ThreadPoolExecutor(max_workers=len(ports), thread_name_prefix="zhiku-detect") as pool:
        futures = [(kind, port, pool.submit(probe, kind, port, timeout_s)) for kind, port in ports.items()]
        for kind, port, future in futures:
            try:
                found = future.result()
            except NotAServer as exc:
                result.problems.append(f"port {port} answers, but not as {LABELS.get(kind, kind)}: {exc}")
                continue
            if found is not None:
                result.found.append(found)
    return result


def detect_for(settings: "Settings", timeout_s: float = 0.5) -> Detection:
    return detect(dict(settings.llm.probe_ports), timeout_s)


def model_name(kind: str, model: str) -> str:
    """The name a detected model is added under: ``ollama-qwen2.5:7b`` (no '/', which names routes)."""
    return f"{kind}-{model}".replace("/", "-")[:100]


def pick(settings: "Settings", kind: str, model: str | None = None) -> tuple[Found, str]:
    """The server of ``kind`` found now and one of its models (``model``, else its first)."""
    if kind not in settings.llm.probe_ports:
        raise InvalidInput(f"unknown kind '{kind}'; looked for: {', '.join(settings.llm.probe_ports)}", field="kind")
    port = settings.llm.probe_ports[kind]
    try:
        found = probe(kind, port)
    except NotAServer as exc:
        raise NotFound(f"port {port} answers, but not as {LABELS.get(kind, kind)}: {exc}", kind=kind) from None
    if found is None:
        raise NotFound(f"no {LABELS.get(kind, kind)} answers on 127.0.0.1:{port}", kind=kind)
    if not found.models:
        raise NotFound(f"{found.label} on port {port} serves no model yet", kind=kind)
    if model is None:
        return found, found.models[0]
    if model not in found.models:
        raise NotFound(f"{found.label} on port {port} does not serve '{model}'; it serves: "
                       f"{', '.join(found.models)}", kind=kind, model=model)
    return found, model
