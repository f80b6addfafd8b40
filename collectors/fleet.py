"""Many kernel builds at once: find them in the files and directories given, and read them side by side.

What is found, and the labels each build gets (distribution, distribution_version, arch, package):

- a BTFHub archive checkout: ``<distro>/<version>/<arch>/<release>.btf.tar.xz``, labelled from its path;
- an extracted distribution package (``dpkg-deb -x``): ``boot/vmlinuz-<release>`` (or ``boot/vmlinux-<release>``,
  or sid's ``usr/lib/modules/<release>/vmlinuz``) with the modules under ``[usr/]lib/modules/<release>/``,
  labelled from its ``DEBIAN/control`` where present, else from the package's documentation directory and the path;
- any other directory: every image (``vmlinuz*``, ``vmlinux*``, ``bzImage*``, ``*.btf``, ``*.btf.tar.xz``) in it.

Reading is done in at most :data:`JOBS` processes: each build costs one CPU-bound decompression and BTF parse.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from collectors.build import BuildBTFCollector, BuildError, module_files, modules_beside
from kb.vocab.errors import KbgenError
from kb.vocab.facts import Facts, Item, ItemName, Source, Window

JOBS = 2  # processes reading builds at once: each holds a decompressed image (up to ~100 MB)
ARCHES = ("x86_64", "amd64", "arm64", "aarch64", "riscv64", "s390x", "ppc64le", "ppc64el", "i386", "i686", "armhf",
          "armel", "armv7hl", "loongarch64", "mips64el")
DEBIAN_SUITES = ("buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid", "experimental")
_IMAGE_NAME = re.compile(r"^(vmlinuz|vmlinux|bzImage|Image)([-.].*)?$|\.btf$|\.btf\.tar\.(xz|gz|zst|bz2)$")
_BTFHUB_SUFFIX = re.compile(r"\.btf\.tar\.(xz|gz|zst|bz2)$")
_DEB_ABI = re.compile(r"\+deb(\d+)")


@dataclass(frozen=True)
class FoundBuild:
    path: str  # the image or BTF file
    labels: dict[str, str] = field(default_factory=dict)
    modules: tuple[str, ...] = ()  # module files of the build, where its package has them
    release: str | None = None  # where the place names it and the image might not (an ELF without a banner)


def find(sources: list[str]) -> list[FoundBuild]:
    """Every build in *sources* (files and directories), in the order given, each file once."""
    found: list[FoundBuild] = []
    seen: set[str] = set()
    for source in sources:
        if not os.path.exists(source):
            raise BuildError(f"{source}: no such file or directory")
        for build in (_in_directory(source) if os.path.isdir(source) else [_file(source, None)]):
            real = os.path.realpath(build.path)
            if real not in seen:
                seen.add(real)
                found.append(build)
    return found


def _file(path: str, root: str | None) -> FoundBuild:
    return FoundBuild(path, _btfhub_labels(path, root), modules_beside(path))


def _btfhub_labels(path: str, root: str | None) -> dict[str, str]:
    """``<distro>/<version>/<arch>/<release>.btf.tar.xz``: the three directories above the archive."""
    if not _BTFHUB_SUFFIX.search(path):
        return {}
    parts = os.path.normpath(os.path.relpath(path, root) if root else os.path.abspath(path)).split(os.sep)
    if len(parts) < 4 or parts[-2] not in ARCHES:
        return {}
    return {"distribution": parts[-4], "distribution_version": parts[-3], "arch": parts[-2]}


def package_images(root: str) -> list[tuple[str, str]]:
    """(image, release) of an extracted kernel package root: boot/vmlinu[zx]-<release>, [usr/]lib/modules/<r>/vmlinuz."""
    images = []
    for pattern in ("boot/vmlinuz-*", "boot/vmlinux-*"):
        images += [(p, os.path.basename(p).split("-", 1)[1]) for p in sorted(glob.glob(os.path.join(root, pattern)))]
    for pattern in ("usr/lib/modules/*/vmlinuz", "lib/modules/*/vmlinuz"):
        images += [(p, os.path.basename(os.path.dirname(p))) for p in sorted(glob.glob(os.path.join(root, pattern)))]
    return [(p, release) for p, release in images if os.path.isfile(p)]


def _in_directory(directory: str) -> list[FoundBuild]:
    images = package_images(directory)
    if images:
        return [FoundBuild(path, package_labels(directory, release), module_files(directory, release))
                for path, release in images]
    found = []
    for here, subdirectories, files in os.walk(directory):
        subdirectories.sort()
        roots = [d for d in subdirectories if package_images(os.path.join(here, d))]
        for name in roots:
            found += _in_directory(os.path.join(here, name))
        subdirectories[:] = [d for d in subdirectories if d not in roots and not d.startswith(".")]
        found += [_file(os.path.join(here, name), directory) for name in sorted(files) if _IMAGE_NAME.search(name)]
    return found


def _control(root: str) -> dict[str, str]:
    """DEBIAN/control's fields (dpkg-deb -R or --control), where the root has one."""
    try:
        with open(os.path.join(root, "DEBIAN", "control"), encoding="utf-8", errors="replace") as handle:
            text = handle.read(1 << 16)
    except OSError:
        return {}
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines()
                                                  if line and not line[0].isspace())}


