"""rlkit's layers hold: every import goes down the stack below, and no modules import each other
in a cycle (ARCHITECTURE.md draws the stack).

Every ``import`` and ``from ... import`` in a module counts, wherever it stands: at the top,
inside a function (a lazy import for start-up time is fine, but it must still go down) or under
``TYPE_CHECKING``. Imports between modules of one layer are allowed as long as they form no
cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # (name, module prefixes), from the top down
    ("entry points", ("rlkit", "rlkit.__main__", "rlkit.cli")),
    ("experiments", ("rlkit.experiments",)),
    ("agents", ("rlkit.agents",)),
    ("training", ("rlkit.training",)),
    ("approximators", ("rlkit.approximators",)),
    ("core", ("rlkit.core",)),
    ("foundation", ("rlkit.fast", "rlkit.config", "rlkit.errors", "rlkit.envs")),
]

SOURCES = {"rlkit": ROOT / "rlkit", "rlkit.agents": ROOT / "agents", "rlkit.envs": ROOT / "envs"}


def modules(sources: dict[str, Path]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under each source folder."""
    found = {}
    for package, folder in sources.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The rlkit modules that module ``name`` imports (a name imported from a package counts as
    the submodule when there is one, else as the package)."""
    is_package = path.name == "__init__.py"
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, one level up per extra dot
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[:len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            candidates = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                          for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in known:  # `import rlkit.core.buffers as b` etc.
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
    return targets


def layer_of(module: str) -> int:
    best, best_length = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            exact_only = prefix == "rlkit"
            matches = module == prefix or (not exact_only and module.startswith(prefix + "."))
            if matches and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    if best is None:
        raise AssertionError(f"module {module} is in no layer: add it to LAYERS")
    return best


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return [f"{source} ({LAYERS[layer_of(source)][0]}) imports {target} "
            f"({LAYERS[layer_of(target)][0]})"
            for source, targets in sorted(graph.items()) for target in sorted(targets)
            if layer_of(target) < layer_of(source)]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def import_graph(sources: dict[str, Path]) -> dict[str, set[str]]:
    files = modules(sources)
    return {name: imported(name, path, set(files)) for name, path in files.items()}


def test_every_import_goes_down_the_layers():
    assert upward_imports(import_graph(SOURCES)) == []


def test_no_modules_import_each_other_in_a_cycle():
    assert cycles(import_graph(SOURCES)) == []


def test_every_subpackage_says_what_lives_there_and_what_it_may_import():
    for package in ("core", "approximators", "training", "experiments", "fast"):
        doc = ast.get_docstring(ast.parse((ROOT / "rlkit" / package / "__init__.py").read_text()))
        assert doc and "import" in doc, f"rlkit/{package}/__init__.py: no docstring on imports"


def _tree(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return {"rlkit": tmp_path / "rlkit", "rlkit.agents": tmp_path / "agents"}


@pytest.mark.parametrize("planted", [
    "from rlkit.training.loop import train\n",  # core reaching up into training
    "def f():\n    from rlkit.experiments import compare\n",  # hidden in a function
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from rlkit.agents.ppo import PPO\n",
    "import rlkit.cli\n",
])
def test_a_planted_upward_import_is_caught(tmp_path, planted):
    sources = _tree(tmp_path, {
        "rlkit/__init__.py": "", "rlkit/cli.py": "", "rlkit/core/__init__.py": "",
        "rlkit/core/buffers.py": planted, "rlkit/training/__init__.py": "",
        "rlkit/training/loop.py": "from rlkit.core.buffers import x\n",
        "rlkit/experiments/__init__.py": "", "rlkit/experiments/compare.py": "",
        "agents/__init__.py": "", "agents/ppo.py": "",
    })
    found = upward_imports(import_graph(sources))
    assert len(found) == 1 and found[0].startswith("rlkit.core.buffers (core) imports")


def test_a_planted_cycle_within_a_layer_is_caught(tmp_path):
    sources = _tree(tmp_path, {
        "rlkit/__init__.py": "", "rlkit/training/__init__.py": "", "agents/__init__.py": "",
        "rlkit/training/loop.py": "from rlkit.training import evaluation\n",
        "rlkit/training/evaluation.py": "from rlkit.training.agent import Agent\n",
        "rlkit/training/agent.py": "def learn():\n    from rlkit.training.loop import train\n",
    })
    assert upward_imports(import_graph(sources)) == []
    assert cycles(import_graph(sources)) == [
        ["rlkit.training.agent", "rlkit.training.evaluation", "rlkit.training.loop"]]
