"""What a program needs of the kernel beyond its program type's release (``data/program_rules.tsv``): the release
of each struct_ops kernel struct, of program sections whose kernel support came after their program type
(sleepable uprobes, uprobes, sleepable iterators), attach types needed to attach or ignored when loading, and the
kfuncs that exist only in kernels built for BPF selftests.  Each row names its source."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from kb.store.shipped import DataError, data_dir

FILE = "program_rules.tsv"
COLUMNS = ("rule", "subject", "release", "source", "note")
KINDS = ("struct_ops", "section", "attach_required", "attach_ignored", "test_only")


@dataclass(frozen=True)
class ProgramRule:
    rule: str
    subject: str
    release: str | None
    source: str
    note: str


@dataclass(frozen=True)
class ProgramRules:
    struct_ops: dict[str, ProgramRule]  # kernel struct -> its first release
    sections: dict[str, ProgramRule]  # newest libbpf section pattern -> the kernel release that loads it
    attach_required: dict[str, ProgramRule]
    attach_ignored: dict[str, ProgramRule]
    test_only: tuple[ProgramRule, ...]  # name prefixes

    def test_only_rule(self, name: str) -> ProgramRule | None:
        return next((r for r in self.test_only if name.startswith(r.subject)), None)


def parse(text: str, where: str = FILE) -> ProgramRules:
    found: dict[str, dict[str, ProgramRule]] = {kind: {} for kind in KINDS}
    header = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        cells = line.split("\t")
        if header is None:
            if tuple(cells) != COLUMNS:
                raise DataError(f"{where}:{number}: columns {cells}, expected {list(COLUMNS)}")
            header = cells
            continue
        if len(cells) != len(COLUMNS):
            raise DataError(f"{where}:{number}: {len(cells)} cells, expected {len(COLUMNS)}")
        rule = ProgramRule(cells[0], cells[1], cells[2] or None, cells[3], cells[4])
        if rule.rule not in found:
            raise DataError(f"{where}:{number}: unknown rule {rule.rule!r}")
        if not rule.source:
            raise DataError(f"{where}:{number}: no source")
        if rule.rule != "test_only" and rule.release is None:
            raise DataError(f"{where}:{number}: no release")
        found[rule.rule][rule.subject] = rule
    return ProgramRules(found["struct_ops"], found["section"], found["attach_required"], found["attach_ignored"],
                        tuple(found["test_only"].values()))


@functools.lru_cache(maxsize=1)
def load() -> ProgramRules:
    path = data_dir() / FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise DataError(f"{path}: {err.strerror}") from None
    return parse(text, str(path))
