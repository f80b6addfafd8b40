"""A build's modules: the kfuncs they register are read from their split BTF (.ko, .ko.xz) against the build's vmlinux
BTF, are items of the build "in module M", and the comparison with mainline never counts them as lacking."""

import json
import lzma
import sqlite3

from btfbuild import ET_REL, compress, make_bzimage, make_elf, make_vmlinux, size_append
from click.testing import CliRunner
from test_btf_split import SplitBuilder
from test_probe import BACKPORT, build_btf

from kb.cli import cli
from kb.formats.btf.reader import parse_btf, read_header
from kb.outputs.compare import compare
from kb.store import kbase

RELEASE = "6.1.0-18-amd64"
MODULE_KFUNCS = {"nf_conntrack": "bpf_skb_ct_lookup", "tcp_bbr": "bbr_init"}


def module_btf(base_data: bytes, kfunc: str) -> bytes:
    """A module's split BTF over *base_data*: its own struct, a kfunc taking a pointer to it, the kfunc's tag."""
    base = parse_btf(base_data)
    module = SplitBuilder(len(base), base_data[read_header(base_data).strings_start:])
    state = module.struct(f"{kfunc}_state", 4, [("pid", 1, 0)])  # 1: the base's int; "pid": the base's string
    module.decl_tag("bpf_kfunc", module.func(kfunc, module.func_proto(1, [("s", module.ptr(state))]), "global"))
    return module.build()


def package_root(where):
    """An extracted package: a gzip bzImage, nf_conntrack.ko.xz and tcp_bbr.ko with split BTF, a module without."""
    btf = build_btf(BACKPORT)
    vmlinux = make_vmlinux(btf)
    (where / "boot").mkdir(parents=True)
    (where / "boot" / f"vmlinuz-{RELEASE}").write_bytes(make_bzimage(
        compress("gzip", vmlinux) + size_append(vmlinux), version=f"{RELEASE} (debian-kernel@lists.debian.org) #1 SMP"))
    net = where / "lib" / "modules" / RELEASE / "kernel" / "net"
    net.mkdir(parents=True)
    ko = {name: make_elf([(".BTF", module_btf(btf, kfunc))], e_type=ET_REL) for name, kfunc in MODULE_KFUNCS.items()}
    (net / "nf_conntrack.ko.xz").write_bytes(lzma.compress(ko["nf_conntrack"]))
    (net / "tcp_bbr.ko").write_bytes(ko["tcp_bbr"])
    (net / "dummy.ko").write_bytes(make_elf([(".text", b"\xc3")], e_type=ET_REL))  # no BTF: a warning, not a failure
    return where


def test_module_kfuncs_are_items_of_the_build_in_their_module(tmp_path):
    root = package_root(tmp_path / "bookworm-amd64-6.1.76-1")
    db = tmp_path / "kb.db"
    result = CliRunner().invoke(cli, ["probe", str(root), "--db", str(db), "--format", "json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [build] = json.loads(result.stdout)["builds"]
    assert build["status"] == "probed" and build["labels"]["modules"] == "yes"
    assert any("dummy.ko: module not read: no .BTF section" in w for w in build["warnings"])
    assert not any("probed without its modules" in w for w in build["warnings"])
    conn = sqlite3.connect(db)
    notes = dict(conn.execute("SELECT value, note FROM items WHERE tree = ? AND kind = 'kfunc'", (RELEASE,)))
    assert notes == {"bpf_task_acquire": None, "bpf_skb_ct_lookup": "in module nf_conntrack",
                     "bbr_init": "in module tcp_bbr"}
    signature = conn.execute("SELECT signature FROM items WHERE tree = ? AND value = 'bbr_init'", (RELEASE,)).fetchone()
    assert signature == ("int bbr_init(struct bbr_init_state *s)",)

    comparison = compare(kbase.open_kb(db), RELEASE)
    assert {(d.name, d.note) for d in comparison.in_modules} == {("bpf_skb_ct_lookup", "in module nf_conntrack"),
                                                                ("bbr_init", "in module tcp_bbr")}
    lacking = {d.name for d in comparison.lacking}
    assert "bpf_ct_release" in lacking  # a kfunc of nf_conntrack that module's BTF here does not have
    assert not lacking & set(MODULE_KFUNCS.values())


def test_the_running_kernel_reads_its_loaded_modules_btf(tmp_path, monkeypatch):
    """/sys/kernel/btf holds vmlinux and one raw split BTF per loaded module, named by the module."""
    from collectors import build

    sysfs = tmp_path / "btf"
    sysfs.mkdir()
    btf = build_btf(BACKPORT)
    (sysfs / "vmlinux").write_bytes(btf)
    (sysfs / "nf_conntrack").write_bytes(module_btf(btf, "bpf_skb_ct_lookup"))
    monkeypatch.setattr(build, "RUNNING_KERNEL_BTF", str(sysfs / "vmlinux"))
    facts = build.BuildBTFCollector(str(sysfs / "vmlinux")).collect()
    assert facts.labels["modules"] == "yes" and not facts.warnings
    assert {(i.name, i.note) for i in facts.items if i.kind == "kfunc"} == {
        ("bpf_task_acquire", None), ("bpf_skb_ct_lookup", "in module nf_conntrack")}
