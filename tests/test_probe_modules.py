"""A build's modules: the kfuncs they register are read from their split BTF (.ko, .ko.xz) against the build's vmlinux
BTF, are items of the build "in module M", and the comparison with mainline never counts them as lacking.  A module
without a .BTF_ids section registers no kfunc: its BTF is not parsed."""

import json
import lzma
import sqlite3
import struct

import pytest
from btfbuild import ET_REL, compress, make_bzimage, make_elf, make_vmlinux, size_append
from click.testing import CliRunner
from test_btf_split import SplitBuilder
from test_probe import BACKPORT, build_btf

from kb.cli import cli
from kb.formats.btf.module import ModuleError, read_module
from kb.formats.btf.reader import parse_btf, read_header
from kb.outputs.compare import compare
from kb.store import kbase

RELEASE = "6.1.0-18-amd64"
MODULE_KFUNCS = {"nf_conntrack": "bpf_skb_ct_lookup", "tcp_bbr": "bbr_init"}
# struct btf_id_set8 as BTF_KFUNCS_START..END leave it in .BTF_ids: cnt, flags (BTF_SET8_KFUNCS), then {id, flags}
KFUNC_SET = struct.pack("<IIII", 1, 1, 0, 0)


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
    ko = {name: make_elf([(".BTF_ids", KFUNC_SET), (".BTF", module_btf(btf, kfunc))], e_type=ET_REL)
          for name, kfunc in MODULE_KFUNCS.items()}
    (net / "nf_conntrack.ko.xz").write_bytes(lzma.compress(ko["nf_conntrack"]))
    (net / "tcp_bbr.ko").write_bytes(ko["tcp_bbr"])
    (net / "dummy.ko").write_bytes(make_elf([(".text", b"\xc3")], e_type=ET_REL))  # no BTF: a warning, not a failure
    # No .BTF_ids: no kfunc to register, so its BTF (not even BTF here) is never parsed, and no warning is given.
    (net / "xt_mark.ko").write_bytes(make_elf([(".text", b"\xc3"), (".BTF", b"not BTF")], e_type=ET_REL))
    return where


