"""The git-history collector on a fixture history with the real history's hard parts."""

import pytest
from conftest import mine


def item(collected, kind, value):
    matches = [i for i in collected.items if i.kind == kind and i.value == value]
    assert len(matches) == 1, (kind, value)
    return matches[0]


def test_releases_are_final_tags_in_numeric_order(collected):
    assert [r.version for r in collected.releases] == ["4.0", "4.1", "4.2", "4.9", "4.10"]
    assert [r.has_header for r in collected.releases] == [True] * 5


def test_first_release_and_introducing_commit_of_the_enum_era(collected, history):
    probe = item(collected, "helper", 3)
    assert (probe.name, probe.first_release) == ("probe_read", "4.1")
    assert probe.introduced_by == history.commits["c2"]
    assert probe.subject == "tracing: add probe_read"
    assert probe.author == "Test Author"
    assert item(collected, "helper", 1).introduced_by == history.commits["c1"]
    assert item(collected, "helper", 1).first_release == "4.0"


def test_rename_before_any_release_keeps_the_first_commit_and_every_name(collected, history):
    helper = item(collected, "helper", 4)
    assert helper.name == "newest_name"
    assert helper.first_release == "4.1"
    assert helper.introduced_by == history.commits["c3"]
    names = {n.name: n for n in helper.names}
    assert list(names) == ["old_name", "new_name", "newest_name"]
    assert names["old_name"].first_release is None  # renamed before v4.1 was tagged
    assert names["new_name"].first_release == "4.1"
    assert names["newest_name"].first_release == "4.9"  # renamed between two releases
    assert names["newest_name"].first_seen_commit == history.commits["c7"]


def test_helper_from_a_side_branch_is_introduced_by_its_own_commit_not_the_merge(collected, history):
    helper = item(collected, "helper", 5)
    assert helper.first_release == "4.2"
    assert helper.introduced_by == history.commits["s1"]
    assert helper.introduced_by != history.commits["m1"]


def test_header_deleted_and_readded_in_the_explicit_id_format(collected, history):
    late = item(collected, "helper", 6)
    assert (late.name, late.first_release, late.introduced_by) == ("late_helper", "4.10", history.commits["c9"])
    # Items that survived the deletion keep their original commit.
    assert item(collected, "helper", 1).introduced_by == history.commits["c1"]


def test_tag_dates_out_of_order_do_not_matter(collected):
    # v4.10 was tagged with an earlier date than v4.9, and sorts after it as a string would not.
    assert item(collected, "helper", 4).names[-1].first_release == "4.9"
    assert item(collected, "helper", 6).first_release == "4.10"


def test_unreleased_item_at_head(collected, history):
    helper = item(collected, "helper", 7)
    assert helper.first_release is None
    assert helper.unreleased and helper.windows == []
    assert helper.introduced_by == history.commits["c10"]


def test_enums_aliases_and_sentinels(collected, history):
    assert item(collected, "map_type", 2).first_release == "4.2"
    assert item(collected, "map_type", 2).introduced_by == history.commits["c5"]
    run = item(collected, "cmd", 3)
    assert run.name == "BPF_PROG_TEST_RUN"
    assert {(n.name, n.is_alias) for n in run.names} == {("BPF_PROG_TEST_RUN", False), ("BPF_PROG_RUN", True)}
    link = item(collected, "link_type", 1)
    assert (link.name, link.first_release, link.introduced_by) == (
        "BPF_LINK_TYPE_RAW_TRACEPOINT", "4.2", history.commits["c6"])
    assert not [i for i in collected.items if "MAX" in i.name]


def test_windows_are_the_releases_that_have_an_item(collected):
    assert [(w.since, w.until) for w in item(collected, "helper", 5).windows] == [("4.2", None)]
    assert [(w.since, w.until) for w in item(collected, "cmd", 3).windows] == [("4.2", None)]  # two spellings
    # The header was deleted between 4.9 and 4.10, but every release tag has it.
    assert [(w.since, w.until) for w in item(collected, "helper", 1).windows] == [("4.0", None)]


def test_rc_tags_only_on_request(history):
    with_rc = mine(history.path, tree="mainline", with_rc=True)
    helper = item(with_rc, "helper", 4)
    assert (helper.first_rc, helper.first_release) == ("4.1-rc1", "4.1")
    assert [r.version for r in with_rc.releases] == ["4.0", "4.1", "4.2", "4.9", "4.10"]


def test_helper_docs_come_from_the_newest_header(collected):
    docs = {d.value: d for d in collected.helper_docs}
    assert docs[7].signature == "long bpf_unreleased_helper(void *ctx, u64 flags)"
    assert docs[7].description.startswith("Does unreleased_helper things")


def test_bare_repository_gives_the_same_facts(history, collected, tmp_path):
    import git

    bare = tmp_path / "linux.git"
    git.Repo.clone_from(history.path, bare, bare=True)
    again = mine(str(bare), tree="mainline")
    assert [(i.kind, i.value, i.first_release, i.introduced_by) for i in again.items] == [
        (i.kind, i.value, i.first_release, i.introduced_by) for i in collected.items
    ]


def test_each_distinct_blob_is_parsed_once(history, monkeypatch):
    from kb.formats import header

    parsed = []
    real = header.parse_header
    monkeypatch.setattr(header, "parse_header", lambda data, **kw: parsed.append(data) or real(data, **kw))
    mine(history.path, tree="mainline")
    assert len(parsed) == len(set(parsed))
    blobs = set(history.repo.git.log("--format=", "--raw", "--no-abbrev", "--all", "--", "include").split())
    assert len(parsed) <= len(blobs)


