"""Probe the running kernel through bpf(): which program types load, which map types can be created, and
which helpers each program type may call.

The probes are those of libbpf's libbpf_probe_bpf_prog_type(), libbpf_probe_bpf_map_type() and
libbpf_probe_bpf_helper() (what `bpftool feature probe` reports), written anew in Python on ctypes:

- A program type is probed by loading ``r0 = 0; exit`` as a GPL program, with the load options libbpf gives
  that type (an expected attach type, the kernel version for kprobes, the sleepable flag for syscall
  programs).  Types whose programs only load against a kernel BTF id (tracing, LSM, extension) are tried
  against id 1, which is no function: the type exists when the verifier refuses with the message libbpf
  expects.  struct_ops exists when the load fails with ENOTSUPP.  A type libbpf has no recipe for cannot
  be told.
- A map type is probed by creating a one-entry map with the key and value sizes, flags and BTF libbpf uses
  for that type; struct_ops maps exist when the create fails with ENOTSUPP.
- A helper is probed by loading ``call helper; exit`` in the program type.  The pair is refused only when
  the verifier says the helper is unknown or not for this program type (enums.HELPER_REFUSED_MESSAGES);
  a program that loads, or that the verifier refuses for anything else (argument types, say), means the
  helper is there.  libbpf cannot probe helpers of tracing, extension, LSM and struct_ops programs.

Program and map types are probed without a verifier log, except where libbpf reads the log (tracing, LSM,
extension).  Helper probes load with a 4096-byte log from the start, as libbpf's do: nearly every such load
fails, so one logged load costs fewer system calls than a load without a log followed by a logged one, and
the log of a two-instruction program is a few lines.  Every descriptor is closed before the next probe.

`bpftool feature probe` leaves bpf_trace_printk, bpf_trace_vprintk and bpf_probe_write_user out unless asked
for `full`, since probing them can make the kernel write a warning to its log (bpf_probe_write_user does
wherever it is allowed): leave them out of ``helpers`` for the same.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import re
import resource
import time
from dataclasses import dataclass, field, replace

from collectors.live import enums, structs
from kb.vocab.errors import KbgenError

PROG_PREFIX = "BPF_PROG_TYPE_"
MAP_PREFIX = "BPF_MAP_TYPE_"


class BpfUnavailableError(KbgenError):
    """bpf() cannot be used here: not permitted (no root, no CAP_BPF, seccomp) or not built in."""


# --- Results ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One program or map type: ``supported`` is None when the probe could not tell, and ``how`` says why."""

    name: str
    value: int
    supported: bool | None
    how: str
    errno: int = 0  # the errno of the load or create that decided, 0 when it succeeded or never ran


@dataclass(frozen=True)
class HelperSupport:
    """The helpers one program type (that loads) was probed with, by helper id."""

    prog_type: str
    value: int
    accepted: frozenset[int]
    refused: frozenset[int]
    undecided: dict[int, str] = field(default_factory=dict)  # helper id -> why the probe could not tell


@dataclass(frozen=True)
class Timing:
    total_s: float
    prog_types_s: float
    map_types_s: float
    helpers_s: float
    syscalls: int  # bpf() calls made, retries and verifier-log reloads included
    helper_pairs: int  # (program type, helper) pairs probed
    deadline_s: float
    deadline_hit: bool  # some probes were left undecided because the deadline passed


@dataclass(frozen=True)
class LiveProbe:
    kernel_release: str
    machine: str
    prog_types: dict[str, Verdict]  # by the caller's names, aliases included
    map_types: dict[str, Verdict]
    helpers: dict[str, HelperSupport]  # by program type name, for each program type that loads
    helper_names: dict[int, str]  # the caller's names of the helper ids probed
    timing: Timing

    def undecided(self) -> dict[str, str]:
        """Every program and map type the probe could not tell, with the reason."""
        return {
            name: v.how
            for name, v in (self.prog_types | self.map_types).items()
            if v.supported is None
        }


# --- The system call -------------------------------------------------------------------------------------

_syscall = None


