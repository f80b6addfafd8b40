"""Signals: a terminated or interrupted run leaves no temporary file beside its output, and Ctrl-C is one line
and exit 130; what a killed run (SIGKILL) left is removed by the next run writing there."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OBJECTS = ["percpu.bpf.o", "guards.bpf.o", "multi.bpf.o", "attach.bpf.o"]


@pytest.fixture
def many_objects(tmp_path):
    """A large input: 600 objects, scanned one after the other while the report is written."""
    folder = tmp_path / "objects"
    folder.mkdir()
    for n in range(150):
        for name in OBJECTS:
            shutil.copy(os.path.join(ROOT, "tests", "bpf", name), folder / f"{n}-{name}")
    return folder


def start_scan(tmp_path, objects, output):
    env = dict(os.environ, KBGEN_DB=str(tmp_path / "kb.db"))
    return subprocess.Popen([sys.executable, "-m", "kb", "scan", str(objects), "--format", "sarif", "-o", str(output)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def temporaries(folder):
    return [name for name in os.listdir(folder) if name.endswith(".kbgen-tmp")]


def signal_while_writing(child, folder, signum):
    """Send *signum* once the report's temporary exists (the scan is writing it)."""
    deadline = time.monotonic() + 60
    while not temporaries(folder):
        assert child.poll() is None, f"the scan ended before its report was being written: {child.stderr.read()}"
        assert time.monotonic() < deadline, "no temporary appeared"
        time.sleep(0.01)
    child.send_signal(signum)
    _stdout, stderr = child.communicate(timeout=60)
    return child.returncode, stderr


def test_sigterm_during_scan_leaves_no_temporary(tmp_path, many_objects):
    out = tmp_path / "out"
    out.mkdir()
    child = start_scan(tmp_path, many_objects, out / "out.sarif")
    status, stderr = signal_while_writing(child, out, signal.SIGTERM)
    assert status == -signal.SIGTERM, stderr  # it dies of the signal, as a shell expects
    assert os.listdir(out) == [], "a temporary or a half report was left"


def test_ctrl_c_is_one_line_exit_130_and_no_temporary(tmp_path, many_objects):
    out = tmp_path / "out"
    out.mkdir()
    child = start_scan(tmp_path, many_objects, out / "out.sarif")
    status, stderr = signal_while_writing(child, out, signal.SIGINT)
    assert status == 130, stderr
    assert stderr.strip() == "kbgen: interrupted", stderr  # no traceback, no "Aborted!"
    assert os.listdir(out) == []


def test_what_a_killed_run_left_is_removed_by_the_next(tmp_path, many_objects):
    out = tmp_path / "out"
    out.mkdir()
    child = start_scan(tmp_path, many_objects, out / "out.sarif")
    signal_while_writing(child, out, signal.SIGKILL)
    (left,) = temporaries(out)  # SIGKILL cannot be caught: the temporary stays...
    one = tmp_path / "one"
    one.mkdir()
    shutil.copy(os.path.join(ROOT, "tests", "bpf", "percpu.bpf.o"), one)
    done = start_scan(tmp_path, one, out / "out.sarif")
    done.communicate(timeout=120)
    assert done.returncode == 0
    assert os.listdir(out) == ["out.sarif"], left  # ...until the next run writing there removes it


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, 130)])
def test_a_signal_during_the_database_write_rolls_it_back(tmp_path, signum, status):
    """Signalled while its transaction is open (its journal exists), probe leaves the database as it was."""
    from btfbuild import BTFBuilder

    def build(helpers):
        b = BTFBuilder()
        b.int("int", 4, 1)
        b.enum("bpf_func_id", [(f"BPF_FUNC_helper_number_{n}", n) for n in range(helpers)])
        return b.build()

    (tmp_path / "small.btf").write_bytes(build(10))
    (tmp_path / "large.btf").write_bytes(build(5000))
    db = tmp_path / "kb.db"

    def probe(name, release):
        return subprocess.Popen([sys.executable, "-m", "kb", "probe", str(tmp_path / name), "--release", release,
                                 "--db", str(db)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)

    assert probe("small.btf", "6.1.0-1-amd64").wait(timeout=120) == 0
    before = db.read_bytes()
    child = probe("large.btf", "6.1.0-2-amd64")
    journal = tmp_path / "kb.db-journal"
    deadline = time.monotonic() + 120
    while not journal.exists():
        assert child.poll() is None, f"the probe ended before it wrote: {child.stderr.read()}"
        assert time.monotonic() < deadline
        time.sleep(0.001)
    child.send_signal(signum)
    _stdout, stderr = child.communicate(timeout=60)
    assert child.returncode == status, stderr
    assert not journal.exists() and db.read_bytes() == before


def test_a_write_removes_stale_temporaries_but_not_a_committed_set(tmp_path):
    """A run killed while renaming its set left a journal: its temporaries are the set's, kept for recover()."""
    from kb.formats import atomic

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True,
                          text=True).stdout.strip()
    stale = tmp_path / f".report.json.abc.{dead}.kbgen-tmp"
    stale.write_text("half a report")
    staged = tmp_path / f".b.h.def.{dead}.kbgen-tmp"
    staged.write_text("the new b.h\n")
    (tmp_path / "a.h").write_text("the new a.h\n")  # renamed before the run was killed
    (tmp_path / "b.h").write_text("the old b.h\n")
    (tmp_path / atomic.JOURNAL).write_text(f"{tmp_path / '.a.h.xyz.0.kbgen-tmp'}\t{tmp_path / 'a.h'}\n"
                                           f"{staged}\t{tmp_path / 'b.h'}\n")
    atomic.write_atomic(str(tmp_path / "report.json"), "{}\n")
    assert not stale.exists() and staged.exists()
    atomic.recover(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h", "b.h", "report.json"]
    assert (tmp_path / "b.h").read_text() == "the new b.h\n"