def package_labels(root: str, release: str) -> dict[str, str]:
    """A package root's labels: DEBIAN/control where present, else its documentation directory and its path."""
    labels: dict[str, str] = {}
    control = _control(root)
    if control:
        labels.update({"distribution": "debian", "package": control.get("Package", ""),
                       "package_version": control.get("Version", ""), "arch": control.get("Architecture", "")})
    else:
        docs = sorted(os.path.basename(p) for p in glob.glob(os.path.join(root, "usr/share/doc/linux-*")))
        package = next((d for d in docs if d.startswith(("linux-image-", "linux-binary-"))), None)
        if package:
            labels.update({"distribution": "debian", "package": package})
        tail = release.rsplit("-", 1)[-1]
        if tail in ARCHES:
            labels["arch"] = tail
    words = re.split(r"[-/_.]", os.path.abspath(root).lower())
    suite = next((w for w in words if w in DEBIAN_SUITES), None)
    abi = _DEB_ABI.search(release)
    if suite or abi:
        labels.setdefault("distribution", "debian")
        labels["distribution_version"] = suite or abi.group(1)
    return {k: v for k, v in labels.items() if v}


def collector(build: FoundBuild) -> BuildBTFCollector:
    return BuildBTFCollector(build.path, release=build.release, labels=build.labels, modules=build.modules)


@dataclass
class Outcome:
    build: FoundBuild
    facts: Facts | None = None
    error: str | None = None  # one line naming the file


def _read(build: FoundBuild) -> Outcome:
    try:
        return Outcome(build, collector(build).collect())
    except KbgenError as err:
        return Outcome(build, error=str(err))
    except MemoryError:
        return Outcome(build, error=f"{build.path}: out of memory reading it")


def read_all(builds: list[FoundBuild], jobs: int = JOBS) -> Iterator[Outcome]:
    """Each build's facts (or its one-line error), as they are read, in at most *jobs* processes."""
    import multiprocessing

    if jobs <= 1 or len(builds) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield from map(_read, builds)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(min(jobs, len(builds)), mp_context=multiprocessing.get_context("fork")) as pool:
        for future in as_completed([pool.submit(_read, build) for build in builds]):
            yield future.result()



MANIFEST_COLUMNS = ("package", "version", "architecture", "suite", "sha256", "path", "uname_r")