def syscall_number(machine: str | None = None) -> int | None:
    """The bpf() syscall number of this machine's architecture, or None if it is not known."""
    machine = machine or os.uname().machine
    if machine.startswith("mips"):
        if ctypes.sizeof(ctypes.c_void_p) == 8:
            return enums.MIPS_N64
        return enums.MIPS_O32
    return enums.SYSCALL_NR.get(machine)


def sys_bpf(cmd: int, attr: ctypes.Structure) -> tuple[int, int]:
    """One bpf() call: ``(result, errno)``, result -1 and errno set when it failed.

    A descriptor is moved above 2, as libbpf does, so that no probe hands bpf() fd 0 (which an attr field
    reads as "none") should the standard descriptors be closed.
    """
    global _syscall
    if _syscall is None:
        fn = ctypes.CDLL(None, use_errno=True).syscall
        fn.restype = ctypes.c_long
        _syscall = fn
    nr = syscall_number()
    if nr is None:
        return -1, errno.ENOSYS
    ctypes.set_errno(0)
    size = structs.attr_size(type(attr))
    result = _syscall(ctypes.c_long(nr), ctypes.c_long(cmd), ctypes.c_void_p(ctypes.addressof(attr)),
                      ctypes.c_long(size))
    if result < 0:
        return -1, ctypes.get_errno()
    if cmd in (enums.BPF_PROG_LOAD, enums.BPF_MAP_CREATE, enums.BPF_BTF_LOAD) and result < 3:
        moved = fcntl.fcntl(result, fcntl.F_DUPFD_CLOEXEC, 3)
        os.close(result)
        result = moved
    return result, 0


def _describe(err: int) -> str:
    name = enums.errno_name(err)
    text = "Operation not supported" if err == enums.ENOTSUPP else os.strerror(err)
    return f"{name} ({text})"


_GPL = ctypes.create_string_buffer(b"GPL")
_MINIMAL = structs.mov64_imm(enums.BPF_REG_0, 0) + structs.exit_insn()


def _effective_capabilities() -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        return None
    return None


def check_permitted() -> None:
    """Raise BpfUnavailableError (one line) unless this process may load programs of every type.

    One load of ``r0 = 0; exit`` as a socket filter tells whether bpf() exists (ENOSYS) and is allowed
    (EPERM/EACCES: no privilege, or a seccomp filter); then the effective capabilities must include
    CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON and CAP_NET_ADMIN, without which most program types would
    be refused and look unsupported.
    """
    if syscall_number() is None:
        raise BpfUnavailableError(
            f"bpf() is not available here: no bpf() syscall number is known for machine {os.uname().machine!r}"
        )
    loader = _Loader()
    fd, err, _log = loader.load(1, _MINIMAL, _LoadPlan(), with_log=False)  # BPF_PROG_TYPE_SOCKET_FILTER
    if fd >= 0:
        os.close(fd)
    elif err in enums.PERMISSION_ERRNOS:
        raise BpfUnavailableError(
            f"bpf() is not permitted here (needs root or CAP_BPF): BPF_PROG_LOAD failed with {_describe(err)}"
        )
    elif err == errno.ENOSYS:
        raise BpfUnavailableError(
            f"bpf() is not available here: {_describe(err)}; the kernel was built without CONFIG_BPF_SYSCALL"
            " or a seccomp filter hides it"
        )
    else:
        raise BpfUnavailableError(
            f"bpf() does not work here: loading the smallest socket filter failed with {_describe(err)}"
        )
    caps = _effective_capabilities()
    if caps is not None:
        has = {cap: bool(caps >> cap & 1) for cap in (enums.CAP_SYS_ADMIN, enums.CAP_BPF, enums.CAP_PERFMON,
                                                       enums.CAP_NET_ADMIN)}
        if not has[enums.CAP_SYS_ADMIN] and not (has[enums.CAP_BPF] and has[enums.CAP_PERFMON]
                                                and has[enums.CAP_NET_ADMIN]):
            raise BpfUnavailableError(
                "bpf() is not permitted here (needs root or CAP_BPF): this process lacks CAP_SYS_ADMIN, and"
                " CAP_BPF with CAP_PERFMON and CAP_NET_ADMIN, so most program types would be refused"
            )


