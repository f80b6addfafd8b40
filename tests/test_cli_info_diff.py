"""`kbgen info` and `kbgen diff`: quick look-ups for people."""

from click.testing import CliRunner

from kb.cli import cli


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_info_by_id_and_by_any_name(user_db):
    by_id = run("info", "195")
    assert by_id.exit_code == 0
    assert by_id.stdout.splitlines()[0] == "helper 195  map_lookup_percpu_elem"
    assert "first release   5.19" in by_id.stdout
    assert "07343110b293456d30393e89b86c4dee1ac051c8" in by_id.stdout
    assert "void *bpf_map_lookup_percpu_elem(struct bpf_map *map, const void *key, u32 cpu)" in by_id.stdout
    assert run("info", "bpf_map_lookup_percpu_elem").stdout == by_id.stdout
    assert run("info", "BPF_FUNC_map_lookup_percpu_elem").stdout == by_id.stdout


def test_info_shows_disagreements(user_db):
    out = run("info", "get_prandom_u32").stdout
    assert "disagreement    first_release: 4.1 (reference:bcc) vs 4.17 (reference:ebpf-docs)" in out


def test_info_enum_alias_and_kfunc(user_db):
    assert run("info", "BPF_PROG_RUN").stdout.startswith("cmd 10  BPF_PROG_TEST_RUN")
    assert run("info", "xdp").stdout.startswith("prog_type 6  BPF_PROG_TYPE_XDP")
    assert "first release   6.3" in run("info", "bpf_cpumask_create").stdout


def test_info_former_name_in_a_collected_tree(history, tmp_path):
    db = tmp_path / "kb.db"
    run("collect", "--repo", history.path, "--tree", "fixture", "--db", str(db), "-q")
    out = run("info", "old_name", "--tree", "fixture", "--db", str(db)).stdout
    assert out.startswith("helper 4  newest_name")
    assert "names           old_name, new_name, newest_name" in out


def test_info_unknown(user_db):
    result = run("info", "no_such_helper")
    assert result.exit_code == 2
    assert "nothing named 'no_such_helper' in the mainline tree" in result.stderr


def test_diff(user_db):
    out = run("diff", "5.15", "5.19").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["release", "kind", "id", "name"]
    assert any(line.split()[:4] == ["5.19", "helper", "195", "map_lookup_percpu_elem"] for line in lines)
    assert not any(line.startswith("5.15 ") for line in lines)  # 5.15 itself is not "after 5.15"
    assert lines[-1].endswith("items arrived in mainline after 5.15 up to 5.19")
    distro = run("diff", "5.15.0-91-generic", "5.19.0-1-amd64").stdout.splitlines()
    assert distro[:-1] == lines[:-1]


def test_diff_bad_versions(user_db):
    result = run("diff", "five", "5.19")
    assert result.exit_code == 2
    assert "not a kernel version: 'five'" in result.stderr
    result = run("diff", "5.19", "5.15")
    assert result.exit_code == 2
    assert "5.15 is older than 5.19" in result.stderr


def test_unknown_release_is_not_called_unreleased(user_db):
    out = run("info", "BPF_PROG_ASSOC_STRUCT_OPS").stdout  # 6.19 or 7.0: bounded, not established
    assert out.startswith("cmd 38  BPF_PROG_ASSOC_STRUCT_OPS")
    assert "first release   between 6.18 and 7.0 (not established exactly)" in out


def test_unreleased_in_a_mined_tree(history, tmp_path):
    db = tmp_path / "kb.db"
    run("collect", "--repo", history.path, "--tree", "fixture", "--db", str(db), "-q")
    out = run("info", "7", "--tree", "fixture", "--db", str(db)).stdout
    assert "first release   not in any release yet" in out


def test_info_with_a_kernel_is_a_gate(user_db):
    assert run("info", "195", "--kernel", "6.1").exit_code == 0
    lacking = run("info", "195", "--kernel", "5.15.0-91-generic")
    assert lacking.exit_code == 1 and "not yet: first in 5.19" in lacking.stdout
    assert run("info", "bpf_stream_vprintk", "--kernel", "6.18").exit_code == 1  # removed there
    assert run("info", "195", "--kernel", "7.9").exit_code == 1  # newer than the knowledge base: unknown
    refused = run("info", "195", "--kernel", "22.04")
    assert refused.exit_code == 2 and "not a kernel release" in refused.stderr


def test_info_as_json(user_db):
    import json

    from kb.outputs.export import FIELD_NAMES

    result = run("info", "195", "--kernel", "5.15.0-91-generic", "--format", "json")
    assert result.exit_code == 1
    (item,) = json.loads(result.stdout)["items"]
    assert set(FIELD_NAMES) <= set(item)
    assert (item["kind"], item["id"], item["value"], item["first_release"]) == ("helper", "195", 195, "5.19")
    assert item["docs"][0]["signature"].startswith("void *bpf_map_lookup_percpu_elem(")
    assert {"relation": "callable_from", "kind": "prog_type", "id": 6, "name": "BPF_PROG_TYPE_XDP",
            "source": "reference:ebpf-docs", "qualifier": "as documented"} in item["relations"]
    kernel = item["kernel"]
    assert (kernel["status"], kernel["available"], kernel["since"]) == ("not_yet", False, "5.19")
    assert kernel["beyond"] is None
    assert "distribution's build" in kernel["approximate"]
    plain = json.loads(run("info", "xdp", "--format", "json").stdout)["items"]
    assert [i["name"] for i in plain] == ["BPF_PROG_TYPE_XDP"] and "kernel" not in plain[0]


def test_diff_as_json_and_beyond_the_knowledge_base(user_db):
    import json

    document = json.loads(run("diff", "6.17", "6.18", "--format", "json").stdout)
    assert (document["tree"], document["old"], document["new"]) == ("mainline", "6.17", "6.18")
    assert {"release": "6.18", "arrival": None, "kind": "kfunc", "id": "bpf_stream_vprintk",
            "name": "bpf_stream_vprintk"} in document["removed"]
    assert all(change["release"] == "6.18" for change in document["arrived"])
    for newer in ("7.9", "99.0"):
        refused = run("diff", "5.15", newer)
        assert refused.exit_code == 2 and len(refused.stderr.splitlines()) == 1
    assert "newer than the knowledge base" in run("diff", "5.15", "7.9").stderr
