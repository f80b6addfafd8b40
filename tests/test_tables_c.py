"""The generated C header compiles cleanly as C99, C++ and BPF C, and holds the real values."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.cli import cli

PROGRAM = r"""
#include "bpf_features.h"
#include <stdio.h>

static int available(unsigned int min_kernel, unsigned int removed_in, unsigned int version_code)
{
    return min_kernel && version_code >= min_kernel && (!removed_in || version_code < removed_in);
}

int main(void)
{
    int failures = 0;
    if (bpf_helper_min_kernel[195] != KERNEL_VERSION(5, 19, 0)) failures++;
    if (BPF_HELPER_MIN_KERNEL_map_lookup_percpu_elem != KERNEL_VERSION(5, 19, 0)) failures++;
    if (BPF_HELPER_COUNT != 212) failures++;
    if (bpf_helper_min_kernel[1] != KERNEL_VERSION(3, 19, 0)) failures++;
    /* every name a helper carried has its constant */
    if (BPF_HELPER_MIN_KERNEL_skb_set_tstamp != bpf_helper_min_kernel[192]) failures++;
    if (bpf_prog_type_min_kernel[6] != KERNEL_VERSION(4, 8, 0)) failures++;      /* XDP */
    if (BPF_MIN_KERNEL_BPF_PROG_RUN != BPF_MIN_KERNEL_BPF_PROG_TEST_RUN) failures++;
    if (bpf_attach_type_min_kernel[44] != KERNEL_VERSION(6, 4, 0)) failures++;    /* BPF_STRUCT_OPS */
    if (bpf_cmd_min_kernel[38] != 0) failures++;                                  /* not established */
    if (BPF_KFUNC_MIN_KERNEL_bpf_cpumask_create != KERNEL_VERSION(6, 3, 0)) failures++;
    /* windows: removed in 6.16, so a 6.16 kernel (and 6.16-rc1, whose version code is 6.16.0) lacks it */
    if (BPF_KFUNC_REMOVED_IN_cgroup_rstat_flush != KERNEL_VERSION(6, 16, 0)) failures++;
    if (!available(BPF_KFUNC_MIN_KERNEL_cgroup_rstat_flush, BPF_KFUNC_REMOVED_IN_cgroup_rstat_flush,
                   KERNEL_VERSION(6, 15, 0))) failures++;
    if (available(BPF_KFUNC_MIN_KERNEL_cgroup_rstat_flush, BPF_KFUNC_REMOVED_IN_cgroup_rstat_flush,
                  KERNEL_VERSION(6, 16, 0))) failures++;
    if (bpf_helper_removed_in[195] != 0) failures++;
    if (!available(bpf_helper_min_kernel[195], bpf_helper_removed_in[195], KERNEL_VERSION(5, 19, 0))) failures++;
    if (BPF_FEATURE_MIN_KERNEL_isa_jmp32_v3 != KERNEL_VERSION(5, 1, 0)) failures++;
    /* two windows: 6.17..6.18 and 7.0.. -- the AVAILABLE macro honours both */
    if (!BPF_KFUNC_AVAILABLE_bpf_stream_vprintk(KERNEL_VERSION(6, 17, 0))) failures++;
    if (BPF_KFUNC_AVAILABLE_bpf_stream_vprintk(KERNEL_VERSION(6, 18, 0))) failures++;
    if (!BPF_KFUNC_AVAILABLE_bpf_stream_vprintk(KERNEL_VERSION(7, 0, 0))) failures++;
    if (BPF_HELPER_AVAILABLE_map_lookup_percpu_elem(KERNEL_VERSION(5, 18, 0))) failures++;
    if (!BPF_HELPER_AVAILABLE_bpf_per_cpu_ptr(KERNEL_VERSION(5, 10, 0))) failures++;
    if (sizeof(bpf_map_type_min_kernel) / sizeof(bpf_map_type_min_kernel[0]) != BPF_MAP_TYPE_MIN_KERNEL_COUNT)
        failures++;
    printf("%d failures\n", failures);
    return failures;
}
"""

BPF_PROGRAM = r"""
#include "bpf_features.h"

#if BPF_HELPER_MIN_KERNEL_map_lookup_percpu_elem != KERNEL_VERSION(5, 19, 0)
#error wrong value
#endif