# --- Loading programs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _LoadPlan:
    """How libbpf loads a probe program of one type."""

    expected_attach_type: int = 0
    attach_btf_id: int = 0
    kern_version: int = 0
    prog_flags: int = 0
    expect_errno: int = 0  # the type exists when the load fails with this errno ...
    expect_message: str = ""  # ... and the verifier log says this


_BTF_TARGET = "needs the BTF id of a kernel function"
# Program types whose helpers libbpf does not probe (libbpf_probe_bpf_helper() returns -EOPNOTSUPP).
_NO_HELPER_PROBE = {
    "TRACING": f"libbpf cannot probe helpers of tracing programs: a load {_BTF_TARGET} to attach to",
    "LSM": f"libbpf cannot probe helpers of LSM programs: a load {_BTF_TARGET} (an LSM hook)",
    "EXT": "libbpf cannot probe helpers of extension programs: a load needs a BPF program to extend",
    "STRUCT_OPS": "libbpf cannot probe helpers of struct_ops programs: a load needs a kernel struct_ops type",
}
# Program types libbpf loads with no special option.
_PLAIN_PROG_TYPES = {
    "UNSPEC", "SOCKET_FILTER", "SCHED_CLS", "SCHED_ACT", "TRACEPOINT", "XDP", "PERF_EVENT", "CGROUP_SKB",
    "CGROUP_SOCK", "LWT_IN", "LWT_OUT", "LWT_XMIT", "SOCK_OPS", "SK_SKB", "CGROUP_DEVICE", "SK_MSG",
    "RAW_TRACEPOINT", "RAW_TRACEPOINT_WRITABLE", "LWT_SEG6LOCAL", "SK_REUSEPORT", "FLOW_DISSECTOR",
    "CGROUP_SYSCTL",
}


def version_code(release: str, version: str = "", signature: str = "") -> int:
    """LINUX_VERSION_CODE from `uname -r`, `uname -v` and Ubuntu's /proc/version_signature, as libbpf reads
    them: Ubuntu's signature ("Ubuntu 5.4.0-12.15-generic 5.4.8") and Debian's `uname -v` ("... Debian
    4.19.260-1 ...") carry the upstream version where the release does not.  The sublevel is capped at 255,
    as KERNEL_VERSION() caps it; 0 when nothing parses.
    """
    def code(major: str, minor: str, patch: str) -> int:
        return int(major) << 16 | int(minor) << 8 | min(int(patch), 255)

    words = signature.split()
    if len(words) >= 3 and (m := re.match(r"(\d+)\.(\d+)\.(\d+)", words[2])):
        return code(*m.groups())
    if m := re.search(r"Debian (\d+)\.(\d+)\.(\d+)", version):
        return code(*m.groups())
    if m := re.match(r"(\d+)\.(\d+)\.(\d+)", release):
        return code(*m.groups())
    return 0


def kernel_version_code() -> int:
    """LINUX_VERSION_CODE of the running kernel, which libbpf gives kprobe programs (kernels before 5.0
    refuse a kprobe program whose kern_version is not theirs)."""
    signature = ""
    with contextlib.suppress(OSError, UnicodeDecodeError), open("/proc/version_signature") as handle:
        signature = handle.read()
    uname = os.uname()
    return version_code(uname.release, uname.version, signature)


