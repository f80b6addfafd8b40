"""The live bpf() probe (collectors.live): refusal paths with a fake syscall, the structures against the C
header and the kernel's BTF, and real probes of the running kernel where bpf() is permitted."""

import ctypes
import errno
import json
import os
import re
import shutil
import subprocess

import pytest

from collectors.live import BpfUnavailableError, check_permitted, enums, probe_live, structs
from collectors.live import probe as live
from kb.formats.header import parse_header
from kb.vocab.errors import KbgenError

HEADER = "/usr/include/linux/bpf.h"
VMLINUX = "/sys/kernel/btf/vmlinux"

# Helper ids (stable UAPI numbers).
MAP_LOOKUP_ELEM, KTIME_GET_NS, TRACE_PRINTK, XDP_ADJUST_HEAD = 1, 5, 6, 44
FAR_PAST_ANY_KERNEL = 100_000


# --- Refusals, with a fake bpf() ----------------------------------------------------------------------------


class FakeBpf:
    """Stands in for collectors.live.probe.sys_bpf: every call fails with one errno, or succeeds."""

    def __init__(self, err=0):
        self.err = err
        self.calls = []

    def __call__(self, cmd, attr):
        self.calls.append(cmd)
        if self.err:
            return -1, self.err
        return os.open(os.devnull, os.O_RDONLY), 0


@pytest.mark.parametrize("err", [errno.EPERM, errno.EACCES])
def test_refused_bpf_gives_one_line_and_probes_nothing(monkeypatch, err):
    fake = FakeBpf(err)
    monkeypatch.setattr(live, "sys_bpf", fake)
    with pytest.raises(BpfUnavailableError) as raised:
        check_permitted()
    message = str(raised.value)
    assert message.startswith("bpf() is not permitted here (needs root or CAP_BPF): ")
    assert errno.errorcode[err] in message
    assert "\n" not in message
    assert isinstance(raised.value, KbgenError) and raised.value.exit_code == 2

    fake.calls.clear()
    with pytest.raises(BpfUnavailableError):
        probe_live({"BPF_PROG_TYPE_XDP": 6}, {"BPF_MAP_TYPE_HASH": 1}, {"map_lookup_elem": 1})
    assert fake.calls == [enums.BPF_PROG_LOAD]  # the one permission check, and nothing after it


def field_offsets(cls: type[ctypes.Structure]) -> dict[str, int]:
    """Every named field's byte offset, members of anonymous unions included."""
    offsets = {}
    for name, ctype in cls._fields_:
        offset = getattr(cls, name).offset
        if name in getattr(cls, "_anonymous_", ()):
            for inner, _ in ctype._fields_:
                offsets[inner] = offset + getattr(ctype, inner).offset
        else:
            offsets[name] = offset
    return offsets



def test_missing_bpf_syscall_is_not_available(monkeypatch):
    monkeypatch.setattr(live, "sys_bpf", FakeBpf(errno.ENOSYS))
    with pytest.raises(BpfUnavailableError, match=r"^bpf\(\) is not available here: ENOSYS"):
        check_permitted()


def test_unknown_architecture_makes_no_call(monkeypatch):
    fake = FakeBpf()
    monkeypatch.setattr(live, "sys_bpf", fake)
    monkeypatch.setattr(live, "syscall_number", lambda machine=None: None)
    with pytest.raises(BpfUnavailableError, match="no bpf\\(\\) syscall number is known"):
        check_permitted()
    assert fake.calls == []


@pytest.mark.parametrize(
    "caps, permitted",
    [
        (0, False),
        (1 << enums.CAP_BPF, False),
        (1 << enums.CAP_BPF | 1 << enums.CAP_PERFMON, False),
        (1 << enums.CAP_BPF | 1 << enums.CAP_PERFMON | 1 << enums.CAP_NET_ADMIN, True),
        (1 << enums.CAP_SYS_ADMIN, True),
    ],
)
def test_capabilities_are_checked_after_a_load_that_worked(monkeypatch, caps, permitted):
    """With unprivileged bpf() allowed, a socket filter loads without privilege; the rest would not."""
    monkeypatch.setattr(live, "sys_bpf", FakeBpf())
    monkeypatch.setattr(live, "_effective_capabilities", lambda: caps)
    if permitted:
        check_permitted()
    else:
        with pytest.raises(BpfUnavailableError, match=r"^bpf\(\) is not permitted here \(needs root or CAP_BPF\)"):
            check_permitted()


