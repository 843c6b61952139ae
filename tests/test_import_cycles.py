"""No import circles among the project's packages; the engine (the StackStorm stand-in) imports
none of the harness, the twin or the benchmarks. An ast walk over every import statement, lazy
ones included, so an import inside a function cannot hide a circle."""
import ast
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("engine", "harness", "twin", "bench", "scenarios", "tools")


def modules(root, packages=PACKAGES):
    found = {}
    for pkg in packages:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, pkg)):
            dirnames[:] = [d for d in dirnames if d not in ("st2_standin", "__pycache__")]
            for f in filenames:
                if f.endswith(".py"):
                    rel = os.path.relpath(os.path.join(dirpath, f), root)[:-3].split(os.sep)
                    if rel[-1] == "__init__":
                        rel = rel[:-1]
                    found[".".join(rel)] = os.path.join(dirpath, f)
    return found


def graph(root, packages=PACKAGES):
    mods = modules(root, packages)
    edges = {m: set() for m in mods}
    for mod, path in mods.items():
        is_pkg = path.endswith("__init__.py")
        tree = ast.parse(open(path).read(), path)
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = mod.split(".")
                    parts = parts if is_pkg else parts[:-1]
                    parts = parts[:len(parts) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                targets = [base + "." + a.name if base + "." + a.name in mods else base
                           for a in node.names]
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    edges[mod].add(t)
    return edges


def cycles(edges):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def test_no_import_circles():
    assert cycles(graph(REPO_ROOT)) == []


def test_engine_imports_no_harness_twin_or_bench():
    edges = graph(REPO_ROOT)
    leaks = {(m, t) for m, ts in edges.items() if m.split(".")[0] == "engine"
             for t in ts if t.split(".")[0] in ("harness", "twin", "bench")}
    assert leaks == set()


def test_the_walk_finds_a_lazy_circle(tmp_path):
    pkg = tmp_path / "engine"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from engine import b\n")
    (pkg / "b.py").write_text("def f():\n    from . import a\n")
    assert cycles(graph(str(tmp_path), ("engine",))) == [["engine.a", "engine.b"]]


def test_the_walk_finds_a_type_checking_circle(tmp_path):
    pkg = tmp_path / "twin"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from twin import handler\n")
    (pkg / "handler.py").write_text("from typing import TYPE_CHECKING\n"
                                    "if TYPE_CHECKING:\n    from twin import Server\n")
    assert cycles(graph(str(tmp_path), ("twin",))) == [["twin", "twin.handler"]]
