"""One-way layers: the vocabulary imports nothing above it, collectors only the vocabulary, and the store,
merged view and queries never reach for a collector."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in ("kb", "collectors")}


def modules(folder: str):
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", modules("kb/vocab"), ids=str)
def test_the_vocabulary_imports_only_itself(path):
    assert {m for m in imports(path) if not m.startswith("kb.vocab")} == set()


@pytest.mark.parametrize("path", modules("collectors"), ids=str)
def test_collectors_import_only_collectors_and_the_vocabulary(path):
    outside = {m for m in imports(path) if not m.startswith(("collectors", "kb.vocab"))}
    assert outside == set(), f"{path} reaches above its floor"


@pytest.mark.parametrize("name", ["store", "schema", "merge", "kbase", "queries", "availability", "export",
                                  "render", "generators/model", "generators/c", "generators/python"])
def test_store_views_and_outputs_never_parse_sources(name):
    assert {m for m in imports(ROOT / "kb" / f"{name}.py") if m.startswith("collectors")} == set()


def test_errors_share_one_base():
    """Every exception class kbgen defines derives from KbgenError, so the CLI needs no list of them."""
    from kb.vocab.errors import KbgenError

    loose = []
    for path in modules("kb") + modules("collectors"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
                cls = getattr(__import__(module, fromlist=[node.name]), node.name)
                if not issubclass(cls, KbgenError) and node.name not in INTERNAL:
                    loose.append(f"{module}.{node.name}")
    assert loose == []


# Raised and caught inside one module, never seen by a user: each is turned into a KbgenError naming the file.
INTERNAL = {"HeaderParseError", "HelperDocError", "DecodeError", "BTFError", "FormatError"}
