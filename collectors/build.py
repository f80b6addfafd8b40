"""A kernel build as a tree of its own: exactly what its BTF declares, and what a live probe accepts.

Two collectors: :class:`BuildBTFCollector` reads the build's BTF from whatever file it comes as (raw BTF
such as /sys/kernel/btf/vmlinux, an ELF vmlinux, a vmlinuz/bzImage, a BTFHub .btf.tar.xz) and records every
helper id, enumerator and tagged kfunc (with its prototype); :class:`LiveProbeCollector` test-loads minimal
programs through bpf() on the running kernel and records which helpers each program type accepts.  A build
tree has one release, the build itself: consumers judge by it with no version arithmetic.
"""

from __future__ import annotations

import hashlib
import os

from kb.vocab import rules
from kb.vocab.errors import KbgenError
from kb.vocab.facts import CALLABLE_FROM, PROBED, Facts, Item, ItemName, Relation, Release, Source, Window
from kb.vocab.kinds import ENUM_KINDS, HELPER, KFUNC, MAP_TYPE, PROG_TYPE, TREE_BUILD
from kb.vocab.releases import BUILD_SCHEME
from kb.vocab.versions import Version, VersionError

RUNNING_KERNEL_BTF = "/sys/kernel/btf/vmlinux"
PARSER_VERSION = "1"
MODULES_NOT_READ = "probed without its modules"
UNTAGGED_KFUNCS = ("this build does not tag its kfuncs (no bpf_kfunc declaration tags in its BTF: kernels before "
                   "6.2-6.4 or pahole before 1.25), so which kfuncs it has is not known")


class BuildError(KbgenError):
    pass


def running_release() -> str:
    return os.uname().release


def _in_use_first(names: list[str]) -> list[str]:
    """Enum order, except that a ``*_DEPRECATED`` spelling (6.2 put BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED first
    and made the original its alias) goes after the names programs use."""
    return sorted(names, key=lambda n: n.endswith("_DEPRECATED"))


def _release_facts(release: str) -> Release:
    try:
        base = str(Version.parse(release).base)
    except VersionError:
        raise BuildError(f"--release {release!r} is not a kernel release string (e.g. 6.1.0-13-amd64)") from None
    return Release(release, rules.key_text(rules.kernel_key(release, exact=True)), base)


