"""The import structure of src/radnec, read from the modules' own import statements.

Layers, top to bottom: the CLI, then commands and services (commands, net, summary), then the
pipeline, then the science packages, then ingest/geometry and the contract, then errors. A module
may import from its own layer or below, never above; and no two modules may import each other,
directly or through others (every import counts, also those inside functions).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "radnec"

#: Layer of each top-level module or package of radnec (higher may import lower).
LAYERS: dict[str, int] = {
    "cli": 6,
    "commands": 5,
    "summary": 5,
    "net": 5,
    "web": 5,
    "store": 5,
    "cohort": 5,
    "pipeline": 4,
    "progress": 3,
    "export": 3,
    "fuse": 3,
    "dose": 3,
    "lesion": 3,
    "imaging": 3,
    "evidence": 3,
    "report": 3,
    "phantom": 3,
    "discover": 2,
    "ingest": 2,
    "geometry": 2,
    "contours": 2,
    "case": 1,
    "jsonio": 1,
    "datafiles": 1,
    "threads": 0,
    "errors": 0,
    "__init__": 0,
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in SRC.rglob("*.py")}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The radnec module ``name`` refers to (a package's __init__ or a module), or None."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names = [f"{prefix}.{a.name}" for a in node.names] + [prefix]
        for n in names:
            if n.startswith("radnec"):
                target = _resolve(n, modules)
                if target and target != module:
                    out.add(target)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}
    # "from radnec.x import y" names the package radnec.x as well; a package's __init__ re-exporting its
    # own submodules is not an arrow from the submodule back to the package.
    for m, targets in graph.items():
        graph[m] = {t for t in targets if not (m.startswith(t + ".") and t != "radnec")}
    return graph


def _layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if top not in LAYERS:
        pytest.fail(f"{module}: top-level module or package {top!r} has no layer in this test; add it to LAYERS")
    return LAYERS[top]


def test_no_upward_imports():
    upward = []
    for module, targets in _graph().items():
        for t in targets:
            if _layer(t) > _layer(module):
                upward.append(f"{module} → {t}")
    assert not upward, "imports that run upward:\n" + "\n".join(sorted(upward))


def test_no_import_circles():
    graph = _graph()
    # Tarjan's strongly connected components, iteratively
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    circles: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    circles.append(sorted(comp))
    assert not circles, "import circles:\n" + "\n".join(" ↔ ".join(c) for c in circles)


def test_the_checker_sees_a_circle_and_an_upward_arrow(tmp_path):
    """The two checks above can fail: a planted circle and a planted upward import are found."""
    pkg = tmp_path / "radnec"
    (pkg / "ingest").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "ingest" / "__init__.py").write_text("")
    (pkg / "ingest" / "a.py").write_text("from radnec.ingest import b\n")
    (pkg / "ingest" / "b.py").write_text("def f():\n    from radnec.ingest.a import x\n    from radnec.pipeline import run\n")
    (pkg / "pipeline.py").write_text("")
    global SRC
    old = SRC
    SRC = pkg
    try:
        with pytest.raises(AssertionError, match="radnec.ingest.a ↔ radnec.ingest.b"):
            test_no_import_circles()
        with pytest.raises(AssertionError, match="radnec.ingest.b → radnec.pipeline"):
            test_no_upward_imports()
    finally:
        SRC = old


def test_no_module_over_600_lines():
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600}
    assert not long, f"modules over 600 lines: {long}"
