"""`fiqa-gui` command line: the GUI by default, and headless subcommands over the same core.

Exit codes: 0 success, 2 bad input or a condition the user can fix — full disk, read-only folder,
damaged project, closed output pipe — (one line naming the file, the row and the fix), 1 internal
error (the traceback goes to a log file, named in the message), 130 cancelled (Ctrl+C), 143
terminated (SIGTERM; the same clean-up as Ctrl+C: no temporary or staging folder is left).
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
import tempfile
import traceback

from fiqa_gui import __version__
from fiqa_gui.cli import (
    cluster_command,
    erc_command,
    export_command,
    learning_commands,
    project_commands,
    relocate_command,
    sample_command,
    score_command,
    window_commands,
)
from fiqa_gui.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_CANCELLED,
    EXIT_INTERNAL,
    EXIT_TERMINATED,
    OneLineParser,
    say,
)
from fiqa_gui.core.errors import (
    Cancelled,
    Terminated,
    UserInputError,
    database_error_as_user_error,
    os_error_as_user_error,
)

COMMAND_MODULES = (project_commands, score_command, cluster_command, sample_command,
                   export_command, erc_command, learning_commands, relocate_command,
                   window_commands)
"""Each adds its subcommands to the parser (`add_parsers(sub)`); a new command is a new module."""


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="fiqa-gui",
        description="FIQA Curator: review, correct and export face-image quality labels.")
    p.add_argument("--version", action="version", version=f"fiqa-gui {__version__}")
    p.add_argument("--debug", action="store_true", help="print tracebacks of internal errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    for module in COMMAND_MODULES:
        module.add_parsers(sub)
    p.commands = frozenset(sub.choices)  # for main(): `fiqa-gui PROJECT` means `gui PROJECT`
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = parser.commands
    pos = next((k for k, a in enumerate(argv) if not a.startswith("-")), None)
    if pos is None and not any(a in ("-h", "--help", "--version") for a in argv):
        argv = [*argv, "gui"]                      # `fiqa-gui` opens the window
    elif pos is not None and argv[pos] not in commands:
        argv = [*argv[:pos], "gui", *argv[pos:]]   # `fiqa-gui PROJECT` opens that project
    args = parser.parse_args(argv)
    previous = _terminate_cleanly() if args.command != "gui" else None
    try:
        return args.func(args)
    except UserInputError as err:
        say(f"fiqa-gui: error: {err}")
        return EXIT_BAD_INPUT
    except (Cancelled, KeyboardInterrupt):
        say("fiqa-gui: cancelled")
        return EXIT_CANCELLED
    except Terminated:
        say("fiqa-gui: terminated (SIGTERM); nothing half-written was left")
        return EXIT_TERMINATED
    except BrokenPipeError:
        _silence_stdout()
        say("fiqa-gui: error: the output pipe was closed before everything was written "
            "(e.g. '| head'); the command stopped there")
        return EXIT_BAD_INPUT
    except (OSError, sqlite3.DatabaseError) as err:
        mapped = _as_user_error(err)
        if mapped is None:
            return _internal_error(args)
        say(f"fiqa-gui: error: {mapped}")
        return EXIT_BAD_INPUT
    except Exception:
        return _internal_error(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _terminate_cleanly():
    """SIGTERM raises `Terminated` in the main thread: the clean-up path of Ctrl+C."""
    def on_term(signum, frame):
        raise Terminated()

    try:
        return signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        return None


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at devnull so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _as_user_error(err: Exception) -> UserInputError | None:
    if isinstance(err, OSError):
        return os_error_as_user_error(err)
    from fiqa_gui.core.store.project import last_opened_database

    return database_error_as_user_error(err, last_opened_database())


def _internal_error(args) -> int:
    if getattr(args, "debug", False):
        traceback.print_exc()
    else:
        with tempfile.NamedTemporaryFile("w", prefix="fiqa-gui-crash-", suffix=".log",
                                         delete=False) as log:
            traceback.print_exc(file=log)
        say(f"fiqa-gui: internal error ({sys.exc_info()[1]!r}); details in {log.name}. "
            "Please report it with that file.")
    return EXIT_INTERNAL
