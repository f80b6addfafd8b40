"""Numbers the live probe needs, as data: syscall numbers, bpf() commands, flags, attach types, opcodes.

Values are from the kernel's UAPI (include/uapi/linux/bpf.h, bpf_common.h, btf.h) and each architecture's
syscall table.  Program, map and helper enumerators are not here: the caller passes the ones it wants
probed (from the running kernel's BTF or a header), so a kernel newer than this file is still probed.
"""

from __future__ import annotations

import errno

# The bpf() syscall number by `os.uname().machine`.  64-bit MIPS has three ABIs: see syscall_number().
SYSCALL_NR = {
    "x86_64": 321,
    "amd64": 321,
    "i386": 357,
    "i486": 357,
    "i586": 357,
    "i686": 357,
    "aarch64": 280,
    "arm64": 280,
    "riscv64": 280,
    "riscv32": 280,
    "loongarch64": 280,
    "arc": 280,
    "armv5tel": 386,
    "armv6l": 386,
    "armv7l": 386,
    "armv8l": 386,
    "ppc": 361,
    "ppc64": 361,
    "ppc64le": 361,
    "s390x": 351,
    "s390": 351,
    "sparc": 349,
    "sparc64": 349,
}
MIPS_O32, MIPS_N32, MIPS_N64 = 4355, 6319, 5315

# enum bpf_cmd (the commands the probe uses).
BPF_MAP_CREATE = 0
BPF_PROG_LOAD = 5
BPF_BTF_LOAD = 18

# enum bpf_attach_type: the expected_attach_type libbpf's probes give some program types.
BPF_CGROUP_INET4_CONNECT = 10
BPF_LIRC_MODE2 = 16
BPF_CGROUP_GETSOCKOPT = 21
BPF_TRACE_FENTRY = 24
BPF_MODIFY_RETURN = 26
BPF_SK_LOOKUP = 36
BPF_NETFILTER = 45

# Flags.
BPF_F_SLEEPABLE = 1 << 4  # prog_flags
BPF_F_NO_PREALLOC = 1 << 0  # map_flags
BPF_F_MMAPABLE = 1 << 10  # map_flags

BPF_OBJ_NAME_LEN = 16

# Helper ids the probe itself calls.
BPF_FUNC_KTIME_GET_COARSE_NS = 160  # 5.11, the release that moved BPF memory to memcg accounting

# Instruction encoding (bpf_common.h): class | op | source.
BPF_JMP = 0x05
BPF_ALU64 = 0x07
BPF_K = 0x00
BPF_MOV = 0xB0
BPF_CALL = 0x80
BPF_EXIT = 0x90
OP_MOV64_IMM = BPF_ALU64 | BPF_MOV | BPF_K  # 0xb7
OP_CALL = BPF_JMP | BPF_CALL  # 0x85
OP_EXIT = BPF_JMP | BPF_EXIT  # 0x95
BPF_REG_0 = 0

# BTF (include/uapi/linux/btf.h).
BTF_MAGIC = 0xEB9F
BTF_VERSION = 1
BTF_INT_SIGNED = 1 << 0

# Errors.  ENOTSUPP (524) is kernel-internal: Python's errno module and strerror() do not know it.
ENOTSUPP = 524
ERRNO_NAMES = dict(errno.errorcode) | {ENOTSUPP: "ENOTSUPP"}
PERMISSION_ERRNOS = (errno.EPERM, errno.EACCES)

# Capabilities (include/uapi/linux/capability.h), as bits of /proc/self/status CapEff.
CAP_NET_ADMIN = 12
CAP_SYS_ADMIN = 21
CAP_PERFMON = 38
CAP_BPF = 39

# Verifier-log texts libbpf's helper probe reads as "this program type cannot call this helper":
#   "invalid func unknown#N"                            helper id unknown to the kernel (past its last id)
#   "unknown func bpf_x#N"                              the program type has no such helper (before 2024)
#   "program of this type cannot use helper bpf_x#N"    the same, as the verifier words it since 2024
HELPER_REFUSED_MESSAGES = ("invalid func ", "unknown func ", "program of this type cannot use helper ")

# Verifier-log texts libbpf expects when it probes program types that need a kernel BTF id to load.
MSG_NOT_A_FUNCTION = "attach_btf_id 1 is not a function"
MSG_CANNOT_REPLACE = "Cannot replace kernel functions"

# Size of the verifier log read on a failed load: libbpf's probes use 4096 bytes as well.
LOG_SIZE = 4096
# How many times a load that failed with EAGAIN is tried, as libbpf's loader does.
PROG_LOAD_ATTEMPTS = 5


def errno_name(code: int) -> str:
    return ERRNO_NAMES.get(code, f"errno {code}")