def test_syscall_numbers():
    assert live.syscall_number("x86_64") == 321
    assert live.syscall_number("aarch64") == 280
    assert live.syscall_number("i686") == 357
    assert live.syscall_number("armv7l") == 386
    assert live.syscall_number("s390x") == 351
    assert live.syscall_number("ppc64le") == 361
    assert live.syscall_number("riscv64") == 280
    assert live.syscall_number("pdp11") is None


def test_kernel_version_code_reads_ubuntu_and_debian_versions():
    assert live.version_code("6.18.44-fc-v1045") == 6 << 16 | 18 << 8 | 44
    assert live.version_code("5.4.0-12-generic", signature="Ubuntu 5.4.0-12.15-generic 5.4.8\n") == 0x050408
    debian = "#1 SMP Debian 4.19.260-1 (2022-09-29)"
    assert live.version_code("4.19.0-22-amd64", debian) == 4 << 16 | 19 << 8 | 255  # sublevel capped
    assert live.version_code("weird") == 0


def test_libbpf_has_a_recipe_for_every_type_of_the_header(header_enums):
    progs, maps, _helpers = header_enums
    assert all(live.prog_load_plan(live.short_name(n, live.PROG_PREFIX)) for n in progs)
    assert [n for n in maps if live.map_create_plan(live.short_name(n, live.MAP_PREFIX)) is None] == [
        "BPF_MAP_TYPE_UNSPEC"
    ]
    assert live.map_create_plan("RINGBUF").max_entries == os.sysconf("SC_PAGE_SIZE")
    assert live.map_create_plan("ARENA").map_flags == enums.BPF_F_MMAPABLE
    assert live.map_create_plan("BLOOM_FILTER").key_size == 0
    assert live.map_create_plan("STRUCT_OPS").expect_errno == enums.ENOTSUPP
    assert live.prog_load_plan("TRACING").attach_btf_id == 1
    assert live.prog_load_plan("NOT_A_TYPE") is None


# --- The structures -------------------------------------------------------------------------------------------


def compile_and_run(tmp_path, source):
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not installed")
    if not os.path.exists(HEADER):
        pytest.skip(f"{HEADER} not installed (Debian linux-libc-dev)")
    (tmp_path / "probe.c").write_text(source)
    built = subprocess.run([gcc, "-o", str(tmp_path / "probe"), str(tmp_path / "probe.c")], capture_output=True,
                           text=True, check=False)
    return built, (subprocess.run([str(tmp_path / "probe")], capture_output=True, text=True, check=True).stdout
                   if built.returncode == 0 else None)


def c_offsets(tmp_path, fields):
    """offsetof(union bpf_attr, f) for each of fields the header has: a first build names the ones it lacks."""
    while True:
        lines = "".join(f'    printf("{f} %zu\\n", offsetof(union bpf_attr, {f}));\n' for f in fields)
        source = f"#include <stddef.h>\n#include <stdio.h>\n#include <linux/bpf.h>\nint main(void) {{\n{lines}}}\n"
        built, out = compile_and_run(tmp_path, source)
        if out is not None:
            return {name: int(value) for name, value in (line.split() for line in out.splitlines())}
        missing = set(re.findall(r"has no member named .(\w+).", built.stderr))
        assert missing, built.stderr
        fields = [f for f in fields if f not in missing]


# Fields every header since 6.1 has, per command.
IN_6_1 = {
    structs.ProgLoadAttr: "core_relo_rec_size",
    structs.MapCreateAttr: "map_extra",
    structs.BtfLoadAttr: "btf_log_level",
}


@pytest.mark.parametrize("cls", list(IN_6_1), ids=lambda cls: cls.__name__)
def test_attr_offsets_match_the_c_header(tmp_path, cls):
    ours = field_offsets(cls)
    theirs = c_offsets(tmp_path, list(ours))
    names = list(ours)
    assert set(names[: names.index(IN_6_1[cls]) + 1]) <= set(theirs)
    assert {name: ours[name] for name in theirs} == theirs


def test_insn_and_btf_encodings_match_the_c_header(tmp_path):
    source = r"""#include <stdio.h>
#include <linux/bpf.h>
#include <linux/btf.h>
int main(void) {
    struct bpf_insn insn = { .code = 0x85, .dst_reg = 1, .src_reg = 2, .off = -3, .imm = 7 };
    const unsigned char *b = (const unsigned char *)&insn;
    for (unsigned i = 0; i < sizeof(insn); i++) printf("%02x", b[i]);
    printf(" %zu %zu %zu %zu\n", sizeof(struct btf_header), sizeof(struct btf_type), sizeof(struct btf_member),
           sizeof(struct bpf_cgroup_storage_key));
}
"""
    _built, out = compile_and_run(tmp_path, source)
    encoded, header, btf_type, member, key = out.split()
    assert bytes.fromhex(encoded) == structs.insn(0x85, dst=1, src=2, off=-3, imm=7)
    assert int(header) == structs.BTF_HEADER.size
    assert int(btf_type) == structs.BTF_TYPE.size and int(member) == structs.BTF_MEMBER.size
    assert int(key) == ctypes.sizeof(structs.CgroupStorageKey)


