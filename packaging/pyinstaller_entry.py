"""The frozen bundle's entry point: the `fiqa-gui` command line (the window when no
subcommand is given), run from PyInstaller's one-folder bundle as `fiqa-curator`.

Two things a plain interpreter does that the frozen launcher must do itself:

- `multiprocessing.freeze_support()`: the demo renders its images in a spawn-context process
  pool, whose workers are this same executable started with multiprocessing's arguments.
- `fiqa-curator -c CODE`: the GUI probes whether Qt's platform plugin starts by running
  `sys.executable -c CODE` in a throwaway process (`fiqa_gui.gui.app.platform_starts`); frozen,
  `sys.executable` is this launcher, so `-c` runs CODE as the interpreter would.
"""

from __future__ import annotations

import multiprocessing
import sys


def _run_code(code: str, argv: list[str]) -> int:
    sys.argv = ["-c", *argv]
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(code, "<string>", "exec"), namespace)  # noqa: S102 - python -c semantics
    except SystemExit as stop:
        code = stop.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    return 0


def main() -> int:
    multiprocessing.freeze_support()
    if len(sys.argv) >= 3 and sys.argv[1] == "-c":
        return _run_code(sys.argv[2], sys.argv[3:])
    from fiqa_gui.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
