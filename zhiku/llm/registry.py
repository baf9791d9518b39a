"""The chat models the app can use: configured in settings, pulled with `zhiku model pull`
(HOME/models/models.json), and found running on loopback (Ollama, llama.cpp server)."""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from zhiku.config import ChatModelConfig
from zhiku.errors import ConfigError, NotFound
from zhiku.llm.base import ChatModel, Timeouts
from zhiku.llm.presets import LOCAL_PROBES, PRESETS

if TYPE_CHECKING:
    from zhiku.config import Settings
    from zhiku.plugins import Registry

log = logging.getLogger(__name__)
REGISTRY_FILE = "models.json"


@dataclass
class ModelInfo:
    name: str
    type: str
    target: str  # base URL or GGUF path
    model: str | None
    source: str  # config, pulled or detected
    default: bool = False
    reachable: bool | None = None
    reason: str | None = None


def models_dir(settings: "Settings") -> Path:
    return settings.home / "models"


def read_pulled(settings: "Settings") -> dict[str, dict]:
    path = models_dir(settings) / REGISTRY_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("ignoring unreadable %s", path)
        return {}
    return data if isinstance(data, dict) else {}


def register_pulled(settings: "Settings", name: str, file: str, sha256: str, source: str,
                    context_window: int = 4096) -> None:
    folder = models_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    data = read_pulled(settings)
    data[name] = {"path": file, "sha256": sha256, "source": source, "context_window": context_window}
    tmp = folder / (REGISTRY_FILE + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, folder / REGISTRY_FILE)


def detect_local(timeout: float = 0.3, host: str = "127.0.0.1",
                 probes: tuple[tuple[str, int], ...] = LOCAL_PROBES) -> dict[str, ChatModelConfig]:
    """Models offered by OpenAI-compatible servers listening on loopback, as ``preset/model``."""
    import httpx

    found: dict[str, ChatModelConfig] = {}
    for preset, port in probes:
        base = f"http://{host}:{port}/v1"
        try:
            r = httpx.get(f"{base}/models", timeout=timeout)
            ids = [m["id"] for m in r.json().get("data", [])] if r.status_code == 200 else []
        except Exception:
            continue
        for mid in ids:
            found[f"{preset}/{mid}"] = ChatModelConfig(type="openai", preset=preset, base_url=base, model=mid)
    return found


class ModelRegistry:
    def __init__(self, settings: "Settings") -> None:
        self.settings = settings
        self._models: dict[str, ChatModel] = {}
        self._lock = threading.Lock()
        self._detected: dict[str, ChatModelConfig] | None = None

    # -- what exists -------------------------------------------------------------------
    def detected(self, refresh: bool = False) -> dict[str, ChatModelConfig]:
        if not self.settings.llm.detect_local:
            return {}
        if self._detected is None or refresh:
            self._detected = detect_local()
        return self._detected

    def configs(self, detect: bool = True) -> dict[str, tuple[ChatModelConfig, str]]:
        out: dict[str, tuple[ChatModelConfig, str]] = {}
        if detect:
            out.update({n: (c, "detected") for n, c in self.detected().items()})
        for name, entry in read_pulled(self.settings).items():
            out[name] = (ChatModelConfig(type="llamacpp", path=entry["path"],
                                         context_window=entry.get("context_window", 4096)), "pulled")
        out.update({n: (c, "config") for n, c in self.settings.llm.models.items()})
        return out

    def default_name(self) -> str | None:
        default = self.settings.llm.default
        if default == "auto":
            detected = self.detected()
            return next(iter(detected), None)
        return default

    def config(self, name: str) -> ChatModelConfig:
        configs = self.configs(detect=name not in self.settings.llm.models and "/" in name)
        if name not in configs:
            known = ", ".join(sorted(configs)) or "none (see `zhiku models`)"
            raise NotFound(f"unknown chat model '{name}'; configured: {known}", model=name)
        return configs[name][0]

    # -- instances ---------------------------------------------------------------------
    def get(self, name: str) -> ChatModel:
        with self._lock:
            if name not in self._models:
                self._models[name] = build_model(name, self.config(name), self.settings)
            return self._models[name]

    def forget(self, name: str) -> None:
        """Drop the built instance of ``name`` (its settings changed or it was removed): the next
        question builds it again from the settings as they are now."""
        with self._lock:
            model = self._models.pop(name, None)
        if model is not None:
            try:
                model.close()
            except Exception:  # closing is best effort
                log.debug("closing model failed", exc_info=True)

    def list(self, check: bool = True) -> list[ModelInfo]:
        default = self.default_name()
        out = []
        for name, (cfg, source) in sorted(self.configs().items()):
            if cfg.type == "llamacpp":
                target, model = str(resolve_path(self.settings, cfg.path or "")), None
            else:
                target, model = cfg.base_url or (PRESETS[cfg.preset].base_url if cfg.preset else ""), cfg.model
            info = ModelInfo(name, cfg.type, target, model, source, default=name == default)
            if check:
                info.reason = self._check(name, cfg)
                info.reachable = info.reason is None
            out.append(info)
        return out

    def _check(self, name: str, cfg: ChatModelConfig) -> str | None:
        if cfg.type == "llamacpp":
            path = resolve_path(self.settings, cfg.path or "")
            if not path.is_file():
                return f"no file at {path}"
            try:
                import llama_cpp  # noqa: F401
            except ImportError:
                return "llama-cpp-python is not installed: pip install 'zhiku[local]'"
            return None
        try:
            model = build_model(name, cfg.model_copy(update={"connect_timeout_s": 2.0}), self.settings)
        except Exception as exc:
            return str(exc)
        try:
            return model.ping()
        finally:
            model.close()

    def close(self) -> None:
        with self._lock:
            for m in self._models.values():
                try:
                    m.close()
                except Exception:  # closing is best effort
                    log.debug("closing model failed", exc_info=True)
            self._models.clear()