@pytest.mark.parametrize("pattern, expected", [("v4.1*", ["4.1", "4.10"]), ("v4.[09]", ["4.0", "4.9"])])
def test_tag_pattern(history, pattern, expected):
    assert [r.version for r in mine(history.path, tags=pattern).releases] == expected


def test_tags_of_trees_are_not_releases(tmp_path):
    """linux.git's v2.6.11 tags a tree; it must not stop the walk."""
    from gitfixture import History
    from headers import make_header

    h = History(tmp_path / "linux")
    h.commit("c1", make_header(["unspec", "a"]))
    h.tag("v3.18")
    tree = h.repo.head.commit.tree.hexsha
    h.repo.git.tag("v2.6.11", tree)
    h.repo.git.tag("-a", "v2.6.12", tree, "-m", "annotated tag of a tree")
    assert [r.version for r in mine(h.path).releases] == ["3.18"]


def test_a_revert_and_re_add_gives_two_windows(tmp_path):
    """BPF_TOKEN_CREATE's story: added, reverted before the next release, added again later."""
    from gitfixture import History
    from headers import make_header

    enums = {"bpf_cmd": ["BPF_MAP_CREATE", "BPF_PROG_LOAD"], "bpf_map_type": ["BPF_MAP_TYPE_UNSPEC"],
             "bpf_prog_type": ["BPF_PROG_TYPE_UNSPEC"]}
    with_token = dict(enums, bpf_cmd=[*enums["bpf_cmd"], "BPF_TOKEN_CREATE"])
    h = History(tmp_path / "linux")
    h.commit("c1", make_header(["unspec"], "mapper", enums))
    h.tag("v6.6")
    h.commit("add", make_header(["unspec"], "mapper", with_token), "bpf: add BPF token")
    h.tag("v6.7")
    h.commit("revert", make_header(["unspec"], "mapper", enums), "Revert BPF token")
    h.tag("v6.8")
    h.commit("again", make_header(["unspec"], "mapper", with_token), "bpf: add BPF token, again")
    h.tag("v6.9")
    token = item(mine(h.path), "cmd", 2)
    assert [(w.since, w.until) for w in token.windows] == [("6.7", "6.8"), ("6.9", None)]
    assert (token.first_release, token.removed_in, token.introduced_by) == ("6.7", None, h.commits["add"])


def test_first_rc_is_of_the_release_the_item_arrived_in(tmp_path):
    """Added in 6.7-rc1, reverted before 6.7, added again for 6.8: its first rc is 6.8-rc1, not 6.7-rc1."""
    from click.testing import CliRunner
    from gitfixture import History
    from headers import make_header

    from kb.cli import cli

    h = History(tmp_path / "linux")
    h.commit("c1", make_header(["unspec", "a"]))
    h.tag("v6.6")
    for label, helpers in (("v6.7-rc1", ["unspec", "a", "b"]), ("v6.7-rc2", ["unspec", "a"]), ("v6.7", None),
                           ("v6.8-rc1", ["unspec", "a", "b"]), ("v6.8", None)):
        if helpers:
            h.commit(label, make_header(helpers))
        h.tag(label)
    b = item(mine(h.path, with_rc=True), "helper", 2)
    assert (b.first_release, b.first_rc, [w.text() for w in b.windows]) == ("6.8", "6.8-rc1", ["6.8.."])
    assert item(mine(h.path, with_rc=True), "helper", 1).first_rc is None  # in 6.6, before any collected rc
    db = tmp_path / "kb.db"
    CliRunner().invoke(cli, ["collect", "--repo", h.path, "--tree", "linux", "--rc", "--db", str(db), "-q"])
    for kernel, expected in (("6.7-rc1", "not yet"), ("6.7-rc2", "not yet"), ("6.8-rc1", "available since 6.8")):
        result = CliRunner().invoke(cli, ["info", "b", "--tree", "linux", "--kernel", kernel, "--db", str(db)])
        assert result.exit_code == (0 if expected.startswith("available") else 1), result.output  # 1: not there
        verdict = next(line for line in result.stdout.splitlines() if line.strip().startswith("on the kernel"))
        assert expected in verdict, (kernel, result.stdout)


def test_a_partial_history_does_not_claim_first_releases(tmp_path):
    """Collected from v5.1 on, what 5.1 has was there before: the shipped first release stands."""
    from click.testing import CliRunner
    from gitfixture import History
    from headers import make_header

    from kb.cli import cli

    h = History(tmp_path / "linux")
    h.commit("c1", make_header(["unspec", "map_lookup_elem"]))
    h.tag("v5.0")
    h.commit("c2", make_header(["unspec", "map_lookup_elem", "map_update_elem"]))
    h.tag("v5.1")
    h.commit("c3", make_header(["unspec", "map_lookup_elem", "map_update_elem", "map_delete_elem"]))
    h.tag("v5.2")
    partial = mine(h.path, tags="v5.[12]")
    lookup = item(partial, "helper", 1)
    assert (lookup.first_release, lookup.windows[0].since) == (None, None)
    assert "earlier releases were not collected" in lookup.note
    assert item(partial, "helper", 3).first_release == "5.2"
    db = tmp_path / "kb.db"
    CliRunner().invoke(cli, ["collect", "--repo", h.path, "--tree", "mainline", "--tags", "v5.[12]", "--db", str(db),
                             "-q"])
    info = CliRunner().invoke(cli, ["info", "map_lookup_elem", "--kernel", "4.19", "--db", str(db)]).stdout
    assert "first release   3.19" in info and "available since 3.19" in info
