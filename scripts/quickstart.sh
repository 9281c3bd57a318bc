#!/usr/bin/env bash
# Set up (idempotent) and run the main job on the bundled data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
STORE=${1:-quickstart-store}
.venv/bin/prefsmith ingest hh-rlhf data/hh-rlhf/harmless-base-test.first600.jsonl --store "$STORE"
.venv/bin/prefsmith ingest prompts data/prompts/mt_bench_questions.jsonl --format mt-bench \
  --references data/prompts/mt_bench_reference_answers.jsonl --store "$STORE"
.venv/bin/prefsmith status --store "$STORE"
