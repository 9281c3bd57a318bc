"""The `prefsmith` console script: the command runs in the warm process when one serves this
environment (`cli/warm_runner.py`: no Python start-up, no Prefect import), else here."""

from __future__ import annotations

import sys


def main() -> None:
    """Run `prefsmith` with this process's arguments."""
    from prefsmith.cli.warm_runner import run_warm

    code = run_warm(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from prefsmith.cli.app import main as run_here

    run_here()


if __name__ == "__main__":
    main()
