"""`kbgen probe`: one kernel build's exact features, from its image or BTF (offline) or through bpf() (live)."""

import json
import os
import re
import runpy
import shutil
import subprocess

import pytest
from btfbuild import BTFBuilder, compress, make_bzimage, make_vmlinux, size_append
from click.testing import CliRunner

from kb.cli import cli

PERCPU_OBJECT = "tests/bpf/percpu.bpf.o"  # helper 195 (mainline 5.19) and a BPF_MAP_TYPE_PERCPU_ARRAY map
RUNNING = "/sys/kernel/btf/vmlinux"
MAP_TYPES = ["UNSPEC", "HASH", "ARRAY", "PROG_ARRAY", "PERF_EVENT_ARRAY", "PERCPU_HASH", "PERCPU_ARRAY"]


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def build_btf(helpers: dict[int, str], *, kfunc: bool = True) -> bytes:
    """A small build's BTF: these helpers, program types up to XDP, map types up to PERCPU_ARRAY, one kfunc."""
    b = BTFBuilder()
    int_ = b.int("int", 4, 1)
    b.enum("bpf_func_id", [(f"BPF_FUNC_{name}", value) for value, name in sorted(helpers.items())]
           + [("__BPF_FUNC_MAX_ID", max(helpers) + 1)])
    b.enum("bpf_prog_type", [("BPF_PROG_TYPE_UNSPEC", 0), ("BPF_PROG_TYPE_SOCKET_FILTER", 1),
                             ("BPF_PROG_TYPE_KPROBE", 2), ("BPF_PROG_TYPE_XDP", 6)])
    b.enum("bpf_map_type", [(f"BPF_MAP_TYPE_{name}", value) for value, name in enumerate(MAP_TYPES)])
    b.enum("bpf_attach_type", [("BPF_CGROUP_INET_INGRESS", 0), ("__MAX_BPF_ATTACH_TYPE", 1)])
    b.enum("bpf_link_type", [("BPF_LINK_TYPE_UNSPEC", 0), ("MAX_BPF_LINK_TYPE", 1)])
    b.enum("bpf_cmd", [("BPF_MAP_CREATE", 0), ("BPF_PROG_LOAD", 5)])
    task = b.struct("task_struct", 8, [("pid", int_, 0)])
    func = b.func("bpf_task_acquire", b.func_proto(b.ptr(task), [("p", b.ptr(task))]))
    if kfunc:
        b.decl_tag("bpf_kfunc", func)
    return b.build()


BACKPORT = {0: "unspec", 1: "map_lookup_elem", 2: "map_update_elem", 195: "map_lookup_percpu_elem"}
PLAIN = {0: "unspec", 1: "map_lookup_elem", 2: "map_update_elem"}


@pytest.fixture
def images(tmp_path):
    """A 5.15 distribution build with helper 195 backported, as a gzip bzImage; a 6.1 build lacking it."""
    backport = tmp_path / "vmlinuz-5.15.0-91-generic"
    vmlinux = make_vmlinux(build_btf(BACKPORT))
    backport.write_bytes(make_bzimage(compress("gzip", vmlinux) + size_append(vmlinux),
                                      version="5.15.0-91-generic (buildd@lcy02) #101-Ubuntu SMP"))
    lacking = tmp_path / "vmlinux-6.1"
    lacking.write_bytes(make_vmlinux(build_btf(PLAIN, kfunc=False), banner=None))
    return backport, lacking


def test_a_backport_build_from_its_image(images, tmp_path):
    backport, _lacking = images
    db = tmp_path / "kb.db"
    result = run("probe", str(backport), "--db", str(db), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["tree"], report["release"], report["base"]) == ("5.15.0-91-generic", "5.15.0-91-generic", "5.15")
    assert report["container"] == "bzimage+gzip"
    assert report["helper"] == ["unspec", "map_lookup_elem", "map_update_elem", "map_lookup_percpu_elem"]
    assert report["map_type"][-1] == "BPF_MAP_TYPE_PERCPU_ARRAY"
    assert report["kfunc"] == ["bpf_task_acquire"] and report["kfuncs_tagged"] is True
    assert [(b["kind"], b["id"], b["mainline_first_release"]) for b in report["backports"]] == [
        ("helper", 195, "5.19"), ("kfunc", "bpf_task_acquire", "6.2")]
    lacking = {(d["kind"], d["name"]) for d in report["lacking"]}
    assert ("helper", "probe_read") in lacking and ("prog_type", "BPF_PROG_TYPE_SCHED_CLS") in lacking
    # The build judges by itself, no version arithmetic: mainline 5.15 would refuse helper 195.
    assert run("scan", PERCPU_OBJECT, "--tree", "5.15.0-91-generic", "--db", str(db)).exit_code == 0
    # The kernel string of the probed build is that build: it answers, not mainline arithmetic.
    assert run("scan", PERCPU_OBJECT, "--kernel", "5.15.0-91-generic", "--db", str(db)).exit_code == 0
    other = run("scan", PERCPU_OBJECT, "--kernel", "5.15.0-92-generic", "--db", str(db))
    assert other.exit_code == 1 and "approximate" in other.output
    info = run("info", "195", "--tree", "5.15.0-91-generic", "--db", str(db)).stdout
    assert "first release   5.15.0-91-generic" in info
    # The generated tables of the build say the same.
    out = tmp_path / "tables"
    assert run("tables", "--tree", "5.15.0-91-generic", "-o", str(out), "--db", str(db)).exit_code == 0
    assert "bpf_features.py" in os.listdir(out)
    namespace = runpy.run_path(str(out / "bpf_features.py"))
    assert namespace["helper_available"](195) is True
    assert 4 not in namespace["HELPERS"]  # probe_read: this build does not have it


