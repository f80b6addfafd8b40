"""Every per-kind fact lives in one record (kb.vocab.kinds.KINDS); every other table of kinds is derived from it."""

import ast
from pathlib import Path

import pytest

from kb.formats.btf.kernel import BuildItems
from kb.scan import report
from kb.site import pages, publish
from kb.vocab import kinds

ROOT = Path(__file__).parent.parent
SOURCES = sorted(p for folder in ("kb", "collectors") for p in (ROOT / folder).rglob("*.py"))


def kind_keyed_literals(path: Path) -> list[int]:
    """Lines of dict literals keyed by three or more kind names: a per-kind table written by hand."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
            names = {k.id for k in node.keys if isinstance(k, ast.Name)}
            constants = {name for name in names if name.lower() in kinds.KINDS}
            if len(keys & set(kinds.KINDS)) + len(constants) >= 3:
                found.append(node.lineno)
    return found


@pytest.mark.parametrize("path", [p for p in SOURCES if p.name != "kinds.py" or p.parent.name != "vocab"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_spells_a_table_of_kinds(path):
    assert kind_keyed_literals(path) == [], f"{path}: a table of kinds not derived from kb.vocab.kinds.KINDS"


def test_the_check_sees_a_hand_written_table(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('WORDS = {"helper": "helper", "prog_type": "program type", "map_type": "map type"}\n')
    assert kind_keyed_literals(sample) == [1]


def test_derived_tables_agree_with_the_record():
    assert kinds.ITEM_KINDS == tuple(kinds.KINDS)
    assert set(kinds.ENUM_KINDS) == {k for k in kinds.NUMBERED_KINDS if k != kinds.HELPER}
    assert kinds.HELPER_ENUM == "bpf_func_id" and kinds.HELPER_PREFIX == "BPF_FUNC_"
    assert kinds.KIND_OF_TABLE["commands"] == kinds.CMD and kinds.TABLE_OF_KIND[kinds.PROG_TYPE] == "prog_types"
    fields = set(BuildItems.__dataclass_fields__)
    assert {k.build_field for k in kinds.KINDS.values() if k.numbered} <= fields
    assert pages.word_of(kinds.CMD) == "bpf() command"
    rules = {code for code, *_rest in report.RULES}
    assert {k.too_new_rule for k in kinds.KINDS.values()} | {k.unknown_rule for k in kinds.KINDS.values()} <= rules
    assert "helpers" in {k.table for k in kinds.KINDS.values()} and not hasattr(publish, "KIND_TABLES")
