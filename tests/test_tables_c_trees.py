"""The C header of trees other than mainline: a distribution tree's header judges by its own release table (as
the Python module does), and a build's header, with its own --prefix, is included beside mainline's."""

import shutil
import subprocess

import pytest
from tablecompare import UBUNTU_KERNELS, generate, ubuntu_tables
from test_distribution_trees import run
from test_probe import BACKPORT, build_btf

pytestmark = pytest.mark.skipif(not shutil.which("gcc"), reason="gcc not installed (.ci/run installs it)")

STATUS = ("available", "not_yet", "removed", "unknown")
JUDGE = r"""
#include "bpf_features.h"
#include <stdio.h>

static const char *kernels[] = {%s};

int main(void)
{
    static const char *status[] = {"available", "not_yet", "removed", "unknown"};
    unsigned int k = 0;
    int i = 0;
    for (k = 0; k < sizeof(kernels) / sizeof(kernels[0]); k++) {
        int release = bpf_kb_release_index(kernels[k]);
        for (i = 0; i < BPF_KB_ITEM_COUNT; i++)
            if (bpf_kb_items[i].kind == BPF_KIND_HELPER)
                printf("%%u\t%%u\t%%d\t%%s\t%%s\n", k, bpf_kb_items[i].value, release,
                       release >= 0 ? bpf_kb_releases[release].name : "", status[bpf_kb_status(i, release)]);
    }
    return 0;
}
"""


def test_a_distribution_header_judges_as_the_python_module(tmp_path):
    module, _header = ubuntu_tables(tmp_path, "c", tmp_path / "bpf_features.h")
    (tmp_path / "judge.c").write_text(JUDGE % ", ".join(f'"{k}"' for k in UBUNTU_KERNELS))
    subprocess.run(["gcc", "-std=c99", "-pedantic", "-Wall", "-Wextra", "-Werror", "-I", str(tmp_path),
                    str(tmp_path / "judge.c"), "-o", str(tmp_path / "judge")], check=True)
    lines = subprocess.run([str(tmp_path / "judge")], capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(lines) == len(UBUNTU_KERNELS) * len(module.HELPERS)
    compared = 0
    for line in lines:
        number, helper, index, release, status = line.split("\t")
        kernel = UBUNTU_KERNELS[int(number)]
        try:
            why = module.why(int(helper), kernel, "helper")
        except ValueError:  # older than every release: the header says so with BPF_KB_BEFORE, nothing available
            assert (index, status) == ("-1", "not_yet")
            continue
        compared += 1
        assert (status, release or why.release) == (why.status, why.release), (kernel, helper)
    assert compared == (len(UBUNTU_KERNELS) - 1) * len(module.HELPERS)


def test_a_build_header_beside_mainline(tmp_path, user_db):
    btf = tmp_path / "vmlinux.btf"
    btf.write_bytes(build_btf(BACKPORT))
    assert run("probe", str(btf), "--release", "5.15.0-91-generic", "--tree", "jammy-91").exit_code == 0
    generate("c", tmp_path / "mainline.h")
    generate("c", tmp_path / "build.h", "--tree", "jammy-91", "--prefix", "jammy")
    refused = run("tables", "--lang", "c", "--prefix", "__x", "-o", str(tmp_path / "x.h"))
    assert refused.exit_code == 2 and "--prefix '__x'" in refused.stderr
    (tmp_path / "both.c").write_text(
        '#include "mainline.h"\n#include "build.h"\n#include "mainline.h"\n'
        "#if !JAMMY_HELPER_KNOWN_map_lookup_percpu_elem || JAMMY_HELPER_KNOWN_map_lookup_percpu_elem_v2\n"
        "#error known\n#endif\n"
        "int main(void)\n{\n"
        '    int mainline = bpf_kb_helper_available(195, "5.15.0-91-generic");\n'
        "    int build = jammy_kb_helper_available(195, 0);\n"
        "    return !(mainline == 0 && build == 1\n"
        "             && JAMMY_HELPER_AVAILABLE_map_lookup_percpu_elem(KERNEL_VERSION(5, 15, 0)));\n}\n")
    for compiler, flags in (("gcc", ["-std=c99", "-pedantic"]), ("g++", ["-std=c++17", "-x", "c++"])):
        subprocess.run([compiler, *flags, "-Wall", "-Wextra", "-Werror", "-I", str(tmp_path), str(tmp_path / "both.c"),
                        "-o", str(tmp_path / "both")], check=True)
        assert subprocess.run([str(tmp_path / "both")], check=False).returncode == 0