def test_a_build_lacking_a_helper_mainline_has_fails_the_scan(images, tmp_path):
    _backport, lacking = images
    db = tmp_path / "kb.db"
    # The ELF states no release (no banner): the user says which.
    refused = run("probe", str(lacking), "--db", str(db))
    assert refused.exit_code == 2 and "states no kernel release" in refused.stderr and not db.exists()
    result = run("probe", str(lacking), "--release", "6.1.0-13-amd64", "--tree", "debian-6.1", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert "kfuncs not tagged" in result.stdout and "does not tag its kfuncs" in result.stdout
    scan = run("scan", PERCPU_OBJECT, "--tree", "debian-6.1", "--db", str(db), "--format", "json")
    assert scan.exit_code == 1  # mainline 6.1 has helper 195; this build does not
    (call,) = [f for f in json.loads(scan.stdout)["objects"][0]["findings"] if f["kind"] == "helper"]
    assert (call["status"], call["name"], call["requires"]) == ("absent", "map_lookup_percpu_elem", "5.19")
    assert call["reason"].endswith("(the probed build debian-6.1 does not have it)")
    kfunc = run("scan", "tests/bpf/kfunc.bpf.o", "--tree", "debian-6.1", "--db", str(db), "--format", "json")
    # The build tags no kfunc: whether it has these is judged by mainline at its base (6.1: they are 6.3), and
    # said so.
    judged = [f for f in json.loads(kfunc.stdout)["objects"][0]["findings"] if f["kind"] == "kfunc"]
    assert {f["status"] for f in judged} == {"too_new"} and all("judged by mainline" in f["reason"] for f in judged)
    # Named by its release string, the kernel is this build, which lacks the helper mainline 6.1 has.
    assert run("scan", PERCPU_OBJECT, "--kernel", "6.1.0-13-amd64", "--db", str(db)).exit_code == 1
    assert run("scan", PERCPU_OBJECT, "--kernel", "6.1.0-14-amd64", "--db", str(db)).exit_code == 0  # mainline 6.1


@pytest.mark.parametrize("damage, message", [
    (lambda data: data[:0x1F0], "not a kernel image: expected raw BTF"),
    (lambda data: data[:0x202] + b"XXXX" + data[0x206:], "not a kernel image: expected raw BTF"),
    (lambda data: data[: len(data) // 2], "past the end of the file"),
])
def test_malformed_images_are_one_line_and_store_nothing(images, tmp_path, damage, message):
    backport, _lacking = images
    broken = tmp_path / "broken"
    broken.write_bytes(damage(backport.read_bytes()))
    db = tmp_path / "kb.db"
    result = run("probe", str(broken), "--db", str(db))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(broken) in lines[0] and message in lines[0], lines
    assert not db.exists()


def test_not_an_image_and_not_a_file(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    result = run("probe", str(text), "--db", str(tmp_path / "kb.db"))
    assert result.exit_code == 2 and str(text) in result.stderr
    assert run("probe", str(tmp_path), "--db", str(tmp_path / "kb.db")).exit_code == 2
    assert run("probe", str(tmp_path / "missing"), "--db", str(tmp_path / "kb.db")).exit_code == 2


def _macros(tmp_path, db, tree):
    out = tmp_path / "macros.h"
    result = run("tables", "--tree", tree, "--lang", "macros", "-o", str(out), "--db", str(db))
    assert result.exit_code == 0, result.output
    return out


def test_macros_header_compiles_and_names_as_bpftool_does(images, tmp_path):
    backport, _lacking = images
    db = tmp_path / "kb.db"
    assert run("probe", str(backport), "--db", str(db)).exit_code == 0
    header = _macros(tmp_path, db, "5.15.0-91-generic")
    text = header.read_text()
    assert "#define HAVE_XDP_PROG_TYPE" in text and "#define HAVE_PERCPU_ARRAY_MAP_TYPE" in text
    assert "#define HAVE_BOUNDED_LOOPS" in text and "#define HAVE_V4_ISA_EXTENSION" not in text  # 5.3, 6.6
    assert "#define NO_HAVE_V4_ISA_EXTENSION" in text
    if shutil.which("gcc"):
        program = tmp_path / "use.c"
        program.write_text(f'#include "{header}"\n#ifndef HAVE_XDP_PROG_TYPE\n#error no\n#endif\n'
                           "int main(void) { return 0; }\n")
        subprocess.run(["gcc", "-Wall", "-Wextra", "-Werror", "-o", str(tmp_path / "use"), str(program)], check=True)
    assert run("tables", "--lang", "macros", "-o", str(tmp_path / "m.h")).exit_code == 2  # mainline is no build


@pytest.mark.skipif(not os.path.exists(RUNNING), reason=f"{RUNNING} not present")
def test_this_machines_kernel(tmp_path):
    db = tmp_path / "kb.db"
    result = run("probe", "--db", str(db), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["release"] == os.uname().release and report["source"] == RUNNING
    assert report["helper"][195] == "map_lookup_percpu_elem"
    assert "BPF_PROG_TYPE_XDP" in report["prog_type"]


def _bpf_permitted() -> bool:
    try:
        from collectors.live import check_permitted

        check_permitted()
        return True
    except Exception:  # noqa: BLE001 - any refusal means: skip
        return False


@pytest.mark.skipif(not os.path.exists(RUNNING) or not _bpf_permitted(), reason="bpf() not permitted here")
def test_live_probe_and_its_macros_against_bpftool(tmp_path):
    db = tmp_path / "kb.db"
    result = run("probe", "--live", "--db", str(db), "--format", "json")
    assert result.exit_code == 0, result.output
    live = json.loads(result.stdout)["live"]
    assert live["prog_types"]["BPF_PROG_TYPE_XDP"] is True
    assert "map_lookup_elem" in live["accepts"]["BPF_PROG_TYPE_XDP"]
    assert live["accepted_pairs"] > 1000 and live["undocumented_pairs"] > 0
    header = _macros(tmp_path, db, os.uname().release).read_text()
    assert "#define BPF__PROG_TYPE_xdp__HELPER_bpf_map_lookup_elem 1" in header
    if shutil.which("bpftool"):
        theirs = subprocess.run(["bpftool", "feature", "probe", "kernel", "macros"], capture_output=True, text=True,
                                check=False).stdout
        pattern = re.compile(r"#define ((?:NO_)?HAVE_\w+_(?:PROG|MAP)_TYPE)$", re.MULTILINE)
        ours = set(pattern.findall(header))
        # Every program and map type bpftool knows, named as bpftool names it, with its verdict.
        assert set(pattern.findall(theirs)) <= ours


def test_live_probe_refused_is_one_line_and_stores_nothing(tmp_path, monkeypatch):
    import errno

    from collectors.live import probe as live_probe

    monkeypatch.setattr(live_probe, "sys_bpf", lambda cmd, attr: (-1, errno.EPERM))
    monkeypatch.setattr(live_probe, "_effective_capabilities", lambda: None)
    if not os.path.exists(RUNNING):
        pytest.skip(f"{RUNNING} not present")
    db = tmp_path / "kb.db"
    result = run("probe", "--live", "--db", str(db))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "bpf() is not permitted here" in result.stderr
    assert not db.exists()


def test_a_build_tree_holds_one_build_and_mainline_holds_no_build(images, tmp_path):
    backport, lacking = images
    db = tmp_path / "kb.db"
    assert run("probe", str(backport), "--tree", "prod", "--db", str(db)).exit_code == 0
    assert run("probe", str(lacking), "--release", "6.1.0-13-amd64", "--tree", "prod", "--db", str(db)).exit_code == 0
    report = json.loads(run("export", "--tree", "prod", "--kind", "helper", "--db", str(db)).stdout)
    assert [i["first_release"] for i in report["items"]] == ["6.1.0-13-amd64"] * 3  # the 5.15 build is gone
    refused = run("probe", str(backport), "--tree", "mainline", "--db", str(db))
    assert refused.exit_code == 2 and "tree mainline holds mainline releases" in refused.stderr