__attribute__((section("socket"), used))
int prog(void *ctx)
{
    (void)ctx;
    return bpf_helper_min_kernel[195] > KERNEL_VERSION(5, 15, 0);
}
"""


@pytest.fixture(scope="module")
def header_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tables")
    result = CliRunner().invoke(cli, ["tables", "--lang", "c", "-o", str(out), "--db", str(out / "none.db")])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("compiler, flags, source", [
    ("gcc", ["-std=c99", "-pedantic"], "check.c"),
    ("gcc", ["-std=c11"], "check.c"),
    ("g++", ["-std=c++11", "-pedantic"], "check.cpp"),
    ("g++", ["-std=c++17"], "check.cpp"),
])
def test_compiles_without_warnings_and_holds_real_values(header_dir, compiler, flags, source):
    if not shutil.which(compiler):
        pytest.skip(f"{compiler} not installed")
    (header_dir / source).write_text(PROGRAM)
    binary = header_dir / f"check-{compiler}-{flags[0][5:]}"
    subprocess.run([compiler, *flags, "-Wall", "-Wextra", "-Werror", "-I", str(header_dir), str(header_dir / source),
                    "-o", str(binary)], check=True, capture_output=True)
    result = subprocess.run([str(binary)], capture_output=True, text=True, check=False)
    assert result.stdout == "0 failures\n"
    assert result.returncode == 0


def test_compiles_as_bpf_c(header_dir):
    if not shutil.which("clang"):
        pytest.skip("clang not installed (.ci/run installs it)")
    (header_dir / "prog.bpf.c").write_text(BPF_PROGRAM)
    subprocess.run(["clang", "-target", "bpf", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(header_dir), "-c",
                    str(header_dir / "prog.bpf.c"), "-o", str(header_dir / "prog.bpf.o")], check=True)
    assert (header_dir / "prog.bpf.o").read_bytes()[:4] == b"\x7fELF"


def test_kernel_version_from_the_build_wins(header_dir):
    if not shutil.which("gcc"):
        pytest.skip("gcc not installed")
    (header_dir / "pre.c").write_text(
        "#define KERNEL_VERSION(a, b, c) ((a) * 1000000 + (b) * 1000 + (c))\n"
        '#include "bpf_features.h"\n'
        "int main(void) { return bpf_helper_min_kernel[195] == 5019000 ? 0 : 1; }\n"
    )
    subprocess.run(["gcc", "-Wall", "-Wextra", "-Werror", "-I", str(header_dir), str(header_dir / "pre.c"), "-o",
                    str(header_dir / "pre")], check=True)
    assert subprocess.run([str(header_dir / "pre")], check=False).returncode == 0


def test_no_includes_and_an_include_guard(header_dir):
    text = (header_dir / "bpf_features.h").read_text()
    assert "#include" not in text
    assert text.count("#ifndef KBGEN_BPF_MAINLINE_FEATURES_H") == 1
    assert "shipped data 20" in text.splitlines()[4]


def test_no_reserved_identifiers(header_dir):
    """C reserves _X and __x, C++ any name holding __: kfuncs such as __bpf_trap get their underscores folded."""
    text = (header_dir / "bpf_features.h").read_text()
    defined = re.findall(r"^#define (\w+)", text, flags=re.MULTILINE)
    defined += re.findall(r"(?:KBGEN_FUNCTION [\w ]+?\*?|struct )(\w+)", text)
    assert len(defined) > 3000
    assert [name for name in defined if name.startswith("_") or "__" in name] == []
    assert "#define BPF_KFUNC_KNOWN_bpf_trap 1" in text


FUNCTIONS = r"""
#include "bpf_features.h"
#include <stdio.h>

#if BPF_HELPER_KNOWN_a_helper_from_the_future || !BPF_HELPER_KNOWN_map_lookup_percpu_elem
#error the known macros
#endif
#if BPF_HELPER_MIN_KERNEL_a_helper_from_the_future != 0 || !BPF_KFUNC_AVAILABLE_AT_bpf_stream_vprintk(BPF_RELEASE_7_0)
#error the per-item macros in #if
#endif

