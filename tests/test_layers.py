"""One-way layers: every package's docstring says what it may import ("May import: ..."), and no module of it,
lazy imports included, reaches past that."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGES = sorted({p.parent for p in list((ROOT / "kb").rglob("__init__.py")) + list((ROOT / "collectors").rglob("__init__.py"))})


def dotted(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.add("relative import")
    return {name for name in found if name.split(".")[0] in ("kb", "collectors", "relative import")}


def rule_of(package: Path) -> tuple[str, ...] | None:
    """The packages a package's docstring allows, or None where it states no rule (it inherits its parent's)."""
    init = package / "__init__.py"
    doc = (ast.get_docstring(ast.parse(init.read_text())) or "") if init.exists() else ""
    match = re.search(r"May import: (.*)", doc)
    if not match:
        return None
    sentence = re.split(r"\.(?:\s|$)", match.group(1))[0]
    return tuple(name for name in re.split(r",\s*|\s+and\s+", sentence) if name)


def governing_rule(module: Path) -> tuple[str, tuple[str, ...]]:
    folder = module.parent
    while folder != ROOT:
        rule = rule_of(folder)
        if rule is not None:
            return dotted(folder / "__init__.py"), rule
        folder = folder.parent
    raise AssertionError(f"{module}: no package above it says what it may import")


def allowed(name: str, rule: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in rule)


MODULES = sorted(set((ROOT / "kb").rglob("*.py")) | set((ROOT / "collectors").rglob("*.py")))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_imports_only_what_its_floor_allows(path):
    package, rule = governing_rule(path)
    outside = sorted(m for m in imports(path) if not allowed(m, rule) and m != "kb")
    assert outside == [], f"{dotted(path)} ({package} may import {', '.join(rule)}) reaches {outside}"


def test_every_floor_states_its_rule():
    """The floors of the plan: each says what it may import, and the ground floor reaches nothing above it."""
    rules = {dotted(p / "__init__.py"): rule_of(p) for p in PACKAGES if rule_of(p) is not None}
    assert rules["kb.vocab"] == ("kb.vocab",)
    assert rules["kb.formats"] == ("kb.vocab", "kb.formats")
    assert set(rules["collectors"]) == {"kb.vocab", "kb.formats", "collectors"}
    for upper in ("kb.store", "kb.outputs", "kb.scan", "kb.site"):
        assert "collectors" not in rules[upper], f"{upper} may not read sources"
    assert "kb.site" not in rules["kb.scan"] and "kb.scan" not in rules["kb.site"]


def test_the_layer_check_sees_a_violation(tmp_path, monkeypatch):
    """The check is not vacuous: a store module importing a collector is caught."""
    bad = ROOT / "kb" / "store" / "availability.py"
    assert not allowed("collectors.git", governing_rule(bad)[1])
    assert allowed("kb.formats.atomic", governing_rule(bad)[1])


def test_errors_share_one_base():
    """Every exception class kbgen defines derives from KbgenError, so the CLI needs no list of them."""
    from kb.vocab.errors import KbgenError

    loose = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                module = dotted(path)
                cls = getattr(__import__(module, fromlist=[node.name]), node.name)
                if not issubclass(cls, KbgenError) and node.name not in INTERNAL:
                    loose.append(f"{module}.{node.name}")
    assert loose == []


# Raised and caught inside one module, never seen by a user: each is turned into a KbgenError naming the file.
INTERNAL = {"HeaderParseError", "HelperDocError", "DecodeError", "BTFError", "FormatError"}


FLOORS = ("kb.vocab", "kb.formats", "collectors", "kb.store", "kb.outputs", "kb.scan", "kb.site", "kb")


def layout_table() -> str:
    """The README's table of the parts, from each package's own docstring: what it is and what it may import."""
    rows = ["| part | what it is | may import |", "| --- | --- | --- |"]
    for name in FLOORS:
        init = ROOT / name.replace(".", "/") / "__init__.py"
        summary = (ast.get_docstring(ast.parse(init.read_text())) or "").split("\n\n")[0].replace("\n", " ")
        rule = ", ".join(f"`{part}`" for part in rule_of(init.parent))
        label = "`kb` (the face: `api`, `cli`, `paths`)" if name == "kb" else f"`{name}`"
        rows.append(f"| {label} | {summary.replace('``', '`')} | {rule} |")
    return "\n".join(rows) + "\n"


def test_the_readme_draws_the_parts_as_the_packages_state_them():
    assert layout_table() in (ROOT / "README.md").read_text(), "README's layout table differs from the packages"