def read_manifest(path: str) -> list[FoundBuild]:
    """The builds a fleet manifest lists (a TSV: package, version, architecture, suite, sha256 of the .deb, the
    directory it was extracted into, uname_r), one per image package (linux-image-*, sid's linux-binary-*), with
    the package's provenance as labels and the modules package (sid's linux-modules-*) beside it."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = [line.rstrip("\n").split("\t") for line in handle if line.strip() and not line.startswith("#")]
    except OSError as err:
        raise BuildError(f"{path}: {err.strerror}") from None
    if not lines or tuple(lines[0]) != MANIFEST_COLUMNS:
        raise BuildError(f"{path}: expected the columns {', '.join(MANIFEST_COLUMNS)}")
    rows = []
    for number, cells in enumerate(lines[1:], 2):
        if len(cells) != len(MANIFEST_COLUMNS):
            raise BuildError(f"{path}: data row {number}: {len(cells)} columns, expected {len(MANIFEST_COLUMNS)}")
        rows.append(dict(zip(MANIFEST_COLUMNS, cells)))
    found = []
    for row in rows:
        if not row["package"].startswith(("linux-image-", "linux-binary-")):
            continue
        images = [p for p, release in package_images(row["path"]) if release == row["uname_r"]]
        if not images:
            raise BuildError(f"{path}: {row['package']}: no image of {row['uname_r']} under {row['path']}")
        modules = next((r for r in rows if r["package"] == f"linux-modules-{row['uname_r']}"
                        and r["version"] == row["version"]), None)
        labels = {"distribution": "debian", "distribution_version": row["suite"], "arch": row["architecture"],
                  "package": row["package"], "package_version": row["version"], "package_sha256": row["sha256"]}
        if modules:
            labels.update(modules_package=modules["package"], modules_package_sha256=modules["sha256"])
        found.append(FoundBuild(images[0], labels, module_files(row["path"], row["uname_r"])))
    return found


# -- dating mainline items by the builds: presence in a build of release R and absence from every build of an
# earlier release bound an item's arrival; removals seen in the newest builds close windows --------------------------

FLEET_SOURCE = Source("fleet:debian", "the BTF of real Debian builds (data/fleet/: bullseye, bookworm, "
                      "bookworm-backports, trixie, sid): which releases' builds have each item and which lack it")
TEST_ONLY = re.compile(r"^bpf_(fentry_test\d*|modify_return_test\w*|kfunc_call_test\w*|kfunc_call_memb_release)$")
TEST_ONLY_NOTE = "test-only: registered by net/bpf/test_run.c for BPF_PROG_RUN tests, in every tagged build"
_BOUNDS_NOTE = re.compile(r"bounds (\d+\.\d+)\.\.(\d+\.\d+)")
_AFTER_DATED = "after the releases the references date"


def _series(release: str) -> tuple[int, int]:
    major, minor = release.split(".")[:2]
    return int(major), int(minor)


def _text(key: tuple[int, int]) -> str:
    return f"{key[0]}.{key[1]}"


class Releases:
    """Mainline's releases, as far as the facts name them: which one follows which."""

    def __init__(self, names: set[str]):
        self.known = sorted({_series(n) for n in names})

    def after(self, key: tuple[int, int]) -> tuple[int, int]:
        return (key[0], key[1] + 1) if (key[0], key[1] + 1) in self.known else (key[0] + 1, 0)

    def before(self, key: tuple[int, int]) -> tuple[int, int] | None:
        earlier = [k for k in self.known if k < key]
        return earlier[-1] if earlier else None


def _seen(builds: list[Facts]) -> tuple[dict, dict, dict]:
    """(kind, value) -> releases whose builds have it; kind -> releases with a build giving that kind; names."""
    having: dict[tuple, set] = {}
    covering: dict[str, set] = {}
    names: dict[tuple, Item] = {}
    for build in builds:
        release = _series(build.releases[0].base)
        for kind in build.covers:
            covering.setdefault(kind, set()).add(release)
        for item in build.items:
            having.setdefault((item.kind, item.value), set()).add(release)
            names[(item.kind, item.value)] = item  # the newest build's spelling and prototype win (sorted oldest first)
    return having, covering, names


def _reference_bounds(item: Item | None, horizon: tuple[int, int], releases: Releases) -> tuple:
    """(after, by) the references give an item they do not date: "after the dated releases", or a libbpf sync's
    "bounds A..B"."""
    if item is None or item.first_release:
        return None, None
    bounds = _BOUNDS_NOTE.search(item.note or "")
    if bounds:
        return releases.before(_series(bounds.group(1))), _series(bounds.group(2))
    if _AFTER_DATED in (item.note or ""):
        return horizon, None
    return None, None


