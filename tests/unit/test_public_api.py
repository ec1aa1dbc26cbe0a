"""compress/, sweeps/ and hydra_plugins/ use train_large only through its public API (the list
in train_large/__init__.py), and never its entry modules."""
from __future__ import annotations

import ast
from pathlib import Path

import train_large

REPO = Path(__file__).resolve().parents[2]
PUBLIC = ("core", "config", "run_names", "runtime", "rundir", "sinks", "checkpoint", "outputs", "clock", "loop",
          "schedule", "evaluate", "engine", "data", "wandb_sink", "console")


def train_large_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of each train_large module that `path` imports, with `from train_large import x`
    counted as train_large.x."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.startswith("train_large")]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("train_large"):
            if node.module == "train_large":
                found += [(node.lineno, f"train_large.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def test_the_public_modules_are_the_ones_the_package_docstring_lists():
    for name in PUBLIC:
        assert f"`{name}`" in train_large.__doc__, name


def test_compress_sweeps_and_plugins_import_only_public_train_large_modules():
    offending = []
    for folder in ("compress", "sweeps", "hydra_plugins"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for line, module in train_large_imports(path):
                top = module.split(".")[1] if "." in module else ""
                if top not in PUBLIC:
                    offending.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    assert offending == []


def test_the_checker_sees_a_private_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from train_large.run import main\nfrom train_large import cli\nimport train_large.jobs\n")
    assert [module for _, module in train_large_imports(sample)] == [
        "train_large.run", "train_large.cli", "train_large.jobs"]
