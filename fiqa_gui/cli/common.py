"""What every subcommand shares: exit codes, messages on stderr, the progress bar, number
lists."""

from __future__ import annotations

import sys

from fiqa_gui.core.errors import UserInputError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 130


def say(msg: str) -> None:
    print(msg, file=sys.stderr)


def progress_of(args):
    from fiqa_gui.core.progress import StderrProgressBar, no_progress

    return no_progress if getattr(args, "quiet", False) else StderrProgressBar()


def floats(text: str, option: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise UserInputError(f"{option} expects comma-separated numbers (got {text!r})",
                             fix=f"e.g. {option} 0.7,0.6,0.5") from None
