"""`kbgen tables`: defaults, reproducibility, --check, trees, and bad input."""

import os

from click.testing import CliRunner

from kb.cli import cli


def run(*args, **kwargs):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kwargs)


def test_default_writes_c_and_python_into_kbgen_tables(user_db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("tables")
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(tmp_path / "kbgen-tables")) == ["bpf_features.h", "bpf_features.py"]


def test_byte_for_byte_reproducible(user_db, tmp_path):
    run("tables", "--lang", "c", "--lang", "python", "--lang", "json", "-o", str(tmp_path / "a"))
    run("tables", "--lang", "c", "--lang", "python", "--lang", "json", "-o", str(tmp_path / "b"))
    for name in ("bpf_features.h", "bpf_features.py", "bpf_features.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    text = (tmp_path / "a" / "bpf_features.h").read_text()
    assert "2026-" not in text.replace("2026.11.29", "")  # no timestamps


def test_check_names_the_stale_file(user_db, tmp_path):
    out = tmp_path / "out"
    assert run("tables", "-o", str(out)).exit_code == 0
    assert run("tables", "-o", str(out), "--check").exit_code == 0
    header = out / "bpf_features.h"
    header.write_text(header.read_text().replace("KERNEL_VERSION(5, 19, 0)", "KERNEL_VERSION(5, 15, 0)"))
    result = run("tables", "-o", str(out), "--check")
    assert result.exit_code == 1
    assert result.stderr == f"stale: {header}\n"
    assert "5, 15, 0" in header.read_text()  # --check writes nothing


def test_single_language_to_a_file(user_db, tmp_path):
    target = tmp_path / "include" / "min_kernel.h"
    assert run("tables", "--lang", "c", "-o", str(target)).exit_code == 0
    assert target.read_text().startswith("/* SPDX-License-Identifier")


def test_collected_tree(history, tmp_path):
    db = tmp_path / "kb.db"
    run("collect", "--repo", history.path, "--tree", "vendor", "--db", str(db), "-q")
    out = tmp_path / "vendor"
    assert run("tables", "--tree", "vendor", "--lang", "json", "-o", str(out), "--db", str(db)).exit_code == 0
    import json

    tables = json.loads((out / "bpf_features.json").read_text())
    assert tables["tree"] == "vendor"
    assert tables["data_version"].startswith("git:linux:include/uapi/linux/bpf.h at ")
    assert [(h["id"], h["first_release"]) for h in tables["helper"]][-2:] == [(6, "4.10"), (7, None)]


def test_unknown_language_is_a_usage_error(user_db, tmp_path):
    result = run("tables", "--lang", "cobol", "-o", str(tmp_path))
    assert result.exit_code == 2
    assert os.listdir(tmp_path) == ["user"] or os.listdir(tmp_path) == []


def test_unwritable_output_leaves_no_partial_file(user_db, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    result = run("tables", "-o", str(blocker / "out"))
    assert result.exit_code == 2
    assert "cannot create the output directory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_failure_on_the_second_file_writes_neither(user_db, tmp_path, monkeypatch):
    from kb.formats import atomic

    out = tmp_path / "out"
    out.mkdir()
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    result = run("tables", "-o", str(out))
    assert result.exit_code == 2
    assert "No space left on device" in result.stderr
    assert os.listdir(out) == []


def test_corrupt_database(tmp_path):
    db = tmp_path / "kb.db"
    db.write_text("garbage" * 1000)
    result = run("tables", "--db", str(db), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert f"{db}: not a usable SQLite database" in result.stderr
    assert not (tmp_path / "out").exists()


def test_failure_midway_through_the_set_is_finished_by_the_next_run(user_db, tmp_path, monkeypatch):
    from kb.formats import atomic

    out = tmp_path / "out"
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", failing_replace)
    result = run("tables", "-o", str(out))
    assert result.exit_code == 2 and "the next run in that directory finishes the set" in result.stderr
    assert ".kbgen-journal" in os.listdir(out)  # the header is new, the module not yet
    monkeypatch.setattr(atomic.os, "replace", real_replace)
    assert run("tables", "-o", str(out), "--check").exit_code == 1
    assert run("tables", "-o", str(out)).exit_code == 0
    assert sorted(os.listdir(out)) == ["bpf_features.h", "bpf_features.py"]
    assert run("tables", "-o", str(out), "--check").exit_code == 0


def test_a_file_name_with_several_languages_is_refused(user_db, tmp_path):
    result = run("tables", "--lang", "c", "--lang", "python", "-o", str(tmp_path / "x.h"))
    assert result.exit_code == 2
    assert "a file name holds one language, and 2 were asked for" in result.stderr
    assert not (tmp_path / "x.h").exists()


def test_empty_tables_are_refused(user_db, tmp_path):
    """The libbpf tree holds section tables, no items: nothing to write, and nothing written."""
    result = run("tables", "--tree", "libbpf", "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "tree libbpf has no helpers, types, commands, kfuncs or features" in result.stderr
    assert not (tmp_path / "out").exists()


def test_writes_nothing_but_its_outputs(tmp_path, monkeypatch):
    """A root build with HOME=/nonexistent-like: no cache, no data directory, only the tables."""
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    for variable in ("KBGEN_DB", "XDG_CACHE_HOME", "XDG_DATA_HOME", "KBGEN_NO_CACHE"):
        monkeypatch.delenv(variable, raising=False)
    result = run("tables", "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert not home.exists()
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_check_as_json(user_db, tmp_path):
    import json

    out = tmp_path / "out"
    first = json.loads(run("tables", "-o", str(out), "--format", "json").stdout)
    assert first == {"written": [str(out / "bpf_features.h"), str(out / "bpf_features.py")], "stale": [], "notes": []}
    assert json.loads(run("tables", "-o", str(out), "--check", "--format", "json").stdout)["stale"] == []
    (out / "bpf_features.py").write_text("# edited\n")
    result = run("tables", "-o", str(out), "--check", "--format", "json")
    assert result.exit_code == 1 and json.loads(result.stdout)["stale"] == [str(out / "bpf_features.py")]


def test_depfile_names_what_the_tables_are_made_from(tmp_path, history):
    db = tmp_path / "my kb.db"
    run("collect", "--repo", history.path, "--tree", "vendor", "--db", str(db), "-q")
    depfile = tmp_path / "tables.d"
    out = tmp_path / "out"
    assert run("tables", "--lang", "c", "-o", str(out), "--depfile", str(depfile), "--db", str(db)).exit_code == 0
    targets, _colon, sources = depfile.read_text().partition(": ")
    assert targets == str(out / "bpf_features.h")
    assert sources.endswith(str(db).replace(" ", "\\ ") + "\n")
    assert "/items.tsv " in sources and "/VERSION " in sources


def test_version_names_the_data(user_db):
    from kb.store import shipped

    result = run("--version")
    assert result.exit_code == 0 and result.stdout == f"kbgen, version 0.1.0, data {shipped.data_version()}\n"
