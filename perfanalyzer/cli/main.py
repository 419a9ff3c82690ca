"""The ``perfanalyzer`` command: profile by default (perf_analyzer's flags), plus subcommands.

Exit codes follow perf_analyzer: 0 ok, 2 a load point never stabilized, 3 option error, 99 other
error; 130 after Ctrl-C (what was measured is still written).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click

from ..errors import EXIT_GENERIC, EXIT_INTERRUPTED, EXIT_OPTION, PerfAnalyzerError
from ..redact import scrub
from ..version import __version__
from .options import profile_options
from .pa_compat import apply_compat, compat_options

if TYPE_CHECKING:
    from ..config import RunConfig

SUBCOMMANDS_EPILOG = ("Other commands: perfanalyzer serve | report | plot | compare | search "
                      "(perfanalyzer COMMAND --help).")


#: Subcommands, imported only when used (a profile run or --help does not load the gate).
SUBCOMMANDS = {"serve": ("serve", "serve"), "report": ("report_cmd", "report"),
               "plot": ("report_cmd", "plot"), "compare": ("compare_cmd", "compare"),
               "search": ("search_cmd", "search")}


class MainGroup(click.Group):
    """``perfanalyzer [FLAGS]`` runs ``profile``; ``perfanalyzer COMMAND ...`` runs a subcommand."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in SUBCOMMANDS and cmd_name not in self.commands:
            module, attr = SUBCOMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"{__package__}.{module}"), attr)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in SUBCOMMANDS):
            if args and args[0] in ("--version",):
                return super().parse_args(ctx, args)
            args = ["profile", *args]
        return super().parse_args(ctx, args)



HELP_OPTIONS = ["-h", "--help", "-?"]  # -?: perf_analyzer's help flag


@click.group(cls=MainGroup, context_settings={"help_option_names": HELP_OPTIONS})
@click.version_option(__version__, "--version", prog_name="perfanalyzer")
def cli() -> None:
    """perfanalyzer: load generator and benchmark for KServe v2 / Triton inference servers."""


@cli.command("profile", epilog=SUBCOMMANDS_EPILOG,
             context_settings={"help_option_names": HELP_OPTIONS, "max_content_width": 100})
@profile_options
@compat_options
def profile_command(**kwargs: Any) -> None:
    """Profile a model: sweep concurrency or request rate and report throughput vs latency.

    Flags, defaults, CSV and exit codes are perf_analyzer's. Differences: unstable points are
    reported with their spread (exit 2 still tells scripts), client CPU and event-loop lag are
    measured per window, request-rate latency is also reported from the scheduled send time, and
    --adaptive lengthens windows until stable. The client send and receive times are the transport's
    own write and receive times (request bodies are built before measuring and responses are not
    decoded on the hot path, so they hold no serialization time).
    """
    from .lean_process import single_threaded_blas

    single_threaded_blas()
    from .profile_main import run_profile

    sys.exit(run_profile(profile_config(kwargs)))


def profile_config(kwargs: Mapping[str, Any]) -> RunConfig:
    """The profile command's configuration from its parsed flags: perf_client options rewritten,
    refusals, cross-flag checks (raises OptionError)."""
    from ..config.build import build

    return build(apply_compat(dict(kwargs)))


#: An error line longer than this is cut (a bad value can be megabytes long).
MAX_ERROR_CHARS = 400


def one_line(text: str) -> str:
    """An error message as one scrubbed line of bounded length."""
    text = scrub(" ".join(text.split("\n")))
    if len(text) > MAX_ERROR_CHARS:
        text = f"{text[:MAX_ERROR_CHARS]}... ({len(text) - MAX_ERROR_CHARS} more characters)"
    return text


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args, prog_name="perfanalyzer", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        msg = exc.format_message()
        where = f" (see perfanalyzer {exc.ctx.info_name} --help)" if exc.ctx else ""
        click.echo(f"error: {one_line(msg)}{where}", err=True)
        sys.exit(EXIT_OPTION)
    except click.Abort:
        sys.exit(EXIT_INTERRUPTED)
    except PerfAnalyzerError as exc:
        click.echo(f"error: {one_line(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()

__all__ = ["EXIT_GENERIC", "cli", "main"]
