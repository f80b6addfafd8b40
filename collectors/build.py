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
from kb.vocab.facts import CALLABLE_FROM, IN_MODULE, PROBED, Facts, Item, ItemName, Relation, Release, Source, Window
from kb.vocab.kinds import ENUM_KINDS, HELPER, KFUNC, MAP_TYPE, PROG_TYPE, TREE_BUILD
from kb.vocab.releases import BUILD_SCHEME
from kb.vocab.versions import Version, VersionError

RUNNING_KERNEL_BTF = "/sys/kernel/btf/vmlinux"
PARSER_VERSION = "2"  # 2: modules read (.BTF_ids first); a build probed before is read again
MODULES_NOT_READ = "probed without its modules"
UNTAGGED_KFUNCS = ("this build does not tag its kfuncs (no bpf_kfunc declaration tags in its BTF: kernels before "
                   "6.2-6.4 or pahole before 1.25), so which kfuncs it has is not known")


MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")
MAX_MODULE_SIZE = 256 << 20  # a module file, decompressed (the largest, amdgpu, is ~20 MiB)
MODULE_JOBS = min(4, os.cpu_count() or 1)  # processes reading one build's module files, one .ko at a time each
MODULE_CHUNK = 64  # module files a process reads per task: a few hundred ms of work against the hand-over
MODULE_WARNINGS = 10  # modules not read for one reason, each named; beyond that one line says how many


class BuildError(KbgenError):
    pass


def module_name(path: str) -> str:
    """nf_conntrack of .../nf_conntrack.ko.xz; a module's BTF under /sys/kernel/btf is named by the module."""
    name = os.path.basename(path)
    for suffix in MODULE_SUFFIXES[::-1]:
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


def module_files(root: str, release: str) -> tuple[str, ...]:
    """The module files of *release* under a package (or system) root: [usr/]lib/modules/<release>/**.ko[.xz...]."""
    found: list[str] = []
    for base in ("lib/modules", "usr/lib/modules"):
        top = os.path.join(root, base, release)
        for here, subdirectories, files in os.walk(top):
            subdirectories.sort()
            found += [os.path.join(here, f) for f in sorted(files) if f.endswith(MODULE_SUFFIXES)]
    return tuple(found)


def modules_beside(image: str) -> tuple[str, ...]:
    """The module files of the package root an image lies in: ``ROOT/boot/vmlinu[zx]-<release>`` or
    ``ROOT/[usr/]lib/modules/<release>/vmlinuz``, its modules under ``ROOT/[usr/]lib/modules/<release>/``
    (/boot/vmlinuz-$(uname -r) on a system finds /lib/modules/$(uname -r)/); none for an image lying elsewhere."""
    path = os.path.abspath(image)
    where, name = os.path.split(path)
    if os.path.basename(where) == "boot" and name.startswith(("vmlinuz-", "vmlinux-")):
        return module_files(os.path.dirname(where), name.split("-", 1)[1])
    modules, release = os.path.split(where)
    lib = os.path.dirname(modules)
    if name == "vmlinuz" and os.path.basename(modules) == "modules" and os.path.basename(lib) == "lib":
        root = os.path.dirname(lib)
        return module_files(os.path.dirname(root) if os.path.basename(root) == "usr" else root, release)
    return ()


def _live_modules() -> tuple[str, ...]:
    """The running kernel's loaded modules' BTF: every file of /sys/kernel/btf but vmlinux."""
    where = os.path.dirname(RUNNING_KERNEL_BTF)
    try:
        names = sorted(os.listdir(where))
    except OSError:
        return ()
    return tuple(os.path.join(where, n) for n in names if n != os.path.basename(RUNNING_KERNEL_BTF))


def read_module_btf(path: str, *, kfunc_sets_only: bool = False) -> bytes | None:
    """The split BTF of a module: its .ko[.xz|.zst] file's .BTF section, or raw BTF (/sys/kernel/btf/<module>).

    *kfunc_sets_only*: None for a module ELF without a ``.BTF_ids`` section, which registers no kfunc
    (kb.formats.btf.module says why), so that its BTF is not copied out, let alone parsed.
    """
    from kb.formats.btf.module import is_elf, read_module
    from kb.formats.kimage.codecs import codec_of, decompress
    from kb.formats.kimage.errors import FormatError

    with open(path, "rb") as handle:
        data = handle.read(MAX_MODULE_SIZE + 1)
    if len(data) > MAX_MODULE_SIZE:
        raise ValueError(f"larger than {MAX_MODULE_SIZE >> 20} MiB")
    codec = codec_of(data)
    if codec:
        try:
            data = decompress(codec, data, MAX_MODULE_SIZE)
        except FormatError as err:
            raise ValueError(f"{codec}: {err}") from None
    if not is_elf(data):
        return bytes(data)
    module = read_module(data, skip_without_kfunc_sets=kfunc_sets_only)
    return module.btf if module.kfunc_sets or not kfunc_sets_only else None


def _read_modules(paths: tuple[str, ...]) -> list[tuple[str, bytes | None, str | None]]:
    """(path, its BTF or None where it has no kfunc sets, None or why it did not read) of each module."""
    read = []
    for path in paths:
        try:
            read.append((path, read_module_btf(path, kfunc_sets_only=True), None))
        except (OSError, ValueError) as err:
            read.append((path, None, str(err).splitlines()[0] if str(err) else type(err).__name__))
    return read


