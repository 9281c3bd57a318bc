"""A run before and around its flows: pre-flight checks, dry-run plans, the run-wide budget
and the markers that say what a stage already finished. Plain Python: the CLI plans a
run with no Prefect imported."""
