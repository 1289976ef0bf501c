"""The shape of the Python package (python/lifthouse): no import cycles, imports inside
functions included; modules of about 400 lines at most; the console entry point's help."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from lifthouse.run.dbt import REPO_ROOT

PACKAGE = REPO_ROOT / "python" / "lifthouse"
MAX_LINES = 420


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the lifthouse modules it imports anywhere in its source (top level or inside a
    function). ``from pkg import name`` imports the module ``pkg.name`` when there is one, else
    ``pkg``; a parent package's implicit initialisation is not counted (as pylint does)."""
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                                    + ([base] if base else []))
                subs = {f"{base}.{a.name}" for a in node.names} & set(modules)
                deps |= subs if len(subs) == len(node.names) else subs | {base}
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state and (c := visit(d)):
                return c
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (c := visit(m)):
            return c
    return None


def test_cycle_finder_sees_imports_inside_functions(tmp_path):
    pkg = tmp_path / "lifthouse"
    (pkg / "research").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "research" / "__init__.py").write_text("")
    (pkg / "research" / "a.py").write_text("from lifthouse.research.b import f\n")
    (pkg / "research" / "b.py").write_text("def f():\n    from lifthouse.research import a\n")
    assert find_cycle(import_graph(pkg)) is not None
    (pkg / "research" / "b.py").write_text("def f():\n    return 1\n")
    assert find_cycle(import_graph(pkg)) is None


def test_no_import_cycle_in_the_package():
    graph = import_graph()
    assert "lifthouse.run.stages" in graph and graph["lifthouse.run.stages"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_no_module_much_over_400_lines():
    big = {module_name(p): n for p in PACKAGE.rglob("*.py")
           if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, big


def test_help_describes_the_command_in_whole_sentences():
    out = subprocess.run([sys.executable, "-m", "lifthouse.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    description = " ".join(out.split("\n\n")[1].split())
    assert description.endswith(".") and "``" not in description, description


def test_every_module_is_tracked_by_git():
    """A module git ignores (a too-broad .gitignore pattern) is missing from every clone."""
    import shutil

    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        import pytest

        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "--others", "--ignored", "--exclude-standard", "--",
                          str(PACKAGE)], cwd=REPO_ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    assert not [p for p in out if p.endswith(".py")], out