def prog_load_plan(short_name: str) -> _LoadPlan | None:
    """libbpf's load options for probing a program type (short name, e.g. ``XDP``); None: no recipe."""
    match short_name:
        case "CGROUP_SOCK_ADDR":
            return _LoadPlan(expected_attach_type=enums.BPF_CGROUP_INET4_CONNECT)
        case "CGROUP_SOCKOPT":
            return _LoadPlan(expected_attach_type=enums.BPF_CGROUP_GETSOCKOPT)
        case "SK_LOOKUP":
            return _LoadPlan(expected_attach_type=enums.BPF_SK_LOOKUP)
        case "KPROBE":
            return _LoadPlan(kern_version=kernel_version_code())
        case "LIRC_MODE2":
            return _LoadPlan(expected_attach_type=enums.BPF_LIRC_MODE2)
        case "TRACING":
            return _LoadPlan(expected_attach_type=enums.BPF_TRACE_FENTRY, attach_btf_id=1,
                             expect_errno=errno.EINVAL, expect_message=enums.MSG_NOT_A_FUNCTION)
        case "LSM":
            return _LoadPlan(expected_attach_type=enums.BPF_MODIFY_RETURN, attach_btf_id=1,
                             expect_errno=errno.EINVAL, expect_message=enums.MSG_NOT_A_FUNCTION)
        case "EXT":
            return _LoadPlan(attach_btf_id=1, expect_errno=errno.EINVAL,
                             expect_message=enums.MSG_CANNOT_REPLACE)
        case "SYSCALL":
            return _LoadPlan(prog_flags=enums.BPF_F_SLEEPABLE)
        case "STRUCT_OPS":
            return _LoadPlan(expect_errno=enums.ENOTSUPP)
        case "NETFILTER":
            return _LoadPlan(expected_attach_type=enums.BPF_NETFILTER)
        case _ if short_name in _PLAIN_PROG_TYPES:
            return _LoadPlan()
    return None


class _Loader:
    """Loads probe programs and creates probe maps, counting bpf() calls."""

    def __init__(self) -> None:
        self.calls = 0
        self._log = ctypes.create_string_buffer(enums.LOG_SIZE)

    def _call(self, cmd: int, attr: ctypes.Structure) -> tuple[int, int]:
        self.calls += 1
        return sys_bpf(cmd, attr)

    def load(self, prog_type: int, insns: bytes, plan: _LoadPlan, *, with_log: bool) -> tuple[int, int, str]:
        """``(fd, errno, verifier log)``; fd is -1 when the load failed.  The caller closes the fd."""
        code = ctypes.create_string_buffer(insns, len(insns))
        attr = structs.ProgLoadAttr(
            prog_type=prog_type,
            insn_cnt=len(insns) // structs.INSN.size,
            insns=ctypes.addressof(code),
            license=ctypes.addressof(_GPL),
            kern_version=plan.kern_version,
            prog_flags=plan.prog_flags,
            expected_attach_type=plan.expected_attach_type,
            attach_btf_id=plan.attach_btf_id,
        )
        if with_log:
            self._log[0] = b"\0"
            attr.log_level, attr.log_size, attr.log_buf = 1, enums.LOG_SIZE, ctypes.addressof(self._log)
        for _attempt in range(enums.PROG_LOAD_ATTEMPTS):
            fd, err = self._call(enums.BPF_PROG_LOAD, attr)
            if fd >= 0 or err != errno.EAGAIN:
                break
        log = self._log.value.decode("utf-8", "replace") if with_log else ""
        return fd, err, log

    def create_map(self, attr: structs.MapCreateAttr) -> tuple[int, int]:
        return self._call(enums.BPF_MAP_CREATE, attr)

    def load_btf(self, blob: bytes) -> tuple[int, int]:
        data = ctypes.create_string_buffer(blob, len(blob))
        return self._call(enums.BPF_BTF_LOAD, structs.BtfLoadAttr(btf=ctypes.addressof(data), btf_size=len(blob)))


def _no_recipe(kind: str, short_name: str) -> str:
    if short_name == "UNSPEC":
        return f"libbpf does not probe {kind} type UNSPEC: 0 is the placeholder for no {kind} type"
    return f"libbpf has no recipe for probing {kind} type {short_name}: it does not know the type"


