"""One registry for every kind of backend, filled by plugins: zhiku's own and other packages'.

A plugin is a module with a ``register_backends(registry)`` function, or any callable taking
the registry. zhiku's built-in backends come from its own plugin modules (``BUILTIN_PLUGINS``);
other packages declare theirs as Python entry points in the group ``zhiku.plugins``::

    [project.entry-points."zhiku.plugins"]
    example = "zhiku_example_plugin"              # a module with register_backends(registry)
    # or  example = "zhiku_example_plugin:setup"  # a callable taking the registry

Both go through the same ``Registry.add``. The registry is loaded once, on the first lookup
(``registry()``), never at ``import zhiku``. A plugin that fails to load (an import error, an
exception while registering) is logged with its name and skipped, and none of its registrations
are kept; two registrations of one name in one kind are an error naming both plugins, because
settings that name a backend must mean one thing.

What a backend is depends on its kind (see docs/plugins.md):

====================  ==========================================================================
kind                  what is registered under a name (the name the settings use)
====================  ==========================================================================
``loader``            ``zhiku.ingest.loaders.base.LoaderSpec`` (its name, extensions, load, sniff)
``embedder``          ``(EmbedderConfig) -> Embedder``  (``embedding.models.*.type``)
``vector_index``      ``zhiku.store.index_protocols.VectorIndexType``  (``index.vector``)
``lexical_index``     ``zhiku.store.index_protocols.LexicalIndexType``  (``index.lexical``)
``chat_model``        ``(name, ChatModelConfig, Settings, Timeouts) -> ChatModel``  (``llm.models.*.type``)
``reranker``          ``(RerankerOptions) -> Reranker``  (``retrieval.rerank``)
``search_engine``     ``(WebSearchSettings) -> SearchEngine``  (``websearch.engine``)
``tool``              ``(ToolContext) -> Tool | None``  (``agent.tools``; ``zhiku.agent.base``)
====================  ==========================================================================

A backend may also be registered as a ``"module:attribute"`` string, imported on its first
lookup: built-ins with heavy imports (FAISS, SciPy) cost nothing until they are used.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from zhiku.errors import ConfigError

log = logging.getLogger(__name__)

GROUP = "zhiku.plugins"
HOOK = "register_backends"
KINDS: dict[str, str] = {  # kind -> how messages name one
    "loader": "loader",
    "embedder": "embedder type",
    "vector_index": "vector index",
    "lexical_index": "lexical index",
    "chat_model": "chat model type",
    "reranker": "reranker",
    "search_engine": "search engine",
    "tool": "tool",
}
# zhiku's own plugins, loaded like any entry point (by name: this module imports none of them)
BUILTIN_PLUGINS = (
    "zhiku.ingest.loaders",
    "zhiku.embed",
    "zhiku.store.indexes",
    "zhiku.llm.registry",
    "zhiku.retrieval.rerank",
    "zhiku.websearch",
    "zhiku.agent.tools",
)


@dataclass
class Registration:
    kind: str
    name: str
    backend: Any  # the object, or a "module:attribute" string until first looked up
    plugin: str  # who registered it: an entry point's name or a built-in module


class Registry:
    """Backends by kind and name. ``add`` registers; ``get`` looks one up for the settings."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Registration]] = {kind: {} for kind in KINDS}
        self._lock = threading.RLock()
        self._plugin: str = "(direct)"  # the plugin whose registrations are being taken
        self._staged: list[Registration] | None = None
        self.loaded: list[str] = []  # plugins that registered, in order
        self.failed: dict[str, str] = {}  # plugin -> why it was skipped

    # -- registering ---------------------------------------------------------------------
    def add(self, kind: str, name: str, backend: Any) -> None:
        """Register ``backend`` as ``name`` of ``kind``; a name already taken raises ``ConfigError``."""
        if kind not in KINDS:
            raise ConfigError(f"unknown backend kind '{kind}'; kinds: {', '.join(KINDS)}", kind=kind)
        if not name or not isinstance(name, str):
            raise ConfigError(f"a {KINDS[kind]} needs a non-empty name", kind=kind)
        entry = Registration(kind, name, backend, self._plugin)
        with self._lock:
            if self._staged is not None:
                self._staged.append(entry)
            else:
                self._commit([entry])

    def _commit(self, entries: list[Registration]) -> None:
        seen: dict[tuple[str, str], Registration] = {}
        for e in entries:
            first = self._entries[e.kind].get(e.name) or seen.get((e.kind, e.name))
            if first is not None:
                raise ConfigError(
                    f"{KINDS[e.kind]} '{e.name}' is registered twice: by {first.plugin} and by {e.plugin}",
                    kind=e.kind, name=e.name, plugins=[first.plugin, e.plugin])
            seen[(e.kind, e.name)] = e
        for e in entries:
            self._entries[e.kind][e.name] = e

    def load_plugin(self, name: str, plugin: Callable[["Registry"], Any] | Any) -> bool:
        """Run one plugin (a module with ``register_backends`` or a callable) and keep what it
        registered; a plugin that raises is logged and skipped, none of its registrations kept.
        Duplicate names still raise: which backend a setting means must not depend on load order."""
        with self._lock:
            self._plugin, self._staged = name, []
            try:
                hook = getattr(plugin, HOOK, plugin)  # a module, or the callable itself
                if not callable(hook):
                    raise TypeError(f"neither callable nor a module with {HOOK}(registry)")
                hook(self)
                staged = self._staged
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop zhiku
                log.warning("plugin %s failed to load and is skipped: %s: %s", name, type(exc).__name__, exc)
                self.failed[name] = f"{type(exc).__name__}: {exc}"
                return False
            finally:
                self._plugin, self._staged = "(direct)", None
            self._commit(staged)
            self.loaded.append(name)
            return True

    def load_entry_points(self, entry_points: Iterable[Any]) -> None:
        """Load each entry point (``importlib.metadata.EntryPoint``) as a plugin named after it."""
        for ep in entry_points:
            label = f"{ep.name} ({ep.value})"
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - an uninstallable plugin is skipped
                log.warning("plugin %s failed to load and is skipped: %s: %s", label, type(exc).__name__, exc)
                self.failed[label] = f"{type(exc).__name__}: {exc}"
                continue
            self.load_plugin(label, plugin)

    # -- looking up ----------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        with self._lock:
            return sorted(self._entries[kind])

    def plugin_of(self, kind: str, name: str) -> str:
        """Which plugin registered this backend."""
        with self._lock:
            return self._entries[kind][name].plugin

    def get(self, kind: str, name: str) -> Any:
        """The backend registered as ``name``; ``ConfigError`` naming the choices when there is none."""
        with self._lock:
            entry = self._entries[kind].get(name)
            if entry is None:
                choices = ", ".join(sorted(self._entries[kind])) or "none"
                raise ConfigError(f"unknown {KINDS[kind]} '{name}'; choices: {choices}", kind=kind, name=name)
            if isinstance(entry.backend, str):
                entry.backend = _resolve(entry.backend, entry.plugin)
            return entry.backend

    def backends(self, kind: str) -> dict[str, Any]:
        """Every backend of a kind by name, resolved, in the order they were registered (zhiku's
        own first: where two loaders claim one extension, the first registered reads it)."""
        with self._lock:
            names = list(self._entries[kind])
        return {name: self.get(kind, name) for name in names}


def _resolve(ref: str, plugin: str) -> Any:
    module, _, attr = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in filter(None, attr.split(".")):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"backend {ref} of plugin {plugin} cannot be imported: {exc}", plugin=plugin) from exc
    return obj


_registry: Registry | None = None
_load_lock = threading.Lock()


def registry() -> Registry:
    """The process's registry: zhiku's built-in plugins, then every installed ``zhiku.plugins``
    entry point, loaded on the first call."""
    global _registry
    if _registry is None:
        with _load_lock:
            if _registry is None:
                reg = Registry()
                for module in BUILTIN_PLUGINS:
                    if not reg.load_plugin(module, importlib.import_module(module)):
                        raise RuntimeError(f"zhiku's built-in plugin {module} failed: {reg.failed[module]}")
                from importlib.metadata import entry_points

                reg.load_entry_points(entry_points(group=GROUP))
                _registry = reg
    return _registry


def lookup(kind: str, name: str) -> Any:
    """``registry().get(kind, name)``."""
    return registry().get(kind, name)
