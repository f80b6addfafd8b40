"""Robust under faults: bad input anywhere is one line and exit 2, and nothing is left half-written."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from gitfixture import History
from headers import make_header

from kb.cli import cli


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_line(result, code=2):
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_tree_whose_newest_header_documents_no_helper(tmp_path):
    h = History(tmp_path / "linux-4.9.y")
    h.commit("c1", make_header(["unspec", "map_lookup_elem", "probe_read"], "enum"))
    h.tag("v4.9")
    h.commit("c2", make_header(["unspec", "map_lookup_elem", "probe_read", "ktime_get_ns"], "enum"))
    h.tag("v4.9.1")
    db = tmp_path / "kb.db"
    result = run("collect", "--repo", h.path, "--tree", "stable-4.9", "--db", str(db), "-q")
    assert result.exit_code == 0, result.output
    info = run("info", "ktime_get_ns", "--tree", "stable-4.9", "--db", str(db)).stdout
    assert "first release   4.9.1" in info and "signature" not in info


def test_a_bad_header_between_releases_is_skipped_with_a_warning(tmp_path):
    h = History(tmp_path / "linux")
    h.commit("c1", make_header(["unspec", "a"]))
    h.tag("v5.0")
    bad = h.commit("c2", make_header(["unspec", "a", "b"]).replace("FN(b),", "FN(b"))
    h.commit("c3", make_header(["unspec", "a", "b"]))
    h.tag("v5.1")
    db = tmp_path / "kb.db"
    result = run("collect", "--repo", h.path, "--db", str(db), "-q")
    assert result.exit_code == 0, result.output
    assert f"warning: include/uapi/linux/bpf.h at commit {bad[:12]}: line" in result.stderr
    assert "skipped that revision" in result.stderr
    info = run("info", "b", "--tree", "linux", "--db", str(db)).stdout
    assert h.commits["c3"] in info  # introduced by the first revision that parses


def _make_read_only(path):
    """chmod is no obstacle to root: make the file immutable instead, where chattr can."""
    os.chmod(path, 0o444)
    if os.access(path, os.W_OK):
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False).returncode != 0:
            pytest.skip("cannot make a file read-only for this user")
        return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)
    return lambda: None


def test_collect_into_a_read_only_database(history, tmp_path):
    db = tmp_path / "kb.db"
    assert run("collect", "--repo", history.path, "--db", str(db), "-q").exit_code == 0
    before = db.read_bytes()
    undo = _make_read_only(db)
    try:
        line = one_line(run("collect", "--repo", history.path, "--db", str(db), "-q", "--force"))
        assert line.startswith(f"Error: {db}: cannot write"), line
    finally:
        undo()
        os.chmod(db, 0o644)
    assert db.read_bytes() == before


def test_collect_force_into_a_damaged_database(history, tmp_path):
    db = tmp_path / "kb.db"
    assert run("collect", "--repo", history.path, "--db", str(db), "-q").exit_code == 0
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the header's tail and the first page
    db.write_bytes(bytes(data))
    line = one_line(run("collect", "--repo", history.path, "--db", str(db), "-q", "--force"))
    assert str(db) in line
    assert db.read_bytes() == bytes(data)


def test_serve_save_into_an_unwritable_place(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    line = one_line(run("serve", "--save", str(blocker / "kb.db")))
    assert str(blocker / "kb.db") in line
    assert os.listdir(tmp_path) == ["file"]


def test_tables_cleans_what_a_killed_run_left_and_finishes_its_set(tmp_path):
    out = tmp_path / "out"
    assert run("tables", "-o", str(out)).exit_code == 0
    header = (out / "bpf_features.h").read_text()
    # A run killed after staging (its process is gone): stale temporaries.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True,
                          text=True).stdout.strip()
    (out / f".bpf_features.h.abc.{dead}.kbgen-tmp").write_text("half")
    # A run killed midway through renaming its committed set: the journal names what is left to do.
    staged = out / f".bpf_features.py.def.{dead}.kbgen-tmp"
    staged.write_text("# the new module\n")
    (out / ".kbgen-journal").write_text(f"{staged}\t{out / 'bpf_features.py'}\n")
    assert run("tables", "-o", str(out)).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["bpf_features.h", "bpf_features.py"]
    assert (out / "bpf_features.h").read_text() == header
    # The journal was finished, then the file regenerated because it was not what kbgen writes.
    assert (out / "bpf_features.py").read_text() != "# the new module\n"
    assert run("tables", "-o", str(out), "--check").exit_code == 0


def test_the_rc_rule_in_the_cli(user_db):
    # 195 arrived in 5.19: a 5.19-rc kernel reports 5.19.0, as the generated C and Python say too.
    assert run("scan", "tests/bpf/percpu.bpf.o", "--kernel", "5.19-rc1").exit_code == 0
    assert run("scan", "tests/bpf/percpu.bpf.o", "--kernel", "5.19.0-rc1").exit_code == 0
    assert run("scan", "tests/bpf/percpu.bpf.o", "--kernel", "5.18").exit_code == 1


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_removes_its_temporary_database_when_stopped(tmp_path, signum):
    env = dict(os.environ, TMPDIR=str(tmp_path), KBGEN_DB=str(tmp_path / "none.db"))
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", "from kb.cli import main; main()", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if any(p.name.startswith("kbgen-serve-") and (p / "kb.db").exists() for p in tmp_path.iterdir()):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    pass
            time.sleep(0.2)
        else:
            pytest.fail("the server did not start")
        server.send_signal(signum)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("kbgen-serve-")] == []


def _build_btf(helpers: int) -> bytes:
    """A build's BTF with *helpers* helper ids: its facts take about 100 bytes each in the database."""
    from btfbuild import BTFBuilder

    b = BTFBuilder()
    b.int("int", 4, 1)
    b.enum("bpf_func_id", [(f"BPF_FUNC_helper_number_{n}", n) for n in range(helpers)])
    b.enum("bpf_prog_type", [("BPF_PROG_TYPE_UNSPEC", 0), ("BPF_PROG_TYPE_XDP", 6)])
    return b.build()