def resolve_path(settings: "Settings", path: str) -> Path:
    p = Path(os.path.expanduser(path))
    return p if p.is_absolute() else models_dir(settings) / p


ChatModelFactory = Callable[[str, ChatModelConfig, "Settings", Timeouts], ChatModel]


def build_model(name: str, cfg: ChatModelConfig, settings: "Settings") -> ChatModel:
    """The chat model ``cfg`` describes, by its ``type`` in the plugin registry (kind ``chat_model``:
    a factory taking the model's name, its settings, the app's settings and its timeouts)."""
    from zhiku.plugins import lookup

    llm = settings.llm
    timeouts = Timeouts(cfg.connect_timeout_s or llm.connect_timeout_s, cfg.read_timeout_s or llm.read_timeout_s,
                        cfg.total_timeout_s or llm.total_timeout_s)
    factory: ChatModelFactory = lookup("chat_model", cfg.type)
    return factory(name, cfg, settings, timeouts)


def _llamacpp(name: str, cfg: ChatModelConfig, settings: "Settings", timeouts: Timeouts) -> ChatModel:
    from zhiku.llm.local import LlamaCppModel

    if not cfg.path:
        raise ConfigError(f"model '{name}': a llamacpp model needs `path` (a GGUF file)", model=name)
    return LlamaCppModel(name, resolve_path(settings, cfg.path), context_window=cfg.context_window,
                         max_tokens=cfg.max_tokens, temperature=cfg.temperature, threads=cfg.threads,
                         timeouts=timeouts)


def _openai(name: str, cfg: ChatModelConfig, settings: "Settings", timeouts: Timeouts) -> ChatModel:
    from zhiku.llm.openai_compat import OpenAICompatModel

    preset = PRESETS.get(cfg.preset) if cfg.preset else None
    base_url = cfg.base_url or (preset.base_url if preset else None)
    if not base_url:
        raise ConfigError(f"model '{name}': set `base_url` or a `preset`", model=name)
    model = cfg.model or ("default" if cfg.preset == "llamacpp-server" else None)
    if not model:
        hint = f" (e.g. {preset.hint})" if preset else ""
        raise ConfigError(f"model '{name}': set `model`, the server's name for it{hint}", model=name)
    key = cfg.api_key or (os.environ.get(cfg.api_key_env) if cfg.api_key_env else None)
    if not key and preset and preset.key_env:
        key = os.environ.get(preset.key_env)
    if not key and preset and preset.needs_key:
        raise ConfigError(f"model '{name}': {cfg.preset} needs an API key: set `api_key` or "
                          f"{cfg.api_key_env or preset.key_env}", model=name)
    return OpenAICompatModel(name, base_url, model, key, context_window=cfg.context_window,
                             max_tokens=cfg.max_tokens, temperature=cfg.temperature, timeouts=timeouts,
                             preset=cfg.preset)


def register_backends(registry: "Registry") -> None:
    """zhiku's own chat model types."""
    registry.add("chat_model", "openai", _openai)
    registry.add("chat_model", "llamacpp", _llamacpp)