def _last_line(log: str) -> str:
    lines = [line for line in log.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def probe_prog_type(loader: _Loader, short_name: str, value: int) -> tuple[bool | None, str, int]:
    """``(supported, how, errno)`` for one program type, as libbpf_probe_bpf_prog_type() decides."""
    plan = prog_load_plan(short_name)
    if plan is None:
        return None, _no_recipe("program", short_name), 0
    fd, err, log = loader.load(value, _MINIMAL, plan, with_log=bool(plan.expect_message))
    if fd >= 0:
        os.close(fd)
    expected = plan.expect_errno
    if not expected:
        return (True, "loaded", 0) if fd >= 0 else (False, f"load failed with {_describe(err)}", err)
    if fd >= 0:
        return False, f"loaded, where a type that exists fails with {enums.errno_name(expected)}", 0
    if err != expected:
        return False, f"load failed with {_describe(err)}, not {enums.errno_name(expected)}", err
    if plan.expect_message and plan.expect_message not in log:
        return False, (f"load failed with {enums.errno_name(err)} but the verifier did not say"
                       f" {plan.expect_message!r} (it said {_last_line(log)!r})"), err
    said = f" and the verifier said {plan.expect_message!r}" if plan.expect_message else ""
    return True, f"load failed with {enums.errno_name(err)}{said}, as for a type that exists", err


def probe_helper(loader: _Loader, prog_type: int, plan: _LoadPlan, helper_id: int) -> bool:
    """True when the program type may call the helper, as libbpf_probe_bpf_helper() decides."""
    insns = structs.call_helper(helper_id) + structs.exit_insn()
    fd, _err, log = loader.load(prog_type, insns, plan, with_log=True)
    if fd < 0:
        return not any(message in log for message in enums.HELPER_REFUSED_MESSAGES)
    os.close(fd)
    return True


# --- Creating maps ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _MapPlan:
    """How libbpf creates a probe map of one type."""

    key_size: int = 4
    value_size: int = 4
    max_entries: int = 1
    map_flags: int = 0
    map_extra: int = 0
    local_storage_btf: bool = False  # load the small BTF below; key type id 1, value type id 3
    inner_map: bool = False  # a map-in-map: a one-entry hash map as the inner map
    btf_vmlinux_value_type_id: int = 0
    value_type_btf_obj_fd: int = 0
    expect_errno: int = 0  # the type exists when the create fails with this errno


_PLAIN_MAP_TYPES = {
    "HASH", "ARRAY", "PROG_ARRAY", "PERF_EVENT_ARRAY", "PERCPU_HASH", "PERCPU_ARRAY", "CGROUP_ARRAY", "LRU_HASH",
    "LRU_PERCPU_HASH", "DEVMAP", "DEVMAP_HASH", "SOCKMAP", "CPUMAP", "XSKMAP", "SOCKHASH", "REUSEPORT_SOCKARRAY",
}


def map_create_plan(short_name: str) -> _MapPlan | None:
    """libbpf's attributes for probing a map type (short name, e.g. ``HASH``); None: no recipe."""
    match short_name:
        case "STACK_TRACE":
            return _MapPlan(value_size=8)
        case "LPM_TRIE":
            return _MapPlan(key_size=8, value_size=8, map_flags=enums.BPF_F_NO_PREALLOC)
        case "RHASH":
            return _MapPlan(map_flags=enums.BPF_F_NO_PREALLOC)
        case "CGROUP_STORAGE" | "PERCPU_CGROUP_STORAGE" | "CGROUP_STORAGE_DEPRECATED" \
                | "PERCPU_CGROUP_STORAGE_DEPRECATED":
            return _MapPlan(key_size=ctypes.sizeof(structs.CgroupStorageKey), value_size=8, max_entries=0)
        case "QUEUE" | "STACK":
            return _MapPlan(key_size=0)
        case "SK_STORAGE" | "INODE_STORAGE" | "TASK_STORAGE" | "CGRP_STORAGE":
            return _MapPlan(value_size=8, max_entries=0, map_flags=enums.BPF_F_NO_PREALLOC, local_storage_btf=True)
        case "RINGBUF" | "USER_RINGBUF":
            return _MapPlan(key_size=0, value_size=0, max_entries=os.sysconf("SC_PAGE_SIZE"))
        case "STRUCT_OPS":
            # Type id 1 of vmlinux is no struct_ops value type: a kernel with struct_ops maps says ENOTSUPP.
            return _MapPlan(btf_vmlinux_value_type_id=1, value_type_btf_obj_fd=-1, expect_errno=enums.ENOTSUPP)
        case "BLOOM_FILTER":
            return _MapPlan(key_size=0)
        case "ARENA":
            return _MapPlan(key_size=0, value_size=0, max_entries=1, map_flags=enums.BPF_F_MMAPABLE, map_extra=0)
        case "ARRAY_OF_MAPS" | "HASH_OF_MAPS":
            return _MapPlan(inner_map=True)
        case "INSN_ARRAY":
            return _MapPlan(value_size=ctypes.sizeof(structs.InsnArrayValue))
        case _ if short_name in _PLAIN_MAP_TYPES:
            return _MapPlan()
    return None


def local_storage_btf() -> bytes:
    """BTF for local-storage maps: [1] int, [2] struct bpf_spin_lock { int val; },
    [3] struct val { int cnt; struct bpf_spin_lock l; } (the value type; the key type is the int)."""
    names = [b"", b"bpf_spin_lock", b"val", b"cnt", b"l"]
    offsets, at = {}, 0
    for name in names:
        offsets[name] = at
        at += len(name) + 1
    strings = b"\0".join(names) + b"\0"
    types = (
        structs.btf_int(0, 4, 32, enums.BTF_INT_SIGNED)
        + structs.btf_struct(offsets[b"bpf_spin_lock"], 4, [(offsets[b"val"], 1, 0)])
        + structs.btf_struct(offsets[b"val"], 8, [(offsets[b"cnt"], 1, 0), (offsets[b"l"], 2, 32)])
    )
    return structs.btf_blob(types, strings)


def probe_map_type(loader: _Loader, short_name: str, value: int) -> tuple[bool | None, str, int]:
    """``(supported, how, errno)`` for one map type, as libbpf_probe_bpf_map_type() decides."""
    plan = map_create_plan(short_name)
    if plan is None:
        return None, _no_recipe("map", short_name), 0
    attr = structs.MapCreateAttr(
        map_type=value, key_size=plan.key_size, value_size=plan.value_size, max_entries=plan.max_entries,
        map_flags=plan.map_flags, map_extra=plan.map_extra,
        btf_vmlinux_value_type_id=plan.btf_vmlinux_value_type_id,
        value_type_btf_obj_fd=plan.value_type_btf_obj_fd,
    )
    opened: list[int] = []
    try:
        if plan.local_storage_btf:
            btf_fd, err = loader.load_btf(local_storage_btf())
            if btf_fd < 0:
                return None, f"BPF_BTF_LOAD of the BTF this map type needs failed with {_describe(err)}", err
            opened.append(btf_fd)
            attr.btf_fd, attr.btf_key_type_id, attr.btf_value_type_id = btf_fd, 1, 3
        if plan.inner_map:
            inner = structs.MapCreateAttr(map_type=1, key_size=4, value_size=4, max_entries=1)  # a hash map
            inner_fd, err = loader.create_map(inner)
            if inner_fd < 0:
                return False, f"creating the inner hash map failed with {_describe(err)}", err
            opened.append(inner_fd)
            attr.inner_map_fd = inner_fd
        fd, err = loader.create_map(attr)
        if fd >= 0:
            opened.append(fd)
    finally:
        for each in reversed(opened):
            os.close(each)
    expected = plan.expect_errno
    if not expected:
        return (True, "created", 0) if fd >= 0 else (False, f"create failed with {_describe(err)}", err)
    if fd >= 0:
        return False, f"created, where a type that exists fails with {enums.errno_name(expected)}", 0
    if err != expected:
        return False, f"create failed with {_describe(err)}, not {enums.errno_name(expected)}", err
    return True, f"create failed with {enums.errno_name(err)}, as for a type that exists", err


# --- The whole probe -------------------------------------------------------------------------------------


def short_name(name: str, prefix: str) -> str:
    """``BPF_PROG_TYPE_XDP``, ``xdp`` -> ``XDP``."""
    upper = name.upper()
    return upper.removeprefix(prefix)


@contextlib.contextmanager
def _memlock_for_old_kernels(loader: _Loader):
    """Before 5.11 BPF memory counted against RLIMIT_MEMLOCK: lift it for the probe, as libbpf does.

    libbpf tells the two kinds of kernel apart by whether a socket filter may call
    bpf_ktime_get_coarse_ns(), which arrived in the same release; the limit is put back afterwards.
    """
    insns = structs.call_helper(enums.BPF_FUNC_KTIME_GET_COARSE_NS) + structs.exit_insn()
    fd, _err, _log = loader.load(1, insns, _LoadPlan(), with_log=False)
    if fd >= 0:
        os.close(fd)
        yield
        return
    saved = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    try:
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_MEMLOCK, (saved[1], saved[1]))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_MEMLOCK, saved)


