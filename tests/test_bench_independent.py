"""bench/ stands on its own: no bench script imports a module of tests/ or puts tests/ on its import path (a bench
builds its inputs itself, from the standard library and real data, so the tests can change freely)."""

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent
TEST_MODULES = {path.stem for path in (ROOT / "tests").glob("*.py")} | {"tests"}


def dependencies(source: str, own: set[str]) -> list[str]:
    """What in *source* (a bench script; *own*: bench/'s module names) imports from tests/ or puts it on sys.path."""
    found = []
    tests = TEST_MODULES - own
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [f"line {node.lineno}: imports {name}" for name in names if name.split(".")[0] in tests]
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.Expr)) and "sys.path" in ast.unparse(node):
            strings = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
            if any("tests" in Path(text).parts for text in strings):
                found.append(f"line {node.lineno}: puts tests/ on sys.path")
    return found


def test_no_bench_script_depends_on_tests():
    scripts = sorted((ROOT / "bench").glob("*.py"))
    own = {path.stem for path in scripts}
    assert len(scripts) > 5
    found = [f"{path.name} {what}" for path in scripts for what in dependencies(path.read_text(), own)]
    assert found == []


def test_the_check_sees_both_ways_in():
    source = (
        "import os, sys\n"
        "sys.path[:0] = [ROOT, os.path.join(ROOT, 'tests')]\n"
        "sys.path.insert(0, 'tests/helpers')\n"
        "from btfbuild import kernel_btf\n"
        "import tests.hostile\n"
        "from kernel_inputs import compress\n"
    )
    assert dependencies(source, {"kernel_inputs"}) == [
        "line 2: puts tests/ on sys.path", "line 3: puts tests/ on sys.path",
        "line 4: imports btfbuild", "line 5: imports tests.hostile",
    ]