class BuildBTFCollector:
    name = "btf"
    reads = "a kernel build's BTF: /sys/kernel/btf/vmlinux, an ELF vmlinux, a vmlinuz/bzImage, a .btf.tar.xz"

    def __init__(self, path: str = RUNNING_KERNEL_BTF, *, tree: str | None = None, release: str | None = None,
                 labels: dict[str, str] | None = None, modules: tuple[str, ...] = ()):
        if not os.path.exists(path):
            raise BuildError(f"{path}: no such file")
        if not os.path.isfile(path):
            raise BuildError(f"{path}: not a regular file (expected BTF, a vmlinux, a vmlinuz or a .btf.tar.xz)")
        self.path = path
        self._given_release = release
        self._kernel = None
        self._digest = None
        self._tree = tree
        self.labels = dict(labels or {})  # distribution, distribution_version, arch, package...: where it comes from
        self.modules = tuple(modules)  # the build's module files (.ko, .ko.xz, .ko.zst), where its package has them

    @property
    def tree(self) -> str:
        return self._tree or self.release

    @property
    def source_id(self) -> str:
        """Named by the build's content, not the file's place: the same image probed from elsewhere is the same
        source, another image of the same release is another one."""
        return f"btf:{self.release}@sha256:{self.digest()[:16]}"

    def digest(self) -> str:
        """The SHA-256 of the file's content (the running kernel's BTF too: it is a file)."""
        if self._digest is None:
            digest = hashlib.sha256()
            try:
                with open(self.path, "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
            except OSError as err:
                raise BuildError(f"{self.path}: {err.strerror}") from None
            self._digest = digest.hexdigest()
        return self._digest

    @property
    def kernel(self):
        if self._kernel is None:
            from kb.formats.kimage import read_kernel_btf

            self._kernel = read_kernel_btf(self.path)
        return self._kernel

    @property
    def release(self) -> str:
        """--release, else the image's own version string, else ``uname -r`` for the running kernel's BTF."""
        if self._given_release:
            return self._given_release
        if os.path.abspath(self.path) == RUNNING_KERNEL_BTF:
            return running_release()
        if self.kernel.version:
            return self.kernel.version
        raise BuildError(f"{self.path}: states no kernel release ({self.kernel.container}); give one with --release")

    def fingerprint(self) -> str:
        """The build's content digest (with the parser's version and a --release given): a build probed before
        under this fingerprint has nothing new to say, wherever its file lies now."""
        digest = hashlib.sha256()
        for part in (PARSER_VERSION, self.digest(), self._given_release or ""):
            digest.update(part.encode() + b"\0")
        return digest.hexdigest()

    def collect(self, progress=None) -> Facts:
        fingerprint = self.fingerprint()
        kernel = self.kernel
        found = kernel.items()
        release = _release_facts(self.release)
        digest = hashlib.sha256(kernel.btf).hexdigest()[:16]
        facts = Facts(
            tree=self.tree, tree_kind=TREE_BUILD, collector=self.name, scheme=BUILD_SCHEME, fingerprint=fingerprint,
            source=Source(self.source_id, f"the BTF of the kernel build {release.version} ({kernel.container}, "
                          f"{os.path.abspath(self.path)})", path=os.path.abspath(self.path),
                          revision=f"sha256:{digest}"),
            releases=[release], labels=dict(self.labels),
        )
        facts.labels.update(image_sha256=self.digest(), container=kernel.container)
        if not self.labels.get("modules"):
            facts.labels["modules"] = MODULES_NOT_READ
        if self.modules:
            facts.warnings.append(f"{MODULES_NOT_READ}: {len(self.modules)} module files beside the image are not "
                                  "read, so what modules register (kfuncs of nf_conntrack, tcp_bbr...) is not listed")
        window = [Window(release.version)]
        for kind, members in found.by_kind().items():
            by_value: dict[int, list[str]] = {}  # in enum order, first names first
            for e in members.enumerators:
                by_value.setdefault(e.value, []).append(e.name)
            for value, names_of_value in by_value.items():
                spellings = _in_use_first(names_of_value)
                names = [ItemName(n, is_alias=position > 0) for position, n in enumerate(spellings)]
                facts.items.append(Item(kind, value, spellings[0], release.version, names=names,
                                        windows=list(window)))
        facts.covers = (HELPER, *ENUM_KINDS, *((KFUNC,) if found.kfuncs_tagged else ()))
        if found.kfuncs_tagged:
            for kfunc in found.kfuncs.values():
                facts.items.append(Item(KFUNC, kfunc.name, kfunc.name, release.version, names=[ItemName(kfunc.name)],
                                        windows=list(window), signature=kfunc.prototype))
        else:
            facts.warnings.append(UNTAGGED_KFUNCS)
        self.found = found
        return facts


class LiveProbeCollector:
    """The running kernel, probed through bpf(): which program types load, which map types can be created and
    which helpers each program type accepts, decided as libbpf's libbpf_probe_bpf_*() decide."""

    name = "live"
    reads = "the running kernel, through the bpf() system call (root or CAP_BPF)"

    def __init__(self, *, tree: str | None = None, release: str | None = None, names: dict | None = None):
        self.release = release or running_release()
        self.tree = tree or self.release
        self.names = names  # {kind: {name: value}} to probe; default: what the running kernel's BTF declares
        self.source_id = f"live:{os.uname().nodename}"

    def fingerprint(self) -> str:
        return hashlib.sha256(f"{PARSER_VERSION}\0{self.release}\0{os.uname().version}".encode()).hexdigest()

    def collect(self, progress=None) -> Facts:
        from collectors.live import probe_live

        if os.uname().release != self.release:
            raise BuildError(f"--live probes the running kernel ({os.uname().release}), not {self.release}")
        names = self.names or self._running_names()
        result = probe_live(names[PROG_TYPE], names[MAP_TYPE], names[HELPER])
        release = _release_facts(self.release)
        facts = Facts(
            tree=self.tree, tree_kind=TREE_BUILD, collector=self.name, scheme=BUILD_SCHEME,
            fingerprint=self.fingerprint(), qualifier=PROBED, releases=[release], covers=(PROG_TYPE, MAP_TYPE),
            source=Source(self.source_id, f"a live probe of the running kernel {self.release} on "
                          f"{os.uname().nodename} through bpf(), deciding as libbpf's probes do",
                          revision=self.release),
        )
        window = [Window(release.version)]
        for kind, verdicts in ((PROG_TYPE, result.prog_types), (MAP_TYPE, result.map_types)):
            for value in sorted({v.value for v in verdicts.values()}):
                spellings = _in_use_first([name for name, v in verdicts.items() if v.value == value])
                verdict = verdicts[spellings[0]]
                if verdict.supported:
                    facts.items.append(Item(kind, value, spellings[0], release.version, windows=list(window),
                                            names=[ItemName(n, is_alias=p > 0) for p, n in enumerate(spellings)]))
                elif verdict.supported is False and not verdict.name.endswith("_UNSPEC"):
                    facts.warnings.append(f"{verdict.name} is declared but does not load here ({verdict.how})")
        for support in {s.value: s for s in result.helpers.values()}.values():
            facts.relations += [Relation(HELPER, helper, CALLABLE_FROM, PROG_TYPE, support.value)
                                for helper in sorted(support.accepted)]
        self.result = result
        return facts

    @staticmethod
    def _running_names() -> dict:
        from kb.formats.kimage import read_kernel_btf

        if not os.path.exists(RUNNING_KERNEL_BTF):
            raise BuildError(f"{RUNNING_KERNEL_BTF}: not present, so the running kernel's enums are not known")
        found = read_kernel_btf(RUNNING_KERNEL_BTF).items()
        return {kind: {e.name: e.value for e in members.enumerators} for kind, members in found.by_kind().items()}
