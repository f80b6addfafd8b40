"""`kbgen probe SOURCE...`: many builds at once, from a BTFHub checkout, extracted packages and directories of images;
labelled, skipped when their content is stored, and each replacing exactly the build its tree held."""

import io
import json
import lzma
import shutil
import sqlite3
import tarfile

import pytest
from btfbuild import compress, make_bzimage, make_vmlinux, size_append
from click.testing import CliRunner
from test_probe import BACKPORT, PLAIN, build_btf

from kb import api
from kb.cli import cli
from kb.store import availability

BTFHUB = {("centos", "8", "x86_64"): "4.18.0-147.5.1.el8_1.x86_64", ("centos", "8", "arm64"): "4.18.0-193.el8.aarch64",
          ("ubuntu", "20.04", "x86_64"): "5.4.0-1009-aws"}


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def btf_tar_xz(release: str, btf: bytes) -> bytes:
    """A BTFHub archive: a tar holding <release>.btf, xz-compressed."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        member = tarfile.TarInfo(f"./{release}.btf")
        member.size = len(btf)
        tar.addfile(member, io.BytesIO(btf))
    return lzma.compress(buffer.getvalue())


@pytest.fixture
def btfhub(tmp_path):
    root = tmp_path / "btfhub-archive"
    for (distro, version, arch), release in BTFHUB.items():
        where = root / distro / version / arch
        where.mkdir(parents=True)
        helpers = BACKPORT if distro == "centos" else PLAIN
        (where / f"{release}.btf.tar.xz").write_bytes(btf_tar_xz(release, build_btf(helpers)))
    (root / "README.md").write_text("not a build")
    return root


def package_root(where, release: str, helpers: dict, *, control: bool = True):
    """An extracted kernel package (dpkg-deb -x, and -e into DEBIAN/): a gzip bzImage and two module files."""
    (where / "boot").mkdir(parents=True)
    vmlinux = make_vmlinux(build_btf(helpers))
    (where / "boot" / f"vmlinuz-{release}").write_bytes(make_bzimage(
        compress("gzip", vmlinux) + size_append(vmlinux), version=f"{release} (debian-kernel@lists.debian.org) #1 SMP"))
    modules = where / "lib" / "modules" / release / "kernel" / "net"
    modules.mkdir(parents=True)
    (modules / "tcp_bbr.ko").write_bytes(b"\x7fELF module")
    (modules / "nf_nat.ko.xz").write_bytes(lzma.compress(b"\x7fELF module"))
    if control:
        (where / "DEBIAN").mkdir()
        (where / "DEBIAN" / "control").write_text(
            f"Package: linux-image-{release}\nVersion: 6.1.76-1\nArchitecture: amd64\nDescription: Linux\n a kernel\n")
    return where


def test_a_btfhub_checkout_labelled_from_its_path(btfhub, tmp_path):
    db = tmp_path / "kb.db"
    result = run("probe", str(btfhub), "--db", str(db))
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4 and lines[-1].startswith("3 builds: 3 probed, 0 skipped"), lines
    assert all(line.startswith("probed ") for line in lines[:3])
    conn = sqlite3.connect(db)
    labels = {(tree, key): value for tree, key, value in conn.execute("SELECT tree, key, value FROM tree_labels")}
    assert labels[("4.18.0-147.5.1.el8_1.x86_64", "distribution")] == "centos"
    assert labels[("4.18.0-147.5.1.el8_1.x86_64", "distribution_version")] == "8"
    assert labels[("4.18.0-193.el8.aarch64", "arch")] == "arm64"
    assert labels[("5.4.0-1009-aws", "distribution")] == "ubuntu"
    assert labels[("5.4.0-1009-aws", "container")] == "btf.tar.xz"
    # RHEL backports: the CentOS build answers exactly, not by mainline 4.18 arithmetic.
    where, rows = api.check("4.18.0-147.5.1.el8_1.x86_64", ["bpf_map_lookup_percpu_elem"], db=str(db))
    assert where.exact and where.tree == "4.18.0-147.5.1.el8_1.x86_64" and rows[0].available
    where, rows = api.check("5.4.0-1009-aws", ["bpf_map_lookup_percpu_elem"], db=str(db))
    assert where.exact and not rows[0].available


def test_an_extracted_package_labelled_from_its_control_file(tmp_path):
    root = package_root(tmp_path / "bookworm-amd64-6.1.76-1", "6.1.0-18-amd64", BACKPORT)
    db = tmp_path / "kb.db"
    result = run("probe", str(root), "--db", str(db), "--format", "json")
    assert result.exit_code == 0, result.output
    [build] = json.loads(result.stdout)["builds"]
    assert (build["status"], build["tree"]) == ("probed", "6.1.0-18-amd64")
    assert {k: build["labels"][k] for k in ("distribution", "distribution_version", "arch", "package",
                                            "package_version", "modules")} == {
        "distribution": "debian", "distribution_version": "bookworm", "arch": "amd64",
        "package": "linux-image-6.1.0-18-amd64", "package_version": "6.1.76-1", "modules": "probed without its modules"}
    assert any("2 module files" in w for w in build["warnings"])
    # The backported helper is available on that build, asked by its uname as users ask.
    info = run("info", "bpf_map_lookup_percpu_elem", "--kernel", "6.1.0-18-amd64", "--db", str(db))
    assert info.exit_code == 0 and "(approximate)" not in info.stdout, info.output
    assert "available since 6.1.0-18-amd64" in info.stdout


def test_a_package_without_control_is_labelled_from_its_path(tmp_path):
    root = package_root(tmp_path / "trixie-arm64" / "pkg", "6.12.57+deb13-arm64", PLAIN, control=False)
    (root / "usr" / "share" / "doc" / "linux-image-6.12.57+deb13-arm64").mkdir(parents=True)
    result = run("probe", str(tmp_path / "trixie-arm64"), str(tmp_path / "trixie-arm64"), "--db",
                 str(tmp_path / "kb.db"), "--format", "json")
    assert result.exit_code == 0, result.output
    [build] = json.loads(result.stdout)["builds"]  # named twice, probed once
    assert {k: build["labels"].get(k) for k in ("distribution", "distribution_version", "arch", "package")} == {
        "distribution": "debian", "distribution_version": "trixie", "arch": "arm64",
        "package": "linux-image-6.12.57+deb13-arm64"}


def test_a_build_whose_content_is_stored_is_skipped_wherever_it_lies(btfhub, tmp_path):
    db = tmp_path / "kb.db"
    assert run("probe", str(btfhub), "--db", str(db)).exit_code == 0
    moved = tmp_path / "elsewhere"
    shutil.copytree(btfhub, moved)
    again = run("probe", str(moved), "--db", str(db), "--format", "json")
    assert again.exit_code == 0, again.output
    assert {(b["status"], b["tree"]) for b in json.loads(again.stdout)["builds"]} == {
        ("skipped", release) for release in BTFHUB.values()}
    forced = run("probe", str(moved), "--db", str(db), "--force", "--format", "json")
    assert {b["status"] for b in json.loads(forced.stdout)["builds"]} == {"probed"}
    conn = sqlite3.connect(db)
    # Probed again from elsewhere, the same content is the same source: one BTF source per build tree.
    assert conn.execute("SELECT count(*) FROM collections").fetchone()[0] == 3


def test_reprobing_another_image_of_a_release_replaces_the_build(tmp_path):
    db = tmp_path / "kb.db"
    first = package_root(tmp_path / "one", "6.1.0-18-amd64", BACKPORT)
    second = package_root(tmp_path / "two", "6.1.0-18-amd64", PLAIN)
    assert run("probe", str(first), "--db", str(db)).exit_code == 0
    where, rows = api.check("6.1.0-18-amd64", ["bpf_map_lookup_percpu_elem"], db=str(db))
    assert rows[0].available
    assert run("probe", str(second), "--db", str(db)).exit_code == 0
    where, rows = api.check("6.1.0-18-amd64", ["bpf_map_lookup_percpu_elem"], db=str(db))
    assert where.tree == "6.1.0-18-amd64" and not rows[0].available  # nothing of the first image is left
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(DISTINCT source) FROM items WHERE tree = '6.1.0-18-amd64'").fetchone()[0] == 1


def test_a_build_that_does_not_read_is_reported_and_the_others_recorded(btfhub, tmp_path):
    broken = btfhub / "centos" / "8" / "x86_64" / "4.18.0-999.el8.x86_64.btf.tar.xz"
    broken.write_bytes(b"\xfd7zXZ\x00broken")
    db = tmp_path / "kb.db"
    result = run("probe", str(btfhub), "--db", str(db))
    assert result.exit_code == 2
    failed = [line for line in result.stdout.splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and str(broken) in failed[0]
    assert "3 probed, 0 skipped (content stored already), 1 failed" in result.stdout
    assert availability.resolve(api.open_kb(str(db)), "5.4.0-1009-aws").tree == "5.4.0-1009-aws"


def test_one_build_options_are_refused_for_many(btfhub, tmp_path):
    result = run("probe", str(btfhub), "--release", "6.1.0-1-amd64", "--db", str(tmp_path / "kb.db"))
    assert result.exit_code == 2 and "--release" in result.stderr