def test_module_kfuncs_are_items_of_the_build_in_their_module(tmp_path):
    root = package_root(tmp_path / "bookworm-amd64-6.1.76-1")
    db = tmp_path / "kb.db"
    result = CliRunner().invoke(cli, ["probe", str(root), "--db", str(db), "--format", "json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [build] = json.loads(result.stdout)["builds"]
    assert build["status"] == "probed" and build["labels"]["modules"] == "yes"
    assert [w.split("/")[-1] for w in build["warnings"]] == ["dummy.ko: module not read: no .BTF section"]
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


def test_the_running_kernel_without_loaded_modules_says_so(tmp_path, monkeypatch):
    from collectors import build

    sysfs = tmp_path / "btf"
    sysfs.mkdir()
    (sysfs / "vmlinux").write_bytes(build_btf(BACKPORT))
    monkeypatch.setattr(build, "RUNNING_KERNEL_BTF", str(sysfs / "vmlinux"))
    facts = build.BuildBTFCollector(str(sysfs / "vmlinux")).collect()
    assert facts.labels["modules"] == "probed without its modules"
    [warning] = facts.warnings
    assert warning.startswith("probed without its modules: no module is loaded (no module BTF in /sys/kernel/btf), "
                              "so the kfuncs modules register (nf_conntrack, tcp_bbr...) are not listed")


def test_many_modules_not_read_for_one_reason_are_one_warning(tmp_path):
    """A 5.10 build's modules have no BTF (CONFIG_DEBUG_INFO_BTF_MODULES came in 5.11): one line, not thousands."""
    from collectors import build

    btf = build_btf(BACKPORT)
    image = tmp_path / "vmlinux"
    image.write_bytes(make_vmlinux(btf))
    modules = []
    for number in range(build.MODULE_WARNINGS + 1):
        modules.append(tmp_path / f"m{number}.ko")
        modules[-1].write_bytes(make_elf([(".text", b"\xc3")], e_type=ET_REL))
    facts = build.BuildBTFCollector(str(image), release=RELEASE, modules=tuple(map(str, modules))).collect()
    assert facts.labels["modules"] == "probed without its modules"
    assert facts.warnings[0] == (f"11 of 11 module files not read: no .BTF section ({modules[0]}, {modules[1]}, ...)")
    assert facts.warnings[1].startswith("probed without its modules: 11 module files beside the image did not read")


def test_modules_are_read_in_processes_in_their_order(tmp_path, monkeypatch):
    """Two processes, a chunk of modules each: the same kfuncs, the first module naming a kfunc keeps it."""
    from collectors import build

    btf = build_btf(BACKPORT)
    image = tmp_path / "vmlinux"
    image.write_bytes(make_vmlinux(btf))
    modules = []
    for number, name in enumerate(["bpf_skb_ct_lookup", "bbr_init", "bpf_skb_ct_lookup"]):
        modules.append(tmp_path / f"m{number}.ko")
        modules[-1].write_bytes(make_elf([(".BTF_ids", KFUNC_SET), (".BTF", module_btf(btf, name))], e_type=ET_REL))
    monkeypatch.setattr(build, "MODULE_CHUNK", 1)
    monkeypatch.setattr(build, "MODULE_JOBS", 2)
    facts = build.BuildBTFCollector(str(image), release=RELEASE, modules=tuple(map(str, modules))).collect()
    assert facts.labels["modules"] == "yes" and not facts.warnings
    assert {(i.name, i.note) for i in facts.items if i.kind == "kfunc" and i.note} == {
        ("bpf_skb_ct_lookup", "in module m0"), ("bbr_init", "in module m1")}


def test_a_module_elf_is_read_by_its_section_table():
    btf = build_btf(BACKPORT)
    module = make_elf([(".BTF_ids", KFUNC_SET), (".BTF", btf)], ">", e_type=ET_REL)  # big-endian (s390x)
    assert read_module(module) == (btf, True)
    without = make_elf([(".BTF", btf)], e_type=ET_REL)
    assert read_module(without) == (btf, False)
    assert read_module(without, skip_without_kfunc_sets=True) == (b"", False)


@pytest.mark.parametrize(("damage", "error"), [
    (lambda elf: elf[:10], "truncated ELF header (10 bytes)"),
    (lambda elf: elf[:40], "truncated ELF header (40 bytes, 64 needed)"),
    (lambda elf: elf[:4] + b"\x03" + elf[5:], "ELF class 3, data encoding 1 at offset 4"),
    (lambda elf: elf[:-8], "section headers at offset"),  # the table runs past the end
    (lambda elf: elf[:0x3e] + struct.pack("<H", 99) + elf[0x40:], "section name table index 99 out of range"),
    (lambda elf: b"not an ELF", "not an ELF file"),
])
def test_a_damaged_module_elf_is_one_error_naming_where(damage, error):
    elf = make_elf([(".BTF_ids", KFUNC_SET), (".BTF", b"\0" * 32)], e_type=ET_REL)
    with pytest.raises(ModuleError, match=error.replace("(", r"\(").replace(")", r"\)")):
        read_module(damage(elf))


def test_a_section_past_the_end_is_named():
    elf = bytearray(make_elf([(".BTF", b"\0" * 32)], e_type=ET_REL))
    shoff = struct.unpack_from("<Q", elf, 0x28)[0]
    struct.pack_into("<Q", elf, shoff + 64 + 32, 1 << 40)  # section 1's sh_size
    with pytest.raises(ModuleError, match=r"section 1 \(.BTF\) claims 1099511627776 bytes"):
        read_module(bytes(elf))


def test_an_image_in_its_package_root_is_probed_with_the_modules_beside_it(tmp_path):
    root = package_root(tmp_path / "root")
    image = root / "boot" / f"vmlinuz-{RELEASE}"
    result = CliRunner().invoke(cli, ["probe", str(image), "--db", str(tmp_path / "kb.db"), "--format", "json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    probed = json.loads(result.stdout)
    assert not any("probed without its modules" in w for w in probed["warnings"])
    assert "bpf_ct_release" in {d["name"] for d in probed["lacking"]}
    assert not {d["name"] for d in probed["lacking"] + probed["unknown"]} & set(MODULE_KFUNCS.values())
    assert {(d["name"], d["note"]) for d in probed["in_modules"]} == {("bpf_skb_ct_lookup", "in module nf_conntrack"),
                                                                      ("bbr_init", "in module tcp_bbr")}
    text = CliRunner().invoke(cli, ["probe", str(image), "--db", str(tmp_path / "kb.db"), "--force"]).stdout
    shown = text[text.index("Registered by its modules"):].splitlines()
    assert shown[0].endswith("(2):") and shown[1].split() == ["kfunc", "bbr_init", "in", "module", "tcp_bbr"]
    notes = dict(sqlite3.connect(tmp_path / "kb.db").execute(
        "SELECT value, note FROM items WHERE tree = ? AND kind = 'kfunc' AND note IS NOT NULL", (RELEASE,)))
    assert notes == {"bpf_skb_ct_lookup": "in module nf_conntrack", "bbr_init": "in module tcp_bbr"}


def test_an_image_alone_says_it_was_probed_without_modules_and_is_probed_again_with_them(tmp_path):
    root = package_root(tmp_path / "root")
    alone = tmp_path / "images" / f"vmlinuz-{RELEASE}"
    alone.parent.mkdir()
    alone.write_bytes((root / "boot" / f"vmlinuz-{RELEASE}").read_bytes())
    db = str(tmp_path / "kb.db")
    result = CliRunner().invoke(cli, ["probe", str(alone), "--db", db], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "note: probed without its modules: no module files beside the image" in result.stdout
    again = CliRunner().invoke(cli, ["probe", str(root), str(alone), "--db", db, "--format", "json"],
                               catch_exceptions=False)
    statuses = {b["path"]: (b["status"], b["labels"].get("modules")) for b in json.loads(again.stdout)["builds"]}
    assert statuses == {str(root / "boot" / f"vmlinuz-{RELEASE}"): ("probed", "yes"),
                        str(alone): ("skipped", None)}  # the same image, once without modules: stored already
