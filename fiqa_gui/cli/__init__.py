"""`fiqa-gui` command line: the GUI by default, and headless subcommands over the same core.

Exit codes: 0 success, 2 bad input (one line naming the file, the row and the fix), 1 internal
error (the traceback goes to a log file, named in the message), 130 cancelled (Ctrl+C).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import traceback

from fiqa_gui import __version__
from fiqa_gui.cli import (
    cluster_command,
    erc_command,
    export_command,
    project_commands,
    sample_command,
    score_command,
    window_commands,
)
from fiqa_gui.cli.common import EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_INTERNAL, say
from fiqa_gui.core.errors import Cancelled, UserInputError

COMMAND_MODULES = (project_commands, score_command, cluster_command, sample_command,
                   export_command, erc_command, window_commands)
"""Each adds its subcommands to the parser (`add_parsers(sub)`); a new command is a new module."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
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
    try:
        return args.func(args)
    except UserInputError as err:
        say(f"fiqa-gui: error: {err}")
        return EXIT_BAD_INPUT
    except (Cancelled, KeyboardInterrupt):
        say("fiqa-gui: cancelled")
        return EXIT_CANCELLED
    except Exception:
        if args.debug:
            traceback.print_exc()
        else:
            with tempfile.NamedTemporaryFile("w", prefix="fiqa-gui-crash-", suffix=".log",
                                             delete=False) as log:
                traceback.print_exc(file=log)
            say(f"fiqa-gui: internal error ({sys.exc_info()[1]!r}); details in {log.name}. "
                 "Please report it with that file.")
        return EXIT_INTERNAL
