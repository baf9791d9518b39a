"""Schema fuzzing with schemathesis over a real uvicorn on 127.0.0.1: used by
tests/hardening/test_fuzz_schema.py (a bounded number of examples) and scripts/reliability.py (more).

The schema is the app's own OpenAPI document with the routes it keeps out of /openapi.json put back
(the Chatchat-compatible routers), so those are fuzzed too. Each operation gets ``examples`` cases
generated from its schema (valid and, with ``negative``, invalid ones); each response must not be a
5xx — but a 503 or 504 the route documents, with zhiku's error body, saying what the setup lacks (no
chat model configured) — and must match the schema (``response_schema_conformance``; with
``statuses``, its status code must be documented too: ``status_code_conformance``).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from zhiku import Zhiku, load_settings
from zhiku.api import create_app
from zhiku.cli.commands_server import KEEP_ALIVE_S, bind
from zhiku.testing.live_server import LiveServer

# operations not fuzzed, and why
SKIPPED = {
    # following a folder of the server: an admin's random absolute path ("/") would ingest the disk
    ("POST", "/api/kbs/{kb}/sources"): "follows a server folder: a random path may be /",
    ("POST", "/api/auth/logout"): "ends the key the fuzzer sends (every later case would be a 401)",
}
PASSWORD = "fuzz-admin-password-1"
# Chatchat's catch-alls for what zhiku does not serve (JSON 404 in its envelope): no input to fuzz
CATCH_ALL = ("{rest:path}",)


def full_schema(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, its hidden API routes included (the Chatchat-compatible ones)."""
    from fastapi.openapi.utils import get_openapi
    from fastapi.routing import RouteContext, iter_route_contexts

    class Shown(RouteContext):
        @property
        def include_in_schema(self) -> bool:  # type: ignore[override]
            return True

    shown = [Shown(c.route, c._route_context) for c in iter_route_contexts(app.routes)
             if isinstance(c.original_route, APIRoute) and not c.path.endswith(CATCH_ALL)
             and c.path not in ("/docs", "/redoc", "/docs/oauth2-redirect", "/")]
    return get_openapi(title=app.title, version=app.version, openapi_version=app.openapi_version,
                       description=app.description, routes=shown)


@dataclass
class FuzzReport:
    operations: int = 0
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (operation, check, detail)
    errors: list[tuple[str, str]] = field(default_factory=list)  # operations schemathesis could not generate for
    seconds: float = 0.0


def fuzz(home: Path, examples: int, negative: bool = False, statuses: bool = False,
         only: str | None = None) -> FuzzReport:
    """Serve an app on ``home`` (a KB ``kb`` with one file), fuzz every operation, return what happened."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    checks = [response_schema_conformance] + ([status_code_conformance] if statuses else [])
    report = FuzzReport()
    started = time.monotonic()
    zk = Zhiku(load_settings(home=home, environ={}, overrides={
        "embedding": {"default": "static"}, "llm": {"detect_local": False}}))
    try:
        zk.create_kb("kb")
        src = home.parent / "fuzz-seed.md"
        src.write_text("# Leave\n\nEmployees get fifteen days of paid leave a year.\n", encoding="utf-8")
        zk.add_files("kb", [src])
        # auth on from the start (a fuzzed POST /api/auth/users would turn it on half-way): an admin's
        # key with every scope goes with each case
        zk.auth.create_user("root", PASSWORD, "admin")
        headers = {"Authorization": f"Bearer {zk.auth.create_key('root', 'fuzz', ('read', 'write', 'admin'))[1]}"}
        app = create_app(zk)
        document = full_schema(app)
        schema = schemathesis.openapi.from_dict(document)
        server = LiveServer(app, bind("127.0.0.1", 0), KEEP_ALIVE_S)
        try:
            modes = [schemathesis.GenerationMode.POSITIVE] + ([schemathesis.GenerationMode.NEGATIVE] if negative else [])
            for result in schema.get_all_operations():
                try:
                    op = result.ok()
                except Exception as exc:  # noqa: BLE001 - an operation schemathesis cannot read
                    report.errors.append(("?", repr(exc)[:300]))
                    continue
                key = (op.method.upper(), op.path)
                if key in SKIPPED or (only and only not in op.path):
                    continue
                report.operations += 1
                for mode in modes:
                    documented = {int(c) for c in document["paths"][op.path][op.method.lower()]["responses"]
                                  if str(c).isdigit()}
                    _fuzz_one(op, mode, headers, server.url, checks, documented, examples, report, given,
                              settings, HealthCheck, Phase)
        finally:
            server.stop()
    finally:
        zk.close()
    report.seconds = time.monotonic() - started
    return report


def _documented_unavailable(response: Any, documented: set[int]) -> bool:
    """A 503 (no chat model configured, web search off) or 504 (a model did not answer in time) that the
    route documents, with zhiku's error body: an answer about the server's setup, not a crash."""
    if response.status_code not in (503, 504) or response.status_code not in documented:
        return False
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(error, dict) and bool(error.get("message"))


def _fuzz_one(op: Any, mode: Any, headers: dict[str, str], url: str, checks: list[Any], documented: set[int],
              examples: int,
              report: FuzzReport, given: Any, settings: Any, HealthCheck: Any, Phase: Any) -> None:
    label = f"{op.method.upper()} {op.path}"
    seen: set[tuple[str, str]] = set()

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=url, headers=headers, timeout=60)
        report.cases += 1
        report.statuses[response.status_code] += 1
        if response.status_code >= 500 and not _documented_unavailable(response, documented):
            detail = f"{response.status_code} {case.method} {case.formatted_path}: {response.text[:300]}"
            if ("ServerError", detail[:100]) not in seen:
                seen.add(("ServerError", detail[:100]))
                report.failures.append((label, "ServerError", detail))
        try:
            case.validate_response(response, checks=checks)
        except BaseExceptionGroup as group:  # schemathesis' FailureGroup: recorded, the next case goes on
            for exc in group.exceptions:
                kind = type(exc).__name__
                detail = f"{response.status_code} {case.method} {case.formatted_path}: {str(exc).strip()[:600]}"
                if (kind, detail[:100]) not in seen:
                    seen.add((kind, detail[:100]))
                    report.failures.append((label, kind, detail))

    try:
        run()
    except Exception as exc:  # noqa: BLE001 - generation failed for this operation
        if type(exc).__name__ != "Unsatisfiable":  # no invalid input exists for a route without inputs
            report.errors.append((label, f"{type(exc).__name__}: {str(exc)[:300]}"))