# Run the command line in a child whose files may grow to at most argv[1] bytes (0: no limit); a write past it
# fails with EFBIG, which SQLite reports as a full disk or an I/O error, as it would ENOSPC.
_LIMITED = ("import resource, signal, sys; limit = int(sys.argv.pop(1)); signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "if limit: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))\n"
            "sys.argv[0] = 'kbgen'; from kb.cli import main; main()")


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (needs root: mount is CAP_SYS_ADMIN's), unmounted after the test."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True,
                             check=False)
    if mounted.returncode:
        pytest.skip("cannot mount a tmpfs (not root); the file-size-limit case stands for a full disk")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


@pytest.mark.parametrize("full", ["tmpfs", "file size limit"])
def test_a_full_disk_during_probe_leaves_the_database_as_it_was(tmp_path, request, full):
    disk = request.getfixturevalue("small_disk") if full == "tmpfs" else tmp_path
    small, large = tmp_path / "small.btf", tmp_path / "large.btf"
    small.write_bytes(_build_btf(10))
    large.write_bytes(_build_btf(20_000))
    db = disk / "kb.db"

    def probe(path, limit=0):
        return subprocess.run([sys.executable, "-c", _LIMITED, str(limit), "probe", str(path), "--release",
                               "6.1.0-1-amd64", "--db", str(db)], capture_output=True, text=True, check=False)

    assert probe(small).returncode == 0
    before = db.read_bytes()
    if full == "tmpfs":
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        (disk / "filler").write_bytes(b"\0" * (free - 64 * 1024))
    done = probe(large, limit=len(before) + 64 * 1024 if full == "file size limit" else 0)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {db}: cannot write ("), done.stderr
    assert db.read_bytes() == before
    assert not os.path.exists(f"{db}-journal")
