"""`kbgen scan --fleet` (and --tree repeated): a matrix of objects x builds, each cell runs / adapts / fails and why,
judged by each build's own items and the BTF kept for it; `--tree BUILD` alone resolves CO-RE by that BTF too."""

import json
from pathlib import Path

import pytest
from btfbuild import INT_SIGNED, BTFBuilder
from click.testing import CliRunner

from kb.cli import cli
from kb.store import btf_blobs

BPF = Path(__file__).parent / "bpf"
HELPERS = [("BPF_FUNC_unspec", 0), ("BPF_FUNC_map_lookup_elem", 1), ("BPF_FUNC_probe_read", 4),
           ("BPF_FUNC_trace_printk", 6), ("BPF_FUNC_get_current_task", 35), ("BPF_FUNC_probe_read_kernel", 113)]


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def build_btf(state: str, loop: bool) -> bytes:
    """A kernel build: its helpers (bpf_loop or not), program and map types, and a task_struct with *state*."""
    b = BTFBuilder()
    number = b.int("int", 4, INT_SIGNED)
    b.enum("bpf_func_id", HELPERS + ([("BPF_FUNC_loop", 181)] if loop else []) + [("__BPF_FUNC_MAX_ID", 182)])
    b.enum("bpf_prog_type", [("BPF_PROG_TYPE_UNSPEC", 0), ("BPF_PROG_TYPE_KPROBE", 2),
                             ("BPF_PROG_TYPE_TRACEPOINT", 5)])
    b.enum("bpf_map_type", [("BPF_MAP_TYPE_UNSPEC", 0), ("BPF_MAP_TYPE_ARRAY", 2), ("BPF_MAP_TYPE_PERCPU_ARRAY", 6)])
    b.struct("task_struct", 16, [("pid", number, 0), (state, number, 32)])
    return b.build()


@pytest.fixture
def fleet_db(tmp_path):
    db = tmp_path / "kb.db"
    for name, release, state, loop in (("old", "5.10.0-1-amd64", "state", False),
                                       ("new", "6.1.0-1-amd64", "__state", True)):
        path = tmp_path / f"{name}.btf"
        path.write_bytes(build_btf(state, loop))
        assert run("probe", str(path), "--release", release, "--tree", f"build-{name}", "--db", str(db)).exit_code == 0
        btf_blobs.save(str(db), f"build-{name}", path.read_bytes())  # what probe keeps for scan
    return str(db)


def test_the_matrix_says_what_runs_where(fleet_db):
    objects = [str(BPF / "core.bpf.o"), str(BPF / "guards.bpf.o")]
    result = run("scan", *objects, "--fleet", "--format", "json", "--db", fleet_db)
    report = json.loads(result.stdout)
    builds = [b["tree"] for b in report["builds"]]
    assert {"build-new", "build-old"} <= set(builds)  # with the shipped builds, where the knowledge base has some
    cells = {(Path(o["path"]).name, c["tree"]): c for o in report["objects"] for c in o["cells"]}
    # core.bpf.o reads __state where the build has it and the ___old flavor where it has state: it adapts on both.
    old = cells[("core.bpf.o", "build-old")]
    assert (old["result"], old["core"]["unresolved"]) == ("adapts", 1)
    assert "core struct task_struct.__state only where the kernel has struct task_struct.__state" in old["why"]
    assert cells[("core.bpf.o", "build-new")]["result"] == "adapts"
    # guards.bpf.o on 5.10: LINUX_KERNEL_VERSION and the build's enum bpf_func_id keep it from both new helpers.
    assert cells[("guards.bpf.o", "build-old")]["result"] == "adapts"
    assert any("helper loop only where" in why for why in cells[("guards.bpf.o", "build-old")]["why"])
    # On 6.1 the version guard holds, but this build has no helper 195: the guard is no help there.
    new = cells[("guards.bpf.o", "build-new")]
    assert (new["result"], new["why"]) == ("fails", ["helper map_lookup_percpu_elem (absent)"])
    assert (result.exit_code, report["ok"]) == (1, False)


def test_a_repeated_tree_is_the_same_matrix_in_text_and_sarif(fleet_db):
    args = ["scan", str(BPF / "core.bpf.o"), "--tree", "build-old", "--tree", "build-new", "--db", fleet_db]
    text = run(*args)
    assert "build-old" in text.stdout and "adapts" in text.stdout
    sarif = json.loads(run(*args, "--format", "sarif").stdout)
    assert [r["properties"]["tree"] for r in sarif["runs"]] == ["build-old", "build-new"]
    assert {tuple(r["properties"]["matrix"].values()) for r in sarif["runs"]} == {("adapts",)}


def test_one_build_resolves_co_re_by_its_kept_btf(fleet_db, tmp_path):
    lacking = tmp_path / "lacking.btf"
    b = BTFBuilder()
    b.enum("bpf_func_id", HELPERS + [("__BPF_FUNC_MAX_ID", 182)])
    b.enum("bpf_prog_type", [("BPF_PROG_TYPE_UNSPEC", 0), ("BPF_PROG_TYPE_TRACEPOINT", 5)])
    b.struct("task_struct", 8, [("__state", b.int("int", 4, INT_SIGNED), 0)])
    lacking.write_bytes(b.build())
    assert run("probe", str(lacking), "--release", "6.2.0-1-amd64", "--tree", "build-lacking", "--db",
               fleet_db).exit_code == 0
    btf_blobs.save(fleet_db, "build-lacking", lacking.read_bytes())
    result = run("scan", str(BPF / "core.bpf.o"), "--tree", "build-lacking", "--format", "json", "--db", fleet_db)
    assert result.exit_code == 1
    (obj,) = json.loads(result.stdout)["objects"]
    (pid,) = [f for f in obj["findings"] if f["kind"] == "core" and f["status"] == "unresolved"]
    assert (pid["id"], pid["source"]["line"]) == ("struct task_struct.pid", 26)
    matrix = run("scan", str(BPF / "core.bpf.o"), "--fleet", "--db", fleet_db)
    assert matrix.exit_code == 1
    lines = matrix.stdout.splitlines()
    at = lines.index("  FAILS   build-lacking")
    assert lines[at + 1].strip().startswith("core struct task_struct.pid (unresolved)")


def test_a_matrix_is_of_builds(user_db):
    result = run("scan", str(BPF / "core.bpf.o"), "--tree", "mainline", "--tree", "libbpf")
    assert result.exit_code == 2 and "tree mainline is not a kernel build" in result.output
