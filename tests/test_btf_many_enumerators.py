"""The largest enum BTF allows (65,535 enumerators, names repeated, values shared) probed exactly, in one pass.

Issue 20 item 3: grouping the names of each value scanned every enumerator for every value (quadratic: over a
minute).  What is asserted here is the result; the time is bench/bench_probe_speed.py's.
"""

from btfbuild import BTFBuilder

from collectors.build import BuildBTFCollector
from kb.vocab.kinds import PROG_TYPE

COUNT = 0xFFFF  # vlen is 16 bits


def test_65535_enumerators_with_duplicate_names(tmp_path):
    # Every value has two names; names repeat after 50,000, so a name also stands for a second value.
    enumerators = [(f"BPF_PROG_TYPE_T{i % 50_000}", i // 2) for i in range(COUNT)]
    b = BTFBuilder()
    b.int("int", 4, 1)
    b.enum("bpf_prog_type", enumerators)
    path = tmp_path / "many.btf"
    path.write_bytes(b.build())

    collector = BuildBTFCollector(str(path), release="6.1.0-1-amd64")
    facts = collector.collect()
    assert len(collector.found.prog_types.enumerators) == COUNT and len(collector.found.prog_types) == 32_768
    expected: dict[int, list[str]] = {}
    for name, value in enumerators:
        expected.setdefault(value, []).append(name)
    got = {item.value: [n.name for n in item.names] for item in facts.items if item.kind == PROG_TYPE}
    assert got == expected
    both = next(item for item in facts.items if item.kind == PROG_TYPE and item.value == 25_000)
    assert both.name == "BPF_PROG_TYPE_T0"
    assert [(n.name, n.is_alias) for n in both.names] == [("BPF_PROG_TYPE_T0", False), ("BPF_PROG_TYPE_T1", True)]
    assert collector.found.prog_types.aliases["BPF_PROG_TYPE_T1"] == "BPF_PROG_TYPE_T0"
