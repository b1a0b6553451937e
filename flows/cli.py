"""The `ufo` command line: the parser (built from flows/cli_options.py), the error report
and exit code of every command, and the process's fast exit."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
from typing import NoReturn

# First of our modules: its exit hook must be registered before Prefect's (see there).
from flows.process_exit import end_process  # isort: skip
from flows import console, reporting
from flows.cli_options import COMMANDS, COMMON_OPTIONS
from flows.reporting import (
    EXIT_INTERNAL_ERROR,
    EXIT_INTERRUPTED,
    EXIT_INVALID_INPUT,
    EXIT_USER_ERROR,
    INTERRUPTS,
    USER_ERRORS,
)

logger = logging.getLogger("ufo")
LOGGED_COMMANDS = ("run", "search", "evaluate", "validate")  # say where their full log is


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ufo", description="Predict VIMER-UFO sub-network ranks on eight tasks."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        command_parser = sub.add_parser(name, help=command.help)
        for option in (*command.options, *COMMON_OPTIONS):
            command_parser.add_argument(*option.flags, **option.settings)
        command_parser.set_defaults(handler=command.handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # `evaluate --json` keeps stdout for the JSON object; stage lines go to stderr.
    out = sys.stderr if getattr(args, "json", False) else sys.stdout
    with console.session(args.command, args.verbose, out=out) as session:
        args.session = session
        reporting.set_view(session.view)
        try:
            code = _run_handler(args, session)
        finally:
            reporting.set_view(None)
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
    except INTERRUPTS:
        session.view.stop()
        reporting.say_interrupted()
        return EXIT_INTERRUPTED
    except Exception as error:  # a bug, not the user's mistake: never disguised as one
        session.view.stop()
        logger.error("internal error in `ufo %s`", args.command, exc_info=error)
        sys.stderr.write(
            f"ufo: internal error ({type(error).__name__}: {error}). This is a bug in ufo-nas, "
            f"not a problem with your input.\nThe full traceback is in {session.log_path}\n"
        )
        return EXIT_INTERNAL_ERROR


# After Ctrl-C the command has this long to stop on its own (the work stops at its next
# block, Prefect records the run's end) before the process ends anyway. Every output is
# written to a temporary file and renamed into place, so an end at any moment leaves the
# previous file or the new one; the temporary server and Dask's local workers die with us.
INTERRUPT_GRACE_SECONDS = 1.0


def _stop_soon_after_interrupt(signum, frame) -> None:
    """SIGINT: ask the work to stop (tasks/cancellation.py), interrupt the main thread, and
    make sure the process ends within the grace period even if a library swallows the
    interrupt (a task thread cannot receive it)."""
    from tasks import cancellation

    first = not cancellation.requested()
    cancellation.request()
    if first:
        threading.Thread(target=_end_after_grace, daemon=True).start()
    raise KeyboardInterrupt


def _end_after_grace() -> None:
    import time

    time.sleep(INTERRUPT_GRACE_SECONDS)
    reporting.say_interrupted()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):
            stream.flush()
    os._exit(EXIT_INTERRUPTED)


def entry_point() -> NoReturn:
    """The `ufo` command (pyproject.toml's script): `main` with Ctrl-C handled, then a normal
    exit (threads joined, Prefect's log and event flush, atexit hooks, the temporary
    server's stop) without the interpreter's teardown (flows/process_exit.py)."""
    signal.signal(signal.SIGINT, _stop_soon_after_interrupt)
    end_process(main())


if __name__ == "__main__":
    entry_point()