def _by_value(names: dict[str, int]) -> dict[int, list[str]]:
    """Values in ascending order, each with every name the caller gave it (aliases are probed once)."""
    grouped: dict[int, list[str]] = {}
    for name, value in sorted(names.items(), key=lambda item: (item[1], item[0])):
        grouped.setdefault(value, []).append(name)
    return grouped


def probe_live(
    prog_types: dict[str, int],
    map_types: dict[str, int],
    helpers: dict[str, int],
    *,
    deadline_s: float = 50.0,
) -> LiveProbe:
    """Probe the running kernel for the given program types, map types and helper ids.

    Names may be full enumerators (``BPF_PROG_TYPE_XDP``, ``BPF_MAP_TYPE_HASH``, ``BPF_FUNC_map_lookup_elem``)
    or short (``XDP``, ``hash``, ``map_lookup_elem``); program and map types are told apart by name, since
    libbpf probes some of them specially.  Helpers are probed in every program type that loads, within
    ``deadline_s`` seconds from the start: whatever is left when it passes is reported undecided.

    Raises BpfUnavailableError, before probing anything, when bpf() may not be used here.
    """
    check_permitted()
    start = time.monotonic()
    deadline = start + deadline_s
    late = f"not probed: the deadline of {deadline_s:g} s had passed"
    deadline_hit = False
    loader = _Loader()
    recipe: dict[int, str] = {}  # program type value -> the short name its probe went by

    def expired() -> bool:
        nonlocal deadline_hit
        deadline_hit = deadline_hit or time.monotonic() >= deadline
        return deadline_hit

    def verdicts(names: dict[str, int], prefix: str, plan_of, probe) -> dict[str, Verdict]:
        found: dict[str, Verdict] = {}
        for value, aliases in _by_value(names).items():
            shorts = [short_name(name, prefix) for name in aliases]
            # Aliases share a value: probe it once, by the first name libbpf has a recipe for.
            chosen = next((s for s in shorts if plan_of(s) is not None), shorts[0])
            if prefix == PROG_PREFIX:
                recipe[value] = chosen
            supported, how, err = (None, late, 0) if expired() else probe(loader, chosen, value)
            for name in aliases:
                found[name] = Verdict(name, value, supported, how, err)
        return found

    with _memlock_for_old_kernels(loader):
        progs = verdicts(prog_types, PROG_PREFIX, prog_load_plan, probe_prog_type)
        progs_done = time.monotonic()
        maps = verdicts(map_types, MAP_PREFIX, map_create_plan, probe_map_type)
        maps_done = time.monotonic()

        helper_ids = list(_by_value(helpers))
        by_value: dict[int, HelperSupport] = {}
        pairs = 0
        for verdict in progs.values():
            if not verdict.supported or verdict.value in by_value:
                continue
            short = recipe[verdict.value]
            accepted, refused, undecided = set(), set(), {}
            if short in _NO_HELPER_PROBE:
                undecided = dict.fromkeys(helper_ids, _NO_HELPER_PROBE[short])
            else:
                plan = prog_load_plan(short)
                for helper_id in helper_ids:
                    if expired():
                        undecided[helper_id] = late
                        continue
                    pairs += 1
                    (accepted if probe_helper(loader, verdict.value, plan, helper_id) else refused).add(helper_id)
            by_value[verdict.value] = HelperSupport(
                verdict.name, verdict.value, frozenset(accepted), frozenset(refused), undecided
            )
        end = time.monotonic()

    support = {
        name: replace(by_value[v.value], prog_type=name) for name, v in progs.items() if v.value in by_value
    }
    timing = Timing(
        total_s=end - start, prog_types_s=progs_done - start, map_types_s=maps_done - progs_done,
        helpers_s=end - maps_done, syscalls=loader.calls, helper_pairs=pairs, deadline_s=deadline_s,
        deadline_hit=deadline_hit,
    )
    names = {value: aliases[0] for value, aliases in _by_value(helpers).items()}
    uname = os.uname()
    return LiveProbe(uname.release, uname.machine, progs, maps, support, names, timing)
