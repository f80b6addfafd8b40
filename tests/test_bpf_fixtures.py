"""The checked-in objects are what `make -C tests/bpf` builds from the sources beside them."""

import shutil
import subprocess
from pathlib import Path

import pytest

from collectors.bpf.elfobject import read_object

BPF = Path(__file__).parent / "bpf"


def summary(path):
    obj = read_object(str(path))
    return (obj.programs, [(c.kind, c.target, c.section, c.program, c.index) for c in obj.calls],
            [(m.name, m.map_type, m.section) for m in obj.maps])


@pytest.mark.skipif(not shutil.which("clang") or not Path("/usr/include/bpf/bpf_helpers.h").exists(),
                    reason="needs clang and libbpf-dev (.ci/run installs them)")
def test_rebuilt_objects_read_the_same(tmp_path):
    for source in BPF.glob("*.bpf.c"):
        shutil.copy(source, tmp_path)
    shutil.copy(BPF / "Makefile", tmp_path)
    subprocess.run(["make", "-s", "-C", str(tmp_path)], check=True)
    for built in sorted(tmp_path.glob("*.bpf.o")):
        assert summary(built) == summary(BPF / built.name), built.name
