"""The `ufo` command line: run, search, evaluate, validate, make-test, make-demo,
measure-latency, fit-latency, predictors. The commands and options are a table
(flows/cli_options.py), the handlers live in flows/commands.py."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import NoReturn

# First of our modules: its exit hook must be registered before Prefect's (see there).
from flows.process_exit import end_process  # isort: skip
from flows import console
from flows.cli_options import build_parser
from flows.commands import USER_ERRORS

logger = logging.getLogger("ufo")
EXIT_INVALID_INPUT, EXIT_USER_ERROR, EXIT_INTERNAL_ERROR, EXIT_INTERRUPTED = 1, 2, 3, 130
LOGGED_COMMANDS = ("run", "search", "evaluate", "validate")  # say where their full log is
__all__ = ["build_parser", "entry_point", "main"]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # `evaluate --json` keeps stdout for the JSON object; stage lines go to stderr.
    out = sys.stderr if getattr(args, "json", False) else sys.stdout
    with console.session(args.command, args.verbose, out=out) as session:
        args.session = session
        code = _run_handler(args, session)
        if args.command in LOGGED_COMMANDS and (code == 0 or session.log_path.exists()):
            out.write(f"full log: {session.log_path}\n")
        return code


def _run_handler(args: argparse.Namespace, session: console.Session) -> int:
    from tasks.checks.validation import ValidationFailed

    try:
        return args.handler(args)
    except ValidationFailed as failed:
        session.view.stop()
        sys.stderr.write(f"ufo: input rejected, nothing was written.\n{failed.report.to_text()}\n")
        return EXIT_INVALID_INPUT
    except USER_ERRORS as error:
        session.view.stop()
        sys.stderr.write(f"ufo: {error}\n")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        session.view.stop()
        sys.stderr.write("ufo: interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as error:  # a bug, not the user's mistake: never disguised as one
        session.view.stop()
        logger.error("internal error in `ufo %s`", args.command, exc_info=error)
        sys.stderr.write(
            f"ufo: internal error ({type(error).__name__}: {error}). This is a bug in ufo-nas, "
            f"not a problem with your input.\nThe full traceback is in {session.log_path}\n"
        )
        return EXIT_INTERNAL_ERROR


def entry_point() -> NoReturn:
    """The `ufo` command (pyproject.toml's script): `main`, then a normal exit (threads
    joined, Prefect's log and event flush, atexit hooks, the temporary server's stop)
    without the interpreter's teardown (flows/process_exit.py)."""
    end_process(main())


if __name__ == "__main__":
    entry_point()
