# Two entry points on a fresh machine: `make demo` (install + open the demo), `make test`.
# torch is pinned to the CPU build first (a plain `torch` pulls a multi-GB CUDA build); the
# package itself only asks for a range, so GPU users bring their own torch.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_PIN ?= torch==2.13.0

.PHONY: setup demo test test-all lint lint-imports bench dist clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_PIN)
	$(PY) -m pip install --quiet -e '.[dev,dlib,onnx,ray]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/fiqa-gui demo

test: setup
	$(VENV)/bin/lint-imports
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

test-all: setup
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -m ''

lint: setup
	$(VENV)/bin/ruff check fiqa_gui tests benchmarks
	$(VENV)/bin/lint-imports

lint-imports: setup
	$(VENV)/bin/lint-imports

bench: setup
	$(PY) benchmarks/bench_scoring.py

# The PyInstaller one-folder bundle: dist/fiqa-curator/fiqa-curator (see packaging/fiqa-curator.spec;
# FIQA_DIST_EXTRAS=dlib,onnx adds the optional face-detection and ONNX extras).
dist: setup
	$(PY) -m pip install --quiet 'pyinstaller>=6'
	$(VENV)/bin/pyinstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller \
		packaging/fiqa-curator.spec

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
