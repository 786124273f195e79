"""What every subcommand shares: exit codes, messages on stderr, the progress bar, number
lists."""

from __future__ import annotations

import argparse
import sys

from fiqa_gui.core.errors import UserInputError, one_line

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_TERMINATED = 0, 1, 2, 130, 143
SEED_MAX = 2**63 - 1


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (what is wrong, where to read more), exit 2."""

    def error(self, message: str):
        root = self.prog.split()[0]
        self.exit(2, f"{root}: error: {one_line(message)} (see '{self.prog} --help')\n")


def seed_arg(text: str) -> int:
    """An argparse type for --seed: an integer 0 ≤ seed < 2**63, checked before any work."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed expects a whole number (got {text!r})") \
            from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(
            f"--seed must be between 0 and 2**63-1 (got {text}); e.g. --seed 0")
    return value


def positive_int(option: str):
    """An argparse type for counts such as --workers and --k: an integer ≥ 1."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option} expects a whole number (got {text!r})") \
                from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{option} must be at least 1 (got {value})")
        return value

    return parse


def say(msg: str) -> None:
    try:
        print(msg, file=sys.stderr)
    except (BrokenPipeError, ValueError):  # stderr closed too: nothing left to tell
        pass


def progress_of(args):
    from fiqa_gui.core.progress import StderrProgressBar, no_progress

    return no_progress if getattr(args, "quiet", False) else StderrProgressBar()


def floats(text: str, option: str) -> tuple[float, ...]:
    try:
        return tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise UserInputError(f"{option} expects comma-separated numbers (got {text!r})",
                             fix=f"e.g. {option} 0.7,0.6,0.5") from None


def add_ray_arguments(parser, what: str) -> None:
    """--ray, --ray-workers, --ray-gpus-per-worker (the extra 'ray')."""
    parser.add_argument("--ray", metavar="local|ADDRESS",
                        help=f"shard {what} over Ray tasks: 'local' starts a cluster on this "
                        "machine, HOST:PORT joins one (extra 'ray'); same results as one "
                        "process")
    parser.add_argument("--ray-workers", type=positive_int("--ray-workers"), default=None,
                        metavar="N", help="CPU slots of a local cluster / parallel tasks "
                        "(default 2)")
    parser.add_argument("--ray-gpus-per-worker", type=float, default=None, metavar="G",
                        help="GPUs each task asks for (default 0)")
    parser.add_argument("--ray-retries", type=int, default=None, metavar="N",
                        help="times a task whose worker died is retried (default 2)")


def with_ray_backend(args, command):
    """`command(args, backend)` with the Ray backend --ray asks for (None without it), checked
    before any work and shut down after."""
    backend = None
    if not args.ray:
        for name in ("ray_workers", "ray_gpus_per_worker", "ray_retries"):
            if getattr(args, name) is not None:
                raise UserInputError(f"--{name.replace('_', '-')} needs --ray local|ADDRESS")
    else:
        from fiqa_gui.core.scoring.distributed import RayBackend, RayOptions

        backend = RayBackend(RayOptions(
            address=args.ray, workers=args.ray_workers or 2,
            gpus_per_worker=args.ray_gpus_per_worker or 0.0,
            retries=2 if args.ray_retries is None else args.ray_retries))
    try:
        return command(args, backend)
    finally:
        if backend is not None:
            backend.shutdown()

