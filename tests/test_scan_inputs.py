"""`kbgen scan` on build directories as they are: host objects, FIFOs, empty directories, huge sparse files."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.cli import cli

BPF = Path(__file__).parent / "bpf"
ROOT = Path(__file__).parent.parent


def run(*args):
    return CliRunner().invoke(cli, ["scan", *map(str, args)], catch_exceptions=False)


@pytest.fixture
def host_object(tmp_path):
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler")
    source = tmp_path / "host.c"
    source.write_text("int f(void) { return 1; }\n")
    subprocess.run([compiler, "-c", str(source), "-o", str(tmp_path / "host.o")], check=True)
    return tmp_path / "host.o"


def test_a_build_directory_with_a_host_object(user_db, tmp_path, host_object):
    build = tmp_path / "build"
    build.mkdir()
    shutil.copy(host_object, build / "main.o")
    shutil.copy(BPF / "percpu.bpf.o", build / "percpu.bpf.o")
    (build / "prog.bc.o").write_bytes(b"BC\xc0\xde" + bytes(60))  # LLVM bitcode: clang -emit-llvm -c
    result = run(build, "--kernel", "5.19", "--format", "json")
    assert result.exit_code == 0, result.output
    (obj,) = json.loads(result.stdout)["objects"]
    assert obj["path"] == str(build / "percpu.bpf.o") and obj["min_kernel"] == "5.19"
    notes = result.stderr.splitlines()
    assert f"kbgen: warning: {build / 'main.o'}: ELF for EM_X86_64, not a BPF object (EM_BPF): skipped" in notes
    assert f"kbgen: warning: {build / 'prog.bc.o'}: not an ELF file (no ELF magic at offset 0): skipped" in notes


def test_a_host_object_named_is_bad_input(user_db, host_object):
    """Named on the command line, a file must be a BPF object; only what a directory holds is passed over."""
    for args in ((), ("--kernel", "5.4")):
        result = run(host_object, *args)
        assert result.exit_code == 2
        assert result.stderr.splitlines() == [f"Error: {host_object}: ELF for EM_X86_64, not a BPF object (EM_BPF)"]
        assert result.stdout == ""


def test_an_empty_directory(user_db, tmp_path):
    result = run(tmp_path, "--kernel", "5.4")
    assert result.exit_code == 2
    assert result.stderr == f"Error: no BPF object found in {tmp_path}\n"
    without = run(tmp_path, "--format", "json")
    assert without.exit_code == 0
    assert json.loads(without.stdout)["objects"] == []
    assert f"no BPF object found in {tmp_path}" in without.stderr


def test_a_fifo_is_refused_or_skipped_without_blocking(user_db, tmp_path):
    fifo = tmp_path / "pipe.o"
    os.mkfifo(fifo)  # opening it for reading the usual way would wait for a writer forever
    given = run(fifo)
    assert given.exit_code == 2
    assert given.stderr == f"Error: {fifo}: not a regular file\n"
    shutil.copy(BPF / "globals.bpf.o", tmp_path / "globals.bpf.o")
    found = run(tmp_path, "--summary")
    assert found.exit_code == 0
    assert found.stdout == f"{tmp_path / 'globals.bpf.o'}: 5.2 (feature verifier.global_data)\n"
    assert f"kbgen: warning: {fifo}: not a regular file: skipped" in found.stderr.splitlines()


def test_a_sparse_2_gb_file_is_not_read(user_db, tmp_path):
    zeros = tmp_path / "zeros.o"
    with open(zeros, "wb") as handle:
        handle.truncate(2 << 30)
    result = run(zeros)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {zeros}: not an ELF file (no ELF magic at offset 0)\n"


def test_a_bpf_object_with_a_2_gb_sparse_tail_is_judged_in_bounded_memory(user_db, tmp_path):
    """Reading the file whole would take 2 GB; the scan maps it and touches only the sections it reads."""
    big = tmp_path / "big.bpf.o"
    shutil.copy(BPF / "percpu.bpf.o", big)
    with open(big, "r+b") as handle:
        handle.truncate(2 << 30)
    if not os.access("/proc/self/clear_refs", os.W_OK):
        pytest.skip("cannot reset the peak RSS (/proc/self/clear_refs)")
    # The knowledge base is opened (and cached) first; then the peak RSS is reset to measure the scan alone.
    code = (
        "import re, sys\n"
        "from click.testing import CliRunner\n"
        "from kb.cli import cli\n"
        "from kb.store.kbase import open_kb\n"
        "open_kb(None).close()\n"
        "def status(field):\n"
        "    return int(re.search(field + r':\\s+(\\d+)', open('/proc/self/status').read()).group(1)) // 1024\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "before = status('VmRSS')\n"
        "result = CliRunner().invoke(cli, ['scan', sys.argv[1], '--summary'], catch_exceptions=False)\n"
        "print(result.stdout, end='')\n"
        "print(before, status('VmHWM'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(big)], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, KBGEN_DB=str(user_db)), check=True)
    summary, memory = done.stdout.splitlines()
    assert summary == f"{big}: 5.19 (helper 195 map_lookup_percpu_elem)"
    before, peak = map(int, memory.split())
    assert peak - before < 64, f"the scan took {peak - before} MiB"  # 2 GB read whole would take 2048


def test_reports_are_written_as_objects_are_scanned(user_db, tmp_path):
    """The first object's report is out before a later object turns out to be malformed."""
    shutil.copy(BPF / "fentry.bpf.o", tmp_path / "a.bpf.o")
    (tmp_path / "b.bpf.o").write_bytes((BPF / "percpu.bpf.o").read_bytes()[:200])  # truncated: exit 2
    result = run(tmp_path, "--summary")
    assert result.exit_code == 2  # the report is whole, and the scan still ends as bad input
    assert result.stdout == f"{tmp_path / 'a.bpf.o'}: 5.5 (attach_type 24 BPF_TRACE_FENTRY, prog_type 26 " \
                            "BPF_PROG_TYPE_TRACING)\n"
    assert result.stderr.splitlines() == [
        (f"kbgen: warning: {tmp_path / 'b.bpf.o'}: section headers at offset 3720 lie past the end of the file "
        "(200 bytes): skipped"),
        (f"Error: 1 object(s) could not be read and were skipped (first: {tmp_path / 'b.bpf.o'}: section headers at "
        "offset 3720 lie past the end of the file (200 bytes))")]


def test_the_result_is_an_iterator_and_knows_failure_as_it_goes(user_db):
    from kb import api

    result = api.scan([str(BPF / "fentry.bpf.o"), str(BPF / "percpu.bpf.o")], kernel="5.10")
    assert result.failed is False  # nothing judged yet
    objects = iter(result.objects)
    first = next(objects)
    assert first.path.endswith("fentry.bpf.o") and result.failed is False  # 5.5 is fine on 5.10
    second = next(objects)
    assert second.min_kernel == "5.19" and result.failed is True
    assert next(objects, None) is None