def test_syscall_number_matches_the_c_library(tmp_path):
    if live.syscall_number() is None:
        pytest.skip(f"no bpf() syscall number for {os.uname().machine}")
    _built, out = compile_and_run(
        tmp_path, '#include <stdio.h>\n#include <sys/syscall.h>\nint main(void) { printf("%d", SYS_bpf); }\n'
    )
    assert int(out) == live.syscall_number()


def test_attr_offsets_match_the_running_kernel():
    """The running kernel's BTF describes its own union bpf_attr, fields newer than any header included."""
    if not os.path.exists(VMLINUX):
        pytest.skip(f"{VMLINUX} not present")
    from kb.formats.btf import enums as kinds
    from kb.formats.btf.reader import parse_btf

    with open(VMLINUX, "rb") as handle:
        btf = parse_btf(handle.read())
    union = btf.by_name("bpf_attr", kinds.KIND_UNION)[0]

    def flatten(type_id, base):
        for name, member_type, bit_offset in btf.type(type_id).members:
            inner = btf.resolve(member_type)
            if not name and inner.kind in (kinds.KIND_STRUCT, kinds.KIND_UNION):
                yield from flatten(inner.id, base + bit_offset // 8)
            elif name:
                yield name, base + bit_offset // 8

    commands = [dict(flatten(btf.resolve(t).id, 0)) for name, t, _offset in union.members if not name]
    for cls, newest_in_6_1 in IN_6_1.items():
        ours = field_offsets(cls)
        first = next(iter(ours))
        kernel = next(fields for fields in commands if next(iter(fields)) == first)
        common = [name for name in ours if name in kernel]
        assert {name: ours[name] for name in common} == {name: kernel[name] for name in common}
        assert newest_in_6_1 in common
        if live.kernel_version_code() < 0x061300:  # up to 6.18 the structures have every field the kernel has
            assert set(kernel) <= set(ours), f"{cls.__name__} lacks {set(kernel) - set(ours)}"


def test_64_bit_fields_are_naturally_aligned():
    """So that the layout does not depend on how the ABI aligns 64-bit integers (4 on i386)."""
    for cls in IN_6_1:
        for name, ctype in cls._fields_:
            if ctypes.sizeof(ctype) == 8:
                assert getattr(cls, name).offset % 8 == 0, (cls.__name__, name)
    assert structs.attr_size(structs.ProgLoadAttr) == 168  # offsetofend(union bpf_attr, keyring_id), 6.18
    assert structs.attr_size(structs.MapCreateAttr) == 92  # offsetofend(union bpf_attr, excl_prog_hash_size)


def test_local_storage_btf_reads_back():
    from kb.formats.btf import enums as kinds
    from kb.formats.btf.reader import parse_btf

    btf = parse_btf(live.local_storage_btf())
    assert [(t.kind, t.name, t.size_or_type) for t in btf.types[1:]] == [
        (kinds.KIND_INT, "", 4), (kinds.KIND_STRUCT, "bpf_spin_lock", 4), (kinds.KIND_STRUCT, "val", 8),
    ]
    assert btf.types[2].members == [("val", 1, 0)]
    assert btf.types[3].members == [("cnt", 1, 0), ("l", 2, 32)]


# --- The running kernel ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def header_enums():
    if not os.path.exists(HEADER):
        pytest.skip(f"{HEADER} not installed (Debian linux-libc-dev)")
    with open(HEADER) as handle:
        facts = parse_header(handle.read())
    progs = {e.name: e.value for e in facts.enums["prog_type"]}
    maps = {e.name: e.value for e in facts.enums["map_type"]}
    helpers = {e.name: e.value for e in facts.helpers}
    return progs, maps, helpers


@pytest.fixture(scope="module")
def permitted():
    try:
        check_permitted()
    except BpfUnavailableError as refused:
        pytest.skip(str(refused))


@pytest.fixture(scope="module")
def full(permitted, header_enums):
    """One whole probe: every program and map type and helper of the header, and one id past any kernel's."""
    progs, maps, helpers = header_enums
    return probe_live(progs, maps, helpers | {"far_past_any_kernel": FAR_PAST_ANY_KERNEL})


def test_program_types_load(full):
    for name in ("BPF_PROG_TYPE_SOCKET_FILTER", "BPF_PROG_TYPE_KPROBE", "BPF_PROG_TYPE_XDP"):
        assert full.prog_types[name].supported is True, full.prog_types[name]
    assert full.prog_types["BPF_PROG_TYPE_UNSPEC"].supported is False  # libbpf loads it, and it fails
    assert full.kernel_release == os.uname().release


def test_map_types_create(full):
    for name in ("BPF_MAP_TYPE_HASH", "BPF_MAP_TYPE_ARRAY", "BPF_MAP_TYPE_RINGBUF"):
        assert full.map_types[name].supported is True, full.map_types[name]
    unspec = full.map_types["BPF_MAP_TYPE_UNSPEC"]
    assert unspec.supported is None and "libbpf does not probe" in unspec.how
    assert full.undecided() == {"BPF_MAP_TYPE_UNSPEC": unspec.how}


def test_helpers_per_program_type(full):
    xdp, socket_filter = full.helpers["BPF_PROG_TYPE_XDP"], full.helpers["BPF_PROG_TYPE_SOCKET_FILTER"]
    kprobe = full.helpers["BPF_PROG_TYPE_KPROBE"]
    assert MAP_LOOKUP_ELEM in xdp.accepted  # the verifier refuses R1 (a context, not a map): the helper is there
    assert KTIME_GET_NS in socket_filter.accepted  # no arguments: the program loads
    assert TRACE_PRINTK in kprobe.accepted
    assert XDP_ADJUST_HEAD in xdp.accepted and XDP_ADJUST_HEAD in socket_filter.refused
    assert XDP_ADJUST_HEAD in kprobe.refused
    for support in full.helpers.values():
        assert FAR_PAST_ANY_KERNEL in support.refused | set(support.undecided)


def test_helper_refusal_wording(permitted):
    """Since 6.10 the verifier says "program of this type cannot use helper"; before, "unknown func"."""
    loader = live._Loader()
    insns = structs.call_helper(XDP_ADJUST_HEAD) + structs.exit_insn()
    fd, err, log = loader.load(1, insns, live._LoadPlan(), with_log=True)  # BPF_PROG_TYPE_SOCKET_FILTER
    assert fd < 0 and err == errno.EINVAL
    wording = "program of this type cannot use helper" if live.kernel_version_code() >= 0x060A00 else "unknown func"
    assert f"{wording} bpf_xdp_adjust_head#44" in log
    assert live.probe_helper(loader, 1, live._LoadPlan(), XDP_ADJUST_HEAD) is False


def test_ids_past_the_kernels_last_are_refused(permitted):
    if not os.path.exists(VMLINUX):
        pytest.skip(f"{VMLINUX} not present")
    from kb.formats.btf import enums as kinds
    from kb.formats.btf.reader import parse_btf

    with open(VMLINUX, "rb") as handle:
        func_ids = parse_btf(handle.read()).by_name("bpf_func_id", kinds.KIND_ENUM)[0]
    past = {name: value for name, value, *_ in func_ids.members}["__BPF_FUNC_MAX_ID"]
    result = probe_live({"SOCKET_FILTER": 1, "xdp": 6}, {}, {"past": past, "further": past + 1})
    for support in result.helpers.values():
        assert support.refused == {past, past + 1} and not support.accepted and not support.undecided


def test_every_pair_is_decided_once(full, header_enums):
    _progs, _maps, helpers = header_enums
    ids = set(helpers.values()) | {FAR_PAST_ANY_KERNEL}
    for name, support in full.helpers.items():
        assert support.accepted.isdisjoint(support.refused)
        assert support.accepted | support.refused | set(support.undecided) == ids, name
        short = live.short_name(name, live.PROG_PREFIX)
        if short in ("TRACING", "EXT", "LSM", "STRUCT_OPS"):
            assert not support.accepted and not support.refused
            assert all("libbpf cannot probe helpers" in why for why in support.undecided.values())
        else:
            assert support.undecided == {} and support.accepted and support.refused
    assert set(full.helpers) == {name for name, v in full.prog_types.items() if v.supported}
    assert full.timing.helper_pairs == sum(len(s.accepted) + len(s.refused) for s in full.helpers.values())


def test_whole_probe_is_quick(full):
    assert not full.timing.deadline_hit
    assert full.timing.total_s < 60
    assert full.timing.syscalls >= full.timing.helper_pairs > 1000


def test_types_libbpf_does_not_know_are_undecided(permitted):
    result = probe_live({"BPF_PROG_TYPE_FROM_THE_FUTURE": 1000}, {"BPF_MAP_TYPE_FROM_THE_FUTURE": 1000}, {"x": 1})
    assert result.prog_types["BPF_PROG_TYPE_FROM_THE_FUTURE"].supported is None
    assert "no recipe" in result.prog_types["BPF_PROG_TYPE_FROM_THE_FUTURE"].how
    assert result.map_types["BPF_MAP_TYPE_FROM_THE_FUTURE"].supported is None
    assert result.helpers == {}


def test_aliases_are_probed_once(permitted, monkeypatch):
    probed = []
    original = live.probe_map_type

    def counting(loader, short, value):
        probed.append(short)
        return original(loader, short, value)

    monkeypatch.setattr(live, "probe_map_type", counting)
    result = probe_live({}, {"BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED": 19, "BPF_MAP_TYPE_CGROUP_STORAGE": 19,
                             "percpu_cgroup_storage": 21}, {})
    assert probed == ["CGROUP_STORAGE", "PERCPU_CGROUP_STORAGE"]
    assert {v.supported for v in result.map_types.values()} == {True}
    assert set(result.map_types) == {"BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED", "BPF_MAP_TYPE_CGROUP_STORAGE",
                                     "percpu_cgroup_storage"}


def test_a_passed_deadline_leaves_the_rest_undecided(permitted):
    result = probe_live({"XDP": 6}, {"HASH": 1}, {"map_lookup_elem": 1}, deadline_s=0)
    assert result.timing.deadline_hit and result.timing.helper_pairs == 0
    assert result.prog_types["XDP"].supported is None and "deadline" in result.prog_types["XDP"].how
    assert result.map_types["HASH"].supported is None


def test_no_descriptor_is_left_open(permitted, header_enums):
    progs, maps, helpers = header_enums
    before = sorted(os.listdir("/proc/self/fd"))
    probe_live(progs, maps, dict(list(helpers.items())[:20]))
    assert sorted(os.listdir("/proc/self/fd")) == before


# --- bpftool ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bpftool_probe(permitted):
    found = [shutil.which("bpftool")] + [path for path in ("/usr/sbin/bpftool", "/sbin/bpftool") if os.path.exists(path)]
    bpftool = next((path for path in found if path), None)
    if bpftool is None:
        pytest.skip("bpftool not installed")
    done = subprocess.run([bpftool, "feature", "probe", "kernel", "-j"], capture_output=True, text=True,
                          check=False, timeout=120)
    if done.returncode != 0:
        pytest.skip(f"bpftool feature probe failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def test_program_and_map_types_agree_with_bpftool(full, bpftool_probe):
    """Types bpftool's libbpf does not know yet (NETFILTER for bpftool 7.1) are missing from its output and
    are not compared; every type both know must agree."""
    compared = 0
    sides = (
        (full.prog_types, "program_types", "prog_type", live.PROG_PREFIX),
        (full.map_types, "map_types", "map_type", live.MAP_PREFIX),
    )
    for ours, section, key, prefix in sides:
        for name, verdict in ours.items():
            theirs = bpftool_probe[section].get(f"have_{live.short_name(name, prefix).lower()}_{key}")
            if theirs is None:
                continue
            compared += 1
            assert verdict.supported is theirs, (name, verdict)
    assert compared >= 50


def test_helpers_we_accept_bpftool_accepts(full, bpftool_probe, header_enums):
    """Older bpftool (7.1, libbpf 1.1) knows only the pre-6.10 wording of a refusal and so takes every helper
    for available on newer kernels; whatever we accept it accepts too, among the helpers it probes (it skips
    three noisy ones, and knows none newer than its libbpf)."""
    _progs, _maps, helpers = header_enums
    names = {value: name for name, value in helpers.items()}
    lists = {key: {h.removeprefix("bpf_") for h in found} for key, found in bpftool_probe["helpers"].items()}
    probed_by_bpftool = set().union(*lists.values())
    compared = 0
    for name, support in full.helpers.items():
        theirs = lists.get(f"{live.short_name(name, live.PROG_PREFIX).lower()}_available_helpers")
        if theirs:
            compared += 1
            assert {names[h] for h in support.accepted} & probed_by_bpftool <= theirs, name
    assert compared >= 20
