"""A kernel's release string resolves to the build that is that kernel, else a distribution tree with its release,
else mainline, labelled approximate for a distribution's build; past the newest known release every answer is
unknown; a string that is no kernel release is refused."""

import json

import pytest
from btfbuild import BTFBuilder
from click.testing import CliRunner

from kb import api
from kb.cli import cli
from kb.store import availability

CENTOS = "4.18.0-147.5.1.el8_1.x86_64"  # the real CentOS 8.1 build, which carries helpers up to id 92 and 195 here


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def centos_btf() -> bytes:
    """A RHEL-style 4.18 build with a helper of 5.19 backported (ids 0-2 and 195)."""
    b = BTFBuilder()
    b.int("int", 4, 1)
    b.enum("bpf_func_id", [("BPF_FUNC_unspec", 0), ("BPF_FUNC_map_lookup_elem", 1),
                           ("BPF_FUNC_map_update_elem", 2), ("BPF_FUNC_map_lookup_percpu_elem", 195),
                           ("__BPF_FUNC_MAX_ID", 196)])
    b.enum("bpf_prog_type", [("BPF_PROG_TYPE_UNSPEC", 0), ("BPF_PROG_TYPE_SOCKET_FILTER", 1)])
    b.enum("bpf_map_type", [("BPF_MAP_TYPE_UNSPEC", 0), ("BPF_MAP_TYPE_HASH", 1)])
    return b.build()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "kb.db"
    btf = tmp_path / "centos.btf"
    btf.write_bytes(centos_btf())
    assert run("probe", str(btf), "--release", CENTOS, "--db", str(path)).exit_code == 0
    return str(path)


def test_a_kernel_with_a_recorded_build_is_answered_by_that_build(db):
    [found] = api.info("195", db=db, kernel=CENTOS)
    assert found.where.tree != "mainline" and found.where.exact
    assert found.verdict.available  # backported: mainline arithmetic would say 5.19
    result = run("info", "195", "--kernel", CENTOS, "--db", db)
    assert "available" in result.output and "approximate" not in result.output


def test_another_distribution_string_is_judged_by_mainline_and_says_so(db):
    [found] = api.info("195", db=db, kernel="4.18.0-513.el8.x86_64")
    assert found.where.tree == "mainline" and not found.verdict.available
    assert "distributions backport" in found.where.approximate and "4.18" in found.where.approximate
    result = run("info", "195", "--kernel", "4.18.0-513.el8.x86_64", "--db", db)
    assert "(approximate)" in result.output and "kbgen probe" in result.output
    where, rows = api.check("5.15.0-91-generic", ["bpf_map_lookup_percpu_elem"], db=db)
    assert where.approximate and rows[0].available is False


def test_a_mainline_version_is_exact():
    [found] = api.info("195", kernel="5.19")
    assert found.where.exact and found.verdict.available
    [found] = api.info("195", kernel="6.1.12")
    assert found.where.approximate is None


@pytest.mark.parametrize("kernel", ["8.0", "9.1.2", "7.9-rc1"])
def test_a_kernel_newer_than_the_knowledge_base_is_never_available(kernel):
    newest, _key = availability.horizon(api.open_kb())
    [found] = api.info("1", kernel=kernel)  # map_lookup_elem: in every kernel there is
    assert found.verdict.status == availability.BEYOND and not found.verdict.available
    assert found.verdict.reason == f"unknown: newer than the knowledge base ({newest})"
    where, rows = api.check(kernel, ["bpf_map_lookup_elem", "XDP"])
    assert not any(r.available for r in rows) and where.beyond


def test_the_newest_known_release_is_within_the_horizon():
    newest, _key = availability.horizon(api.open_kb())
    [found] = api.info("1", kernel=f"{newest}.9")
    assert found.verdict.available


@pytest.mark.parametrize("kernel", ["22.04", "ubuntu-22.04", "1.0", "jammy", ""])
def test_a_string_that_is_no_kernel_release_is_refused(kernel):
    result = run("info", "195", "--kernel", kernel)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    with pytest.raises(availability.TargetError):
        api.check(kernel, ["195"])


def test_the_horizon_moves_with_the_builds_recorded(tmp_path):
    """A build newer than every mainline release known (Debian sid's 7.2) moves the horizon to it."""
    btf = tmp_path / "sid.btf"
    btf.write_bytes(centos_btf())
    db = tmp_path / "kb.db"
    assert run("probe", str(btf), "--release", "9.2.1-1-amd64", "--db", str(db), "--format", "json").exit_code == 0
    assert availability.horizon(api.open_kb(str(db)))[0] == "9.2"
    assert json.loads(run("export", "--db", str(db), "--tree", "mainline").output)


def test_a_probed_build_keeps_its_btf_for_core_checks(db):
    """scan --tree BUILD resolves CO-RE relocations against the BTF the probe read (kb.store.btf_blobs)."""
    from kb.store import btf_blobs

    assert btf_blobs.load(db, CENTOS) == centos_btf()
