#!/usr/bin/env bash
# Label Studio in its own venv (.ls-venv): it pins Django and friends that must not meet
# the project's dependencies. The tests start it from there. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.ls-venv
VERSION=1.23.2
STAMP="$VENV/.prefsmith-label-studio-$VERSION"

if [ -f "$STAMP" ]; then
  echo "setup: $VENV (label-studio $VERSION) is up to date"
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "label-studio==$VERSION"
touch "$STAMP"
echo "setup: done ($VENV, label-studio $VERSION)"
