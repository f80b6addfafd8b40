"""Start-up: `kbgen tables` runs in builds and must not import Datasette or git machinery; a no-op re-collect loads
only what comparing fingerprints needs."""

import ast
import subprocess
import sys

# What a no-op re-collect need not load: gitpython and the worker pool, the facts and the release schemes (their
# dataclasses), the facts' reader, the header parser, the other jobs of the API.
NOT_FOR_A_NO_OP = ("git", "multiprocessing", "kb.vocab.facts", "kb.vocab.releases", "kb.store.reading",
                   "kb.formats.header", "kb.api._builds", "kb.api._knowledge")


def run_loading(args: list[str], watched: tuple[str, ...], cwd) -> tuple[str, list[str]]:
    """Run `kbgen ARGS` in a process of its own: what it said on stderr, and which *watched* modules (or their
    submodules) it loaded."""
    code = (
        "import sys\n"
        "from kb.cli import cli\n"
        "try:\n"
        f"    cli({args!r})\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        f"print(sorted(m for m in sys.modules if m in {watched!r} or m.split('.')[0] in {watched!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, check=False)
    assert result.returncode == 0, result.stderr
    return result.stderr, ast.literal_eval(result.stdout)


def test_tables_imports_nothing_heavy(tmp_path):
    _said, loaded = run_loading(["tables", "-o", str(tmp_path / "out"), "--db", str(tmp_path / "none.db")],
                                ("datasette", "git", "sqlite_utils", "elftools", "collectors.git_history"), tmp_path)
    assert loaded == []
    assert (tmp_path / "out" / "bpf_features.h").exists()


def test_a_no_op_recollect_loads_only_what_fingerprints_need(history, tmp_path):
    """A re-collect that finds nothing new compares fingerprints: it loads neither gitpython, nor the facts and the
    release schemes, nor another job's API (a no-op's whole time is start-up; see bench/bench_collect.py)."""
    collect = ["collect", "--repo", history.path, "--db", str(tmp_path / "kb.db"), "-q"]
    said, loaded = run_loading(collect, NOT_FOR_A_NO_OP, tmp_path)
    assert "20 items, 5 releases" in said
    assert {"kb.vocab.facts", "kb.formats.header", "git"} <= set(loaded)  # the check sees what a real run loads
    said, loaded = run_loading(collect, NOT_FOR_A_NO_OP, tmp_path)
    assert "include/uapi/linux/bpf.h up to date" in said
    assert loaded == []
