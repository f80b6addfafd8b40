"""Names from inputs never reach generated code unchecked: a probed build whose BTF names an enumerator with a newline
or a quote gets tables in every language that compile, the names left out with a warning (kb.vocab.names)."""

import shutil
import subprocess

import pytest
from btfbuild import BTFBuilder
from click.testing import CliRunner

from kb.cli import cli
from kb.vocab.names import c_part, identifiers, is_identifier

HOSTILE = ('BPF_PROG_TYPE_"Q"', "BPF_PROG_TYPE_X\n#error injected", "BPF_MAP_TYPE_A\\B", "BPF_PROG_TYPE_Ü")


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def hostile_btf() -> bytes:
    b = BTFBuilder()
    b.enum("bpf_func_id", [("BPF_FUNC_unspec", 0), ("BPF_FUNC_map_lookup_elem", 1), ('BPF_FUNC_evil"', 2),
                           ("__BPF_FUNC_MAX_ID", 3)])
    b.enum("bpf_prog_type", [("BPF_PROG_TYPE_UNSPEC", 0), ("BPF_PROG_TYPE_SOCKET_FILTER", 1), (HOSTILE[0], 40),
                             (HOSTILE[1], 41), (HOSTILE[3], 42)])
    b.enum("bpf_map_type", [("BPF_MAP_TYPE_UNSPEC", 0), ("BPF_MAP_TYPE_HASH", 1), (HOSTILE[2], 50)])
    b.enum("bpf_cmd", [("BPF_MAP_CREATE", 0)])
    return b.build()


def test_the_check():
    assert is_identifier("map_lookup_elem") and is_identifier("isa.jmp32_v3", dotted=True)
    assert not any(is_identifier(name) for name in HOSTILE)
    assert not is_identifier("isa.jmp32_v3") and not is_identifier("x" * 129) and not is_identifier(3)
    with pytest.warns(UserWarning, match="is not an identifier"):
        assert identifiers(["ok", 'no"'], "test name") == ["ok"]
    assert c_part("__bpf_trap") == "bpf_trap" and c_part("scx_bpf_dsq_insert___v2") == "scx_bpf_dsq_insert_v2"


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    (base / "vmlinux.btf").write_bytes(hostile_btf())
    db = base / "kb.db"
    probed = run("probe", str(base / "vmlinux.btf"), "--release", "6.1.0-13-amd64", "--tree", "hostile", "--db",
                 str(db))
    assert probed.exit_code == 0, probed.output
    out = base / "out"
    args = ["tables", "--tree", "hostile", "--db", str(db), "-o", str(out)]
    result = run(*args, *[f"--lang={lang}" for lang in ("c", "macros", "python", "go", "rust", "json")])
    assert result.exit_code == 0, result.output
    return out, result.stderr


def test_names_are_left_out_with_a_warning(tables):
    out, warnings = tables
    assert warnings.count("is not an identifier: left out of the generated code") == 5
    for path in out.iterdir():
        text = path.read_text()
        assert "injected" not in text and '"Q"' not in text and "evil" not in text, path.name
    assert "HAVE_SOCKET_FILTER_PROG_TYPE" in (out / "bpf_feature_macros.h").read_text()


@pytest.mark.parametrize("compiler, flags, header", [
    ("gcc", ["-std=c99", "-pedantic", "-fsyntax-only"], "bpf_features.h"),
    ("gcc", ["-std=c99", "-pedantic", "-fsyntax-only"], "bpf_feature_macros.h"),
    ("g++", ["-std=c++17", "-fsyntax-only", "-x", "c++"], "bpf_features.h"),
])
def test_the_c_headers_compile(tables, compiler, flags, header):
    out, _warnings = tables
    if not shutil.which(compiler):
        pytest.skip(f"{compiler} not installed (.ci/run installs it)")
    (out / f"use-{header}.c").write_text(f'#include "{header}"\nint main(void) {{ return 0; }}\n')
    subprocess.run([compiler, *flags, "-Wall", "-Wextra", "-Werror", "-I", str(out), str(out / f"use-{header}.c")],
                   check=True)


def test_the_python_module_imports(tables):
    import runpy

    out, _warnings = tables
    assert runpy.run_path(str(out / "bpf_features.py"))["lookup"]("socket_filter") == ("prog_type", 1)


def test_the_go_and_rust_files_compile(tables, tmp_path):
    out, _warnings = tables
    if shutil.which("gofmt"):
        subprocess.run(["gofmt", "-e", "-l", str(out / "bpf_features.go")], check=True, capture_output=True)
    if shutil.which("rustc"):
        subprocess.run(["rustc", "--edition", "2021", "--crate-type", "lib", "-D", "warnings", "-o",
                        str(tmp_path / "libbpf_features.rlib"), str(out / "bpf_features.rs")], check=True)
    if not (shutil.which("gofmt") or shutil.which("rustc")):
        pytest.skip("neither go nor rustc installed (.ci/run installs golang-go and rustc)")
