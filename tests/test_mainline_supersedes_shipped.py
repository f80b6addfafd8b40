"""A mainline tree mined from a repository supersedes the shipped facts item by item, recording differences."""

from click.testing import CliRunner

from kb.cli import cli
from kb.store import queries
from kb.store.kbase import open_kb


def test_mined_mainline_supersedes_and_records_disagreements(history, tmp_path):
    db = tmp_path / "kb.db"
    result = CliRunner().invoke(cli, ["collect", "--repo", history.path, "--tree", "mainline", "--db", str(db), "-q"])
    assert result.exit_code == 0, result.output
    conn = open_kb(str(db))
    rows = {(i.kind, i.value): i for i in queries.items(conn, "mainline")}
    lookup = rows[("helper", 1)]
    # The fixture's history says 4.0 and its own commit; the shipped reference says 3.19.
    assert (lookup.first_release, lookup.commit) == ("4.0", history.commits["c1"])
    assert lookup.source == "git:linux:include/uapi/linux/bpf.h"
    disagreements = queries.disagreements(conn, "mainline", "helper", 1)
    # Every row states the value the tables use (the mined one) against each other source's, named by its source:
    # the shipped fact (bcc's) and the references' own dispute about it (ebpf-docs said 3.18).
    assert {(d.field, d.used, d.used_source, d.other, d.other_source) for d in disagreements} == {
        ("first_release", "4.0", lookup.source, "3.19", "reference:bcc"),
        ("first_release", "4.0", lookup.source, "3.18", "reference:ebpf-docs"),
        ("introduced_by", lookup.commit, lookup.source, "d0003ec01c667b731c139e23de3306a8b328ccf5", "reference:bcc"),
        ("introduced_by", lookup.commit, lookup.source, "0a542a86d73b1577e7d4f55fc95dcffd3fe62643",
         "reference:ebpf-docs"),
    }
    # Items the mined tree does not cover keep the shipped facts.
    assert rows[("helper", 195)].first_release == "5.19"
    assert rows[("helper", 195)].source == "reference:bcc+ebpf-docs"
    assert rows[("kfunc", "cgroup_rstat_flush")].removed_in == "6.16"
    assert rows[("kfunc", "bpf_cpumask_create")].first_release == "6.3"
    # Every name is kept: the mined names first, then those only the shipped facts know.
    assert rows[("helper", 4)].names[:3] == ["old_name", "new_name", "newest_name"]
    assert "get_current_pid_tgid" not in rows[("helper", 4)].names
    assert "probe_read" in rows[("helper", 4)].names  # the shipped name of id 4
    tree_kind = conn.execute("SELECT kind FROM trees WHERE name = 'mainline'").fetchone()[0]
    assert tree_kind == "git+reference"


def test_shipped_kb_is_never_modified(history, tmp_path):
    from kb.store import shipped

    before = shipped.data_version()
    db = tmp_path / "kb.db"
    CliRunner().invoke(cli, ["collect", "--repo", history.path, "--tree", "mainline", "--db", str(db), "-q"])
    open_kb(str(db))
    assert shipped.data_version() == before
