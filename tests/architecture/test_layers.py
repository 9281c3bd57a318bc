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

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("annotation", "builders", "cli", "finetune", "flows", "ingest", "labelers",
            "report", "runtime", "schemas", "store")  # fmt: skip


def _installed_layout(tmp_path: Path) -> Path:
    """A copy of the package laid out as it installs (`prefsmith/` holding the repo root's
    modules), so a test can add a wrong-way import without touching the checkout."""
    package = tmp_path / "prefsmith"
    package.mkdir()
    shutil.copy(ROOT / "__init__.py", package / "__init__.py")
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
        if package in ("cli", "flows"):
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


def test_every_flow_module_defines_a_flow_or_a_task():
    import ast

    for path in sorted((ROOT / "flows").glob("*.py")):
        if path.name == "__init__.py":
            continue
        decorators = {
            getattr(d.func if isinstance(d, ast.Call) else d, "id", None)
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef)
            for d in node.decorator_list
        }
        assert decorators & {"flow", "task"}, f"{path.name} defines no Prefect flow or task"


def test_the_readme_layout_names_every_package_folder():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    for name in PACKAGES:
        assert f"\n{name}/" in layout, f"README's layout misses {name}/"