def _modules_in_parallel(modules: tuple[str, ...]):
    """_read_modules over *modules*, in MODULE_JOBS processes when the probe runs in the main process (a bulk
    probe already reads its builds in parallel) and there are enough modules to pay for the processes."""
    import multiprocessing

    chunks = [modules[at : at + MODULE_CHUNK] for at in range(0, len(modules), MODULE_CHUNK)]
    if (MODULE_JOBS <= 1 or len(chunks) <= 1 or multiprocessing.parent_process() is not None
            or "fork" not in multiprocessing.get_all_start_methods()):
        for chunk in chunks:
            yield from _read_modules(chunk)
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(MODULE_JOBS, mp_context=multiprocessing.get_context("fork")) as pool:
        for done in pool.map(_read_modules, chunks):  # in order: the first module to name a kfunc keeps it
            yield from done


def _module_kfuncs(kernel, modules: tuple[str, ...], own: dict, warnings: list[str]) -> tuple[dict, int]:
    """{kfunc name: (module, kfunc)} of the tagged kfuncs the modules register that vmlinux does not, and how many
    modules were read; a module that does not read is a warning, not the build's failure."""
    from kb.formats.btf.kernel import build_items
    from kb.formats.btf.reader import BTFError, parse_btf

    if not modules:
        return {}, 0
    base = kernel.parse()
    found: dict = {}
    read = 0
    unread: dict[str, list[str]] = {}
    for path, btf, error in _modules_in_parallel(modules):
        if btf is not None:
            try:
                items = build_items(parse_btf(btf, base=base))
            except BTFError as err:
                error = str(err).splitlines()[0] if str(err) else type(err).__name__
            else:
                for name, kfunc in items.kfuncs.items():
                    if name not in own:
                        found.setdefault(name, (module_name(path), kfunc))
        if error:
            unread.setdefault(error, []).append(path)
        else:
            read += 1
    for error, paths in unread.items():
        if len(paths) <= MODULE_WARNINGS:
            warnings += [f"{path}: module not read: {error}" for path in paths]
        else:
            warnings.append(f"{len(paths)} of {len(modules)} module files not read: {error} "
                            f"({paths[0]}, {paths[1]}, ...)")
    return found, read


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
                 labels: dict[str, str] | None = None, modules: tuple[str, ...] | None = None):
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
        # The build's module files (.ko, .ko.xz, .ko.zst); None: those beside the image (modules_beside), or the
        # running kernel's loaded modules for its BTF.
        self.modules = None if modules is None else tuple(modules)

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
        if self._running():
            return running_release()
        if self.kernel.version:
            return self.kernel.version
        raise BuildError(f"{self.path}: states no kernel release ({self.kernel.container}); give one with --release")

    def _running(self) -> bool:
        return os.path.abspath(self.path) == RUNNING_KERNEL_BTF

    def module_files(self) -> tuple[str, ...]:
        if self.modules is None:
            self.modules = _live_modules() if self._running() else modules_beside(self.path)
        return self.modules

    def fingerprint(self) -> str:
        """The build's content digest (with the parser's version, a --release given and the module files read): a
        build probed before under this fingerprint has nothing new to say, wherever its file lies now."""
        digest = hashlib.sha256()
        for part in (PARSER_VERSION, self.digest(), self._given_release or "", *self._modules_seen()):
            digest.update(part.encode() + b"\0")
        return digest.hexdigest()

    def _modules_seen(self) -> list[str]:
        """Each module file's name and size: the build probed with its modules is not the one probed without (a
        stat of each, not a digest: a package's modules change with its image, which is digested)."""
        seen = []
        for path in self.module_files():
            try:
                seen.append(f"{module_name(path)}:{os.path.getsize(path)}")
            except OSError:
                seen.append(f"{module_name(path)}:-")
        return seen

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
        modules = self.module_files()
        # Read even where the build tags no kfunc: modules=yes then says its modules were looked at, not left out.
        in_modules, read = _module_kfuncs(kernel, modules, found.kfuncs, facts.warnings)
        if read:
            facts.labels["modules"] = "yes"
        elif not self.labels.get("modules"):
            facts.labels["modules"] = MODULES_NOT_READ
        if modules and not read:
            facts.warnings.append(f"{MODULES_NOT_READ}: {len(modules)} module files beside the image did not read, so "
                                  "what modules register (kfuncs of nf_conntrack, tcp_bbr...) is not listed")
        elif not modules and found.kfuncs_tagged and not self.labels.get("modules"):
            where = ("no module is loaded (no module BTF in /sys/kernel/btf)" if self._running() else
                     "no module files beside the image (probe the extracted package's root, or the image in its boot/)")
            facts.warnings.append(f"{MODULES_NOT_READ}: {where}, so the kfuncs modules register (nf_conntrack, "
                                  "tcp_bbr...) are not listed, and some that mainline has may be there")
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
            for (module, kfunc) in in_modules.values():
                facts.items.append(Item(KFUNC, kfunc.name, kfunc.name, release.version, names=[ItemName(kfunc.name)],
                                        windows=list(window), signature=kfunc.prototype,
                                        note=f"{IN_MODULE} {module}"))
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
