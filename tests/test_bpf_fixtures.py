"""The checked-in objects are what `make -C tests/bpf` builds from the sources beside them."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kb.formats.bpf.elfobject import read_object

BPF = Path(__file__).parent / "bpf"
# Objects that need more than clang and libbpf-dev: a clang that knows -mcpu=v4, bpftool's linker.
NEEDS = {"isa4.bpf.o": "clang-19", "linked.bpf.o": "bpftool"}


def summary(path):
    obj = read_object(str(path))
    return (obj.programs, [(c.kind, c.target, c.section, c.program, c.index) for c in obj.calls],
            [(m.name, m.map_type, m.section, m.origin) for m in obj.maps],
            sorted((h.rule, h.feature, h.section, h.program, h.index, h.count) for h in obj.hits), obj.license)


def targets():
    makefile = (BPF / "Makefile").read_text()
    listed = re.search(r"^OBJECTS := (.*?)(?<!\\)$", makefile, re.MULTILINE | re.DOTALL).group(1)
    return listed.replace("\\", " ").split() + list(NEEDS)


def test_every_source_has_its_object():
    assert sorted(p.name.replace(".bpf.c", ".bpf.o") for p in BPF.glob("*.bpf.c")) == sorted(
        t for t in targets() if t != "linked.bpf.o")
    for target in targets():
        assert (BPF / target).exists(), target


@pytest.mark.skipif(not shutil.which("clang") or not Path("/usr/include/bpf/bpf_helpers.h").exists(),
                    reason="needs clang and libbpf-dev (.ci/run installs them)")
def test_rebuilt_objects_read_the_same(tmp_path):
    for source in BPF.glob("*.bpf.c"):
        shutil.copy(source, tmp_path)
    shutil.copy(BPF / "Makefile", tmp_path)
    built = []
    for target in targets():
        if target in NEEDS and not shutil.which(NEEDS[target]):
            continue
        subprocess.run(["make", "-s", "-C", str(tmp_path), target], check=True)
        built.append(target)
    assert len(built) >= len(targets()) - len(NEEDS)
    for target in built:
        assert summary(tmp_path / target) == summary(BPF / target), target