int main(void)
{
    int failures = 0;
    int percpu = bpf_kb_item(BPF_KIND_HELPER, 195);
    int stream = bpf_kb_find(BPF_KIND_KFUNC, "bpf_stream_vprintk");
    if (!bpf_kb_helper_available(195, "5.19.0-1-amd64")) failures++;
    if (bpf_kb_helper_available(195, "5.15.0-91-generic")) failures++;
    if (bpf_kb_status(percpu, bpf_kb_release_index("5.18.19")) != BPF_KB_NOT_YET) failures++;
    if (!bpf_kb_approximate("5.15.0-91-generic") || bpf_kb_approximate("5.15")) failures++;
    if (bpf_kb_release_index("22.04") != BPF_KB_INVALID || bpf_kb_release_index("linux") != BPF_KB_INVALID) failures++;
    if (bpf_kb_release_index("99.1") != BPF_KB_INVALID) failures++;
    if (bpf_kb_status(percpu, bpf_kb_release_index("7.9")) != BPF_KB_UNKNOWN) failures++;   /* beyond the data */
    if (bpf_kb_status(stream, bpf_kb_release_index("6.17.3")) != BPF_KB_AVAILABLE) failures++;
    if (bpf_kb_status(stream, bpf_kb_release_index("6.18")) != BPF_KB_REMOVED) failures++;
    if (bpf_kb_status(stream, bpf_kb_release_index("7.0.0-rc2")) != BPF_KB_AVAILABLE) failures++;
    if (bpf_kb_status(stream, bpf_kb_release_index("3.10")) != BPF_KB_NOT_YET) failures++;
    if (bpf_kb_find(-1, "bpf_map_lookup_percpu_elem") != percpu || bpf_kb_find(-1, "nothing") != -1) failures++;
    if (bpf_kb_find(-1, "BPF_PROG_RUN") != bpf_kb_find(-1, "BPF_PROG_TEST_RUN")) failures++;
    if (bpf_kb_gpl_only(bpf_kb_find(BPF_KIND_HELPER, "probe_read")) != 1) failures++;
    if (bpf_kb_gpl_only(percpu) != 0 || bpf_kb_gpl_only(-1) != -1) failures++;
    if (bpf_kb_name(BPF_KIND_PROG_TYPE, 6)[14] != 'X' || bpf_kb_name(BPF_KIND_HELPER, 9999) != 0) failures++;
    printf("%d failures\n", failures);
    return failures;
}
"""


def build(header_dir, compiler, flags, name, text):
    """Compile *text* (as file *name*) beside the header with every warning an error; the output's path."""
    if not shutil.which(compiler):
        pytest.skip(f"{compiler} not installed (.ci/run installs gcc, g++ and clang)")
    (header_dir / name).write_text(text)
    out = header_dir / f"{name}-{compiler}.out"
    subprocess.run([compiler, *flags, "-Wall", "-Wextra", "-Werror", "-I", str(header_dir), str(header_dir / name),
                    "-o", str(out)], check=True)
    return out


@pytest.mark.parametrize("compiler, flags", [
    ("gcc", ["-std=c99", "-pedantic"]),
    ("clang", ["-std=c99", "-pedantic"]),
    ("g++", ["-std=c++17", "-pedantic", "-x", "c++"]),
    ("clang++", ["-std=c++11", "-pedantic", "-x", "c++"]),
])
def test_functions_parse_judge_and_name(header_dir, compiler, flags):
    binary = build(header_dir, compiler, flags, "functions.c", FUNCTIONS)
    assert subprocess.run([str(binary)], capture_output=True, text=True, check=False).stdout == "0 failures\n"


def test_constexpr_functions_in_static_assert(header_dir):
    build(header_dir, "g++", ["-std=c++17"], "static.cpp", (
        '#include "bpf_features.h"\n'
        'static_assert(bpf_kb_helper_available(195, "5.19.0-1-amd64"), "percpu lookups on 5.19");\n'
        'static_assert(!bpf_kb_helper_available(195, "5.15.0-91-generic"), "not on 5.15");\n'
        'static_assert(bpf_kb_items[bpf_kb_find(BPF_KIND_HELPER, "probe_read")].gpl_only == 1, "GPL");\n'
        "static_assert(bpf_helper_min_kernel[195] == KERNEL_VERSION(5, 19, 0), \"arrays are constant\");\n"
        "int main() { return 0; }\n"))


def test_a_bpf_program_calls_the_functions(header_dir):
    out = build(header_dir, "clang", ["-target", "bpf", "-O2", "-c"], "calls.bpf.c", (
        '#include "bpf_features.h"\n'
        '__attribute__((section("socket"), used)) int prog(void *ctx)\n'
        '{ (void)ctx; return bpf_kb_helper_available(195, "6.1.0-13-amd64") + bpf_kb_gpl_only(3); }\n'))
    assert out.read_bytes()[:4] == b"\x7fELF"


def test_a_tree_without_some_enums_still_compiles_pedantically(tmp_path):
    """A 4.x stable tree has no link types: C has no zero-length arrays, so none is emitted."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from gitfixture import History
    from headers import make_header

    if not shutil.which("gcc"):
        pytest.skip("gcc not installed")
    h = History(tmp_path / "linux-4.9.y")
    h.commit("c1", make_header(["unspec", "map_lookup_elem"], "enum"))
    h.tag("v4.9")
    db = tmp_path / "kb.db"
    CliRunner().invoke(cli, ["collect", "--repo", h.path, "--tree", "stable-4.9", "--db", str(db), "-q"])
    result = CliRunner().invoke(cli, ["tables", "--tree", "stable-4.9", "--lang", "c", "-o", str(tmp_path / "out"),
                                      "--db", str(db)])
    assert result.exit_code == 0, result.output
    header = tmp_path / "out" / "bpf_features.h"
    assert "#define BPF_LINK_TYPE_MIN_KERNEL_COUNT 0" in header.read_text()
    (tmp_path / "use.c").write_text('#include "bpf_features.h"\nint main(void) { return BPF_HELPER_COUNT != 2; }\n')
    subprocess.run(["gcc", "-std=c99", "-pedantic-errors", "-Wall", "-Wextra", "-Werror", "-I", str(header.parent),
                    str(tmp_path / "use.c"), "-o", str(tmp_path / "use")], check=True)