def date_by_builds(mainline: Facts, builds: list[Facts]) -> dict[str, int]:
    """Date, in *mainline*, every item the newest builds have: exact where the builds and the references agree on
    one release, else a bounded arrival (first_release_after, first_release_by; no first release, no window); add
    the items only builds know (test-only kfuncs noted so); close the windows of items the newest builds have
    all lost.  Returns counts of what was done."""
    if not builds:
        return {}
    having, covering, seen = _seen(builds)
    by_key = {(i.kind, i.value): i for i in mainline.items}
    dated = [_series(w) for i in mainline.items for w in (i.first_release, i.removed_in) if w]
    horizon = max(dated)
    releases = Releases({_text(k) for k in dated} | {b.releases[0].base for b in builds})
    newest = max(_series(b.releases[0].base) for b in builds)
    counts = {"exact": 0, "bounded": 0, "added": 0, "removed": 0}
    for key, present in sorted(having.items(), key=lambda entry: (entry[0][0], str(entry[0][1]))):
        kind = key[0]
        if newest not in present:
            continue
        item = by_key.get(key)
        if item is not None and item.first_release:
            continue
        first_seen = min(present)
        absent = [r for r in covering.get(kind, ()) if r < first_seen]
        after, by = max(absent) if absent else None, first_seen
        how = [f"Debian's builds have it from {_text(first_seen)}"
               + (f", their {_text(after)} builds lack it" if after else "")]
        ref_after, ref_by = _reference_bounds(item, horizon, releases)
        if ref_after and (after is None or ref_after > after):
            after = ref_after
            how.append(f"the references: after {_text(ref_after)}")
        if ref_by and ref_by < by:
            by = ref_by
            how.append(f"the references: by {_text(ref_by)}")
        if item is None:
            item = _new_item(seen[key])
            mainline.items.append(item)
            by_key[key] = item
            counts["added"] += 1
        _date(item, after, by, releases, counts, "; ".join(how))
    counts["removed"] = _close_windows(mainline, having, covering, newest, horizon, releases)
    if FLEET_SOURCE.id not in {s.id for s in mainline.other_sources}:
        mainline.other_sources.append(FLEET_SOURCE)
    return counts


def _new_item(seen: Item) -> Item:
    note = TEST_ONLY_NOTE if seen.kind == "kfunc" and TEST_ONLY.match(str(seen.value)) else None
    return Item(seen.kind, seen.value, seen.name, None, note=note, names=[ItemName(n.name, is_alias=n.is_alias)
                                                                          for n in seen.names],
                signature=seen.signature, source=FLEET_SOURCE.id)


def _date(item: Item, after, by, releases: Releases, counts: dict, how: str) -> None:
    if after is not None and releases.after(after) == by:
        item.first_release, item.windows = _text(by), [Window(_text(by))]
        item.first_release_after = item.first_release_by = None
        counts["exact"] += 1
        how = f"first release {_text(by)}: {how}"
    else:
        item.first_release, item.windows = None, []
        item.first_release_after, item.first_release_by = (_text(after) if after else None), _text(by)
        counts["bounded"] += 1
        how = (f"first release between {_text(after)} and {_text(by)}" if after else f"first release {_text(by)} "
               "or earlier") + f" (not established exactly): {how}"
    item.note = "; ".join(filter(None, [item.note if item.source != FLEET_SOURCE.id or item.note == TEST_ONLY_NOTE
                                         else None, how]))


def _close_windows(mainline: Facts, having: dict, covering: dict, newest, horizon, releases: Releases) -> int:
    """Items the references have in their newest release that no build of the newest release has, though a build
    of an earlier release had them: gone by the newest release (exactly when it follows the references' newest)."""
    closed = 0
    for item in mainline.items:
        present = having.get((item.kind, item.value), set())
        if (not item.windows or item.windows[-1].until is not None or newest in present
                or newest not in covering.get(item.kind, ()) or releases.after(horizon) != newest):
            continue
        # Absent from every newest build is not enough: a module's kfuncs (nf_conntrack, tcp_bbr) are in no image's
        # BTF.  An earlier build that had it, or its successor in the newest builds (an _impl kfunc retired for
        # the kfunc of its own name), says it was in the image and is gone.
        successor = str(item.value).removesuffix("_impl") if str(item.value).endswith("_impl") else None
        if present:
            evidence = f"in Debian's {_text(max(present))} builds"
        elif successor and newest in having.get((item.kind, successor), ()):
            evidence = f"replaced by {successor}, which they have"
        else:
            continue
        item.windows[-1] = Window(item.windows[-1].since, _text(newest))
        removal = (f"removed in {_text(newest)}: the references have it in {_text(horizon)}, none of Debian's "
                   f"{_text(newest)} builds has it ({evidence})")
        item.note = "; ".join(filter(None, [item.note, removal]))
        closed += 1
    return closed
