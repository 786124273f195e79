"""`python -m fiqa_gui` runs the same entry point as the `fiqa-gui` command."""

import sys

if __name__ == "__main__":
    from fiqa_gui.cli import main

    sys.exit(main())
