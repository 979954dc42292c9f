"""The typer application every command group registers on, its two consoles, and the one way a command fails:
a clear line on stderr and a non-zero exit (a traceback only with ``--debug``)."""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, TypeVar

import typer
from rich.console import Console

from vidnas import __version__
from vidnas.errors import VidnasError

app = typer.Typer(
    name="vidnas",
    help="Design fast, accurate video networks: validate, inspect and profile architectures (genotypes).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)
_state = {"debug": False}

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as the command's error; the caller raises what this returns."""
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def friendly_errors(command: F) -> F:
    """Turn the user's errors into one clear line and a non-zero exit (a traceback only with --debug)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except (VidnasError, FileNotFoundError, ValueError, RuntimeError, OSError) as error:
            if _state["debug"]:
                raise
            raise fail(str(error)) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None

    return wrapper  # type: ignore[return-value]


def group(name: str, help: str) -> typer.Typer:  # noqa: A002 - typer's own word
    """A command group (``vidnas NAME ...``) registered on the application."""
    sub = typer.Typer(help=help, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


def _version(value: bool) -> None:
    if value:
        console.print(f"vidnas {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: Optional[bool] = typer.Option(None, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    _state["debug"] = debug
