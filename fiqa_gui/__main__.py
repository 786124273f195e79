"""`python -m fiqa_gui` runs the same entry point as the `fiqa-gui` command."""

import sys

from fiqa_gui.cli import main

sys.exit(main())
