"""No import circle among the bench modules: every benchmark imports the shared harness and
no other benchmark; bench.run alone imports them all, and nothing in bench/ imports it.

Every import counts, at the top of a module or inside a function or a ``__main__`` block.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BENCH = ROOT / "bench"


def _bench_imports(path: Path, modules: set[str]) -> set[str]:
    """The bench modules ``path`` imports (``bench.x``, ``from bench import x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(
                a.name.split(".")[1]
                for a in node.names
                if a.name.startswith("bench.") and len(a.name.split(".")) > 1
            )
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "bench":
                continue
            if len(parts) > 1:
                found.add(parts[1])
            else:
                found.update(a.name for a in node.names if a.name in modules)
    return found & modules


def import_graph(directory: Path) -> dict[str, set[str]]:
    modules = {p.stem for p in directory.glob("*.py") if p.stem != "__init__"}
    return {name: _bench_imports(directory / f"{name}.py", modules) for name in sorted(modules)}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import circle found by a depth-first walk, as the path that closes it."""
    found: list[list[str]] = []
    done: set[str] = set()

    def walk(name: str, path: list[str]) -> None:
        if name in path:
            found.append([*path[path.index(name) :], name])
            return
        if name in done:
            return
        for imported in sorted(graph.get(name, ())):
            walk(imported, [*path, name])
        done.add(name)

    for name in graph:
        walk(name, [])
    return found


def test_no_import_circle_exists_among_the_bench_modules() -> None:
    assert circles(import_graph(BENCH)) == []


def test_a_benchmark_imports_the_harness_and_no_other_bench_module() -> None:
    graph = import_graph(BENCH)
    benchmarks = {name for name in graph if name.endswith("_bench")}
    assert len(benchmarks) >= 9
    assert {name: graph[name] - {"harness"} for name in benchmarks} == {
        name: set() for name in benchmarks
    }
    assert graph["run"] == benchmarks | {"harness"}
    assert graph["harness"] == set()


def test_the_walk_sees_a_circle_through_a_main_block(tmp_path: Path) -> None:
    (tmp_path / "a_bench.py").write_text("from bench.harness import Row\n", encoding="utf-8")
    (tmp_path / "harness.py").write_text("", encoding="utf-8")
    (tmp_path / "b_bench.py").write_text(
        "if __name__ == '__main__':\n    from bench.run import main\n", encoding="utf-8"
    )
    (tmp_path / "run.py").write_text("from bench import a_bench, b_bench\n", encoding="utf-8")
    assert circles(import_graph(tmp_path)) == [["b_bench", "run", "b_bench"]]
