"""The package's layers: arrows only run down (cli -> flows -> runtime -> engines -> store ->
schemas), enforced by import-linter's contracts in pyproject.toml; importing anything below
the flows has no Prefect side effects."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
# The code packages pyproject.toml installs (data folders have no __init__.py).
PACKAGES = tuple(
    name
    for name in (
        package.removeprefix("prefsmith.")
        for package in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
            "packages"
        ]
        if package.count(".") == 1
    )
    if (ROOT / name / "__init__.py").is_file()
)


def _installed_layout(tmp_path: Path) -> Path:
    """A copy of the package laid out as it installs (`prefsmith/` holding the repo root's
    modules), so a test can add a wrong-way import without touching the checkout."""
    package = tmp_path / "prefsmith"
    package.mkdir()
    for module in ROOT.glob("*.py"):  # the package's own modules: __init__, rewards
        shutil.copy(module, package / module.name)
    for name in PACKAGES:
        shutil.copytree(ROOT / name, package / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(where: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(where)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(where / "pyproject.toml"), "--no-cache"],
        cwd=where, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_layers_contract_holds(tmp_path):
    result = _lint(_installed_layout(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "broken"),
    [
        ("store/tables.py", "from prefsmith.flows import label as _", "Arrows run down"),
        ("finetune/datasets.py", "import prefsmith.cli.common as _", "Arrows run down"),
        ("labelers/base.py", "from prefect import flow as _", "no Prefect"),
    ],
)
def test_a_wrong_way_import_breaks_the_contract(tmp_path, module, wrong_import, broken):
    where = _installed_layout(tmp_path)
    path = where / "prefsmith" / module
    path.write_text(path.read_text() + "\n" + wrong_import + "\n")
    result = _lint(where)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and broken in result.stdout


def _modules_below_flows() -> list[str]:
    names = []
    for package in PACKAGES:
        if package in ("bench", "cli", "flows"):
            continue
        for path in sorted((ROOT / package).glob("*.py")):
            stem = "" if path.stem == "__init__" else f".{path.stem}"
            names.append(f"prefsmith.{package}{stem}")
    return names


def test_importing_anything_below_the_flows_sets_no_prefect_home_and_writes_no_file(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    script = textwrap.dedent(
        f"""
        import importlib, os
        for name in {_modules_below_flows()!r}:
            importlib.import_module(name)
        assert "PREFECT_HOME" not in os.environ, os.environ["PREFECT_HOME"]
        assert "PREFECT_API_URL" not in os.environ
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert [p.relative_to(home) for p in home.rglob("*")] == []


def test_flows_hold_flows_and_tasks_only():
    """A public function of flows/ is a Prefect flow or task, and there are no classes:
    planning, checks, budgets and markers live in the engines (runs/ and below)."""
    import ast

    for path in sorted((ROOT / "flows").glob("*.py")):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        classes = [node.name for node in tree.body if isinstance(node, ast.ClassDef)]
        assert not classes, f"{path.name} defines classes {classes}: move them to an engine"
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            decorators = {
                getattr(d.func if isinstance(d, ast.Call) else d, "id", None)
                for d in node.decorator_list
            }
            assert decorators & {"flow", "task"}, (
                f"{path.name}: {node.name} is neither a flow nor a task: move it to an engine"
            )


def test_planning_a_run_imports_no_prefect(tmp_path):
    """`prefsmith run CONFIG --dry-run` checks and plans the run with Prefect not imported."""
    script = textwrap.dedent(
        f"""
        import json, sys
        from typer.testing import CliRunner
        from prefsmith.cli.app import app

        result = CliRunner().invoke(
            app, ["run", {str(ROOT / "configs" / "quickstart.yaml")!r},
                  "--store", {str(tmp_path / "store")!r}, "--dry-run", "--json"]
        )
        assert result.exit_code == 0, result.output
        assert json.loads(result.output.strip().splitlines()[-1])["dry_run"] is True
        loaded = sorted(m for m in sys.modules if m == "prefect" or m.startswith("prefect."))
        assert not loaded, loaded[:5]
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_readme_layout_names_every_package_folder():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    for name in PACKAGES:
        assert f"\n{name}/" in layout, f"README's layout misses {name}/"
