"""Running `prefsmith` commands in-process through typer's runner, as the tests do."""

import json

from typer.testing import CliRunner

from prefsmith.cli.app import app

runner = CliRunner()


def run_json(*args: str) -> dict:
    """Run a command with --json; assert it succeeded; return its one-line summary."""
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])
