"""The ``kbgen`` command line: a thin layer over :mod:`kb.api` that renders what it returns.

Imports are deferred to the commands that need them, so that ``kbgen tables`` (run in builds) never
loads git or Datasette machinery.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
import warnings
from contextlib import contextmanager

import click

from kb import __version__
from kb.outputs.languages import LANGUAGES
from kb.paths import DEFAULT_TABLES_DIR
from kb.vocab.errors import KbgenError
from kb.vocab.kinds import ITEM_KINDS as KINDS


class BadInput(click.ClickException):
    """One line on stderr, exit 2, nothing written."""

    exit_code = 2


def _show_warning(message, _category, *_args, **_kwargs):
    click.echo(f"kbgen: warning: {message}", err=True)


def reports_errors(command):
    """Turn the project's own errors into one clear line and their exit status; warnings into one line each."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from kb.vocab.warnings import KbgenWarning

        warnings.showwarning = _show_warning
        warnings.simplefilter("always", KbgenWarning)
        try:
            return command(*args, **kwargs)
        except KbgenError as err:
            error = BadInput(str(err))
            error.exit_code = err.exit_code
            raise error from None

    return wrapper


def _write(text: str, output: str | None) -> None:
    if output:
        from kb.formats.atomic import write_atomic

        write_atomic(output, text)
    else:
        click.echo(text, nl=False)


db_option = click.option(
    "--db",
    type=click.Path(dir_okay=False),
    help="User knowledge base file (default: $KBGEN_DB, else $XDG_DATA_HOME/kbgen/kb.db).",
)
tree_option = click.option(
    "--tree",
    help="Tree to read: mainline (default), or any collected tree such as a distribution kernel's.",
)


def _version(ctx, _param, value):
    """kbgen's version and the shipped data's: a build that regenerates tables when either changes can key on it."""
    if not value or ctx.resilient_parsing:
        return
    from kb.store import shipped

    click.echo(f"kbgen, version {__version__}, data {shipped.data_version()}")
    ctx.exit()


format_option = click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True,
                             help="text for people, json for tools.")


@contextmanager
def _progress_bar(label: str, shown: bool):
    """A progress(done, total) callback drawing a bar on stderr (None where not *shown*), closed on the way out."""
    bar = None

    def progress(done, total):
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label=label, file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        yield progress if shown else None
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_version,
              help="Show kbgen's version and the shipped data's version, and exit.")
def cli():
    """kbgen: which eBPF helpers, program, map, attach and link types, commands, kfuncs and features
    each Linux kernel has, mined from kernel git history.

    The shipped knowledge base covers mainline; `kbgen collect` adds trees mined from any kernel
    repository (a stable or distribution kernel, the libbpf mirror) to your own database.
    """


@cli.command(short_help="Mine a repository's history into a tree.")
@click.option("--repo", required=True, type=click.Path(), help="Kernel (or libbpf) git repository, normal or bare.")
@click.option("--tree", help="Name of the tree to record into (default: the repository directory's name).")
@click.option("--tags", multiple=True,
              help="Glob naming release tags; repeat for several (--tags v6.1 --tags 'v6.1.*'). Default: every "
                   "tag that reads as a release: v5.19, Ubuntu-5.15.0-91.101, kernel-5.14.0-427.el9, "
                   "debian/6.1.76-1, v6.1.0-13-amd64.")
@click.option("--tag-pattern", default=None,
              help="Regular expression reading another tag scheme, with named groups major, minor and optionally "
                   "patch, rc and any numbered parts, e.g. '^rel-(?P<major>\\d+)\\.(?P<minor>\\d+)-(?P<build>\\d+)$'.")
@click.option("--rev", default="HEAD", show_default=True,
              help="Newest revision to read; items there but in no release are unreleased.")
@click.option("--rc", "with_rc", is_flag=True, help="Also read -rc tags and record each item's first rc.")
@click.option("--path", default=None, help="Header path inside the repository (default include/uapi/linux/bpf.h).")
@click.option("--force", is_flag=True,
              help="Collect again even if nothing changed; record a non-kernel repository as mainline.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@db_option
@reports_errors
def collect(repo, tree, tags, tag_pattern, rev, with_rc, path, force, quiet, db):
    """Mine a repository's bpf.h history into a tree of the knowledge base.

    For every helper id and enum value: the releases that have it (as windows: an item can be removed
    and come back), the commit that introduced it (on its own branch, not the merge), and every name it
    carried. Reads git objects directly; re-collecting replaces only what the same source said before,
    and a run with nothing new does no work. Release tags of mainline, stable, Ubuntu, RHEL/CentOS
    Stream and Debian trees are understood; --tag-pattern teaches any other scheme.

    \b
    Examples:
      kbgen collect --repo ~/src/linux --tree mainline
      kbgen collect --repo ~/src/linux-stable --tree stable-6.1 --tags v6.1 --tags 'v6.1.*'
      kbgen collect --repo ~/src/ubuntu-jammy --tree ubuntu-jammy --tags 'Ubuntu-5.15.0-*'
      kbgen collect --repo ~/src/libbpf --tree libbpf
    """
    from kb import api
    from kb.outputs import render

    with _progress_bar("parsing header revisions", not quiet and sys.stderr.isatty()) as progress:
        result = api.collect(repo, db=db, tree=tree, tags=tags, tag_pattern=tag_pattern, rev=rev, with_rc=with_rc,
                             path=path, force=force, progress=progress)
    for source in result.sources:
        for line in source.warnings:
            click.echo(f"kbgen: warning: {line}", err=True)
    click.echo(render.collect(result), err=True, nl=False)


@cli.command(short_help="Export a tree's items for linters (JSON, CSV, schema).")
@tree_option
@click.option("--kind", type=click.Choice(("all", *KINDS)), default="all", show_default=True, help="Items to export.")
@click.option("--format", "fmt", type=click.Choice(("json", "csv")), default="json", show_default=True,
              help="A JSON document {format_version, tree, data_version, items: [...]}, or CSV with the item "
                   "columns (names joined by |, windows as 6.17..6.18,7.0..).")
@click.option("--schema", is_flag=True, help="Print the JSON Schema of the JSON export and exit.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file (atomically) instead of stdout.")
@db_option
@reports_errors
def export(tree, kind, fmt, schema, output, db):
    """Export a tree's items for linters: the stable interface (fields in the README, "Export").

    Every item has kind, id, name, names, first_release, removed_in, windows, commit, source and more;
    first_release is a string such as "5.19", or null when no release is known to have the item. The
    document carries format_version; `kbgen export --schema` prints its JSON Schema.
    """
    import json

    from kb.outputs import export as exporter

    if schema:
        _write(json.dumps(exporter.schema(), indent=2) + "\n", output)
        return
    from kb import api

    result = api.export(db=db, tree=tree, kind=kind)
    _write(exporter.to_json(result) if fmt == "json" else exporter.to_csv(result), output)


@cli.command("import-reference", short_help="Rebuild the shipped data/ (maintainers).")
@click.argument("reference_dir", type=click.Path(file_okay=False))
@click.option("--header", type=click.Path(dir_okay=False), default="/usr/include/linux/bpf.h", show_default=True,
              help="A real bpf.h for spellings and helper documentation.")
@click.option("--data-dir", type=click.Path(file_okay=False), default="data", show_default=True,
              help="Where the shipped knowledge base text lives.")
@click.option("--data-version", required=True, help="Label of this data release, e.g. 2026.12.01.")
@click.option("--libbpf", type=click.Path(file_okay=False),
              help="A libbpf repository (github.com/libbpf/libbpf) to mine every release's section table from.")
@reports_errors
def import_reference(reference_dir, header, data_dir, data_version, libbpf):
    """Rebuild the shipped data/ text from reference facts and a real header (for maintainers).

    REFERENCE_DIR holds mainline-helpers.tsv, mainline-enums.tsv, mainline-kfuncs.tsv,
    mainline-helper-compat.tsv and mainline-features.tsv. With --libbpf, libbpf_releases.tsv and
    libbpf_sections.tsv are mined anew from that repository's history; without it they are left alone.
    """
    from kb import api

    for path in api.import_reference(reference_dir, header, data_dir, data_version, libbpf,
                                     report=lambda line: click.echo(line, err=True)):
        click.echo(path)


@cli.command("import-fleet", short_help="Rebuild the shipped fleet of real distribution builds (maintainers).")
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--data-dir", type=click.Path(file_okay=False), default="data", show_default=True,
              help="Where the shipped knowledge base text lives; the fleet goes in its fleet/ directory.")
@click.option("--jobs", type=click.IntRange(1, 2), default=2, show_default=True, help="Builds read at once.")
@reports_errors
def import_fleet(manifest, data_dir, jobs):
    """Read the builds a fleet MANIFEST lists and write their exact item sets to DATA_DIR/fleet/ (maintainers).

    MANIFEST is a TSV with the columns package, version, architecture, suite, sha256 (of the .deb), path (where
    `dpkg-deb -x` extracted it) and uname_r; each linux-image-* or linux-binary-* row is one build (sid's
    linux-modules-* row beside it names its modules' package). Then run `kbgen import-reference` to date
    mainline items by the fleet. Modules are read when the BTF reader reads them; each build says whether.
    """
    from kb import api

    with _progress_bar("reading builds", sys.stderr.isatty()) as progress:
        written = api.import_fleet(manifest, data_dir, jobs=jobs, progress=progress)
    for path in written:
        click.echo(path)


@cli.command(short_help="Write C, Python and JSON lookup tables.")
@click.option("--lang", "languages", multiple=True, type=click.Choice(tuple(LANGUAGES)),
              help="Language to emit; repeat for several (default: c and python). macros: for a probed build "
                   "(--tree BUILD), the #defines of `bpftool feature probe macros`, named as bpftool names them.")
@click.option("-o", "--output", default=DEFAULT_TABLES_DIR, show_default=True,
              help="Output directory (files bpf_features.h/.py/.json/.go/.rs), or a file name with a single --lang.")
@tree_option
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 naming each file that differs from what would be generated.")
@click.option("--prefix", default=None,
              help="C: the prefix of every name the header defines (default bpf: bpf_kb_release_index(), "
                   "BPF_HELPER_MIN_KERNEL_...); give another to include a second tree's header beside the first.")
@click.option("--depfile", type=click.Path(dir_okay=False),
              help="Also write a Make/Ninja depfile: the outputs depend on the shipped data and the --db file.")
@format_option
@db_option
@reports_errors
def tables(languages, output, tree, check, prefix, depfile, fmt, db):
    """Write lookup tables of the minimum kernel of every helper, type, command, kfunc and feature.

    The C header (bpf_features.h) is a small library for BPF C, C99 and C++ (constexpr from C++14), for
    every tree: bpf_kb_helper_available(195, "5.15.0-91-generic"), bpf_kb_release_index(),
    bpf_kb_status(), bpf_kb_find(), bpf_kb_name(), bpf_kb_gpl_only(); per item BPF_HELPER_KNOWN_<name>,
    BPF_HELPER_AVAILABLE_AT_<name>(release index) and, for mainline and builds,
    bpf_helper_min_kernel[195] == KERNEL_VERSION(5, 19, 0), BPF_HELPER_MIN_KERNEL_<name>. The Python
    module (bpf_features.py, Python 3.6+) stands alone: why(195, "5.15.0-91-generic"), lookup("xdp"),
    gpl_only(), judged by the same rule as kbgen itself; --lang go and --lang rust give the same
    functions with their standard libraries only.

    Output is byte-for-byte reproducible and written as a set, atomically; files already up to date are
    left alone. With no options it writes both files for the mainline tree into ./kbgen-tables/.
    """
    from kb import api

    result = api.tables(db=db, tree=tree, languages=tuple(languages) or None, output=output, check=check,
                        prefix=prefix, depfile=depfile)
    if fmt == "json":
        import json

        click.echo(json.dumps({"written": result.written, "stale": result.stale, "notes": result.notes}, indent=2))
        if check and result.stale:
            sys.exit(1)
        return
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if check:
        for path in result.stale:
            click.echo(f"stale: {path}", err=True)
        if result.stale:
            sys.exit(1)
        return
    for path in result.written:
        click.echo(f"wrote {path}", err=True)
    if not result.written:
        click.echo("tables up to date", err=True)


@cli.command(short_help="Show one item: releases, commit, names, docs.")
@click.argument("name_or_id")
@tree_option
@click.option("--kernel", help="Also say whether this kernel (5.15.0-91-generic) has it; exit 1 when it does not.")
@format_option
@db_option
@reports_errors
def info(name_or_id, tree, kernel, fmt, db):
    """Show what the knowledge base knows of one item.

    NAME_OR_ID is a helper id (195), a helper name with or without bpf_ (bpf_map_lookup_percpu_elem), any
    former name (skb_set_delivery_time), an enumerator (BPF_PROG_TYPE_XDP, XDP), a kfunc name or a
    feature slug (isa.jmp32_v3).

    Exit status with --kernel: 0 when the kernel has every item named, 1 when it does not (not yet, removed,
    or not known: a CI gate, as `kbgen scan` is), 2 on bad input.
    """
    from kb import api
    from kb.outputs import render

    infos = api.info(name_or_id, db=db, tree=tree, kernel=kernel)
    click.echo(render.info_json(infos) if fmt == "json" else render.info(infos), nl=False)
    if kernel and not all(entry.verdict.available for entry in infos):
        sys.exit(1)


@cli.command(short_help="List what arrived and what was removed between two releases.")
@click.argument("old")
@click.argument("new")
@tree_option
@click.option("--kind", type=click.Choice(("all", *KINDS)), default="all", show_default=True,
              help="Only items of this kind.")
@format_option
@db_option
@reports_errors
def diff(old, new, tree, kind, fmt, db):
    """List what a kernel NEW has that OLD lacks, and what OLD has that NEW no longer has.

    \b
    Example: kbgen diff 5.15 5.19   (everything a 5.19 kernel has that 5.15 lacks)
    Versions such as 5.15.0-91-generic are accepted, judged in the tree as `kbgen scan` judges them; a
    release newer than the knowledge base knows is refused.
    """
    from kb import api
    from kb.outputs import render

    result = api.diff(old, new, db=db, tree=tree, kind=kind)
    click.echo(render.diff_json(result) if fmt == "json" else render.diff(result), nl=False)


@cli.command(short_help="Browse and query the knowledge base (Datasette).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback unless told).")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@tree_option
@click.option("--time-limit-ms", default=1000, show_default=True, type=click.IntRange(1),
              help="SQL time limit per query, in milliseconds.")
@click.option("--save", "save_to", type=click.Path(dir_okay=False),
              help="Write the database Datasette would serve to this file and exit (for datasette publish).")
@db_option
@reports_errors
def serve(host, port, tree, time_limit_ms, save_to, db):
    """Browse and query the knowledge base with Datasette, read-only.

    Serves database "kb": a front page that answers "will it run on my kernel?" and draws what arrived
    in each release, one table per kind (helpers, prog_types, map_types, attach_types, link_types,
    commands, kfuncs, features), the store's tables, full-text search, and canned queries: check
    (kernel + items: available or not, and why), available_on, arrived_in, min_kernel_for_helpers,
    compare_with_mainline (a build's backports and what it lacks), renamed_helpers and
    disagreeing_sources. Canned queries answer from the published tree (--tree).

    \b
    JSON for linters: http://127.0.0.1:8001/kb/helpers.json?_shape=array&_size=max
    """
    from kb import api

    if db and not os.path.exists(db):
        click.echo(f"note: {db} does not exist yet; serving the shipped knowledge base only", err=True)
    if save_to:
        from kb.site import serve as serving

        tree_name = api.publish(save_to, db=db, tree=tree)
        click.echo(f"wrote {save_to} ({tree_name} tree); Datasette serves it with kbgen's plugin and templates "
                   f"(the version collation, the pages, the canned queries):", err=True)
        click.echo("  datasette " + " ".join(serving.datasette_args(save_to, host, port, time_limit_ms)),
                   err=True)
        return
    api.serve(db=db, host=host, port=port, tree=tree, time_limit_ms=time_limit_ms)


@cli.command(short_help="Record kernel builds' exact features, from their images or BTF, or live.")
@click.argument("sources", nargs=-1, type=click.Path())
@click.option("--tree", help="Name of the build's tree (default: its release string).")
@click.option("--release", help="The build's kernel release string, where the image does not state it.")
@click.option("--live", is_flag=True,
              help="Also test-load programs through bpf() on the running kernel (root or CAP_BPF): which program "
                   "types load, which map types can be created, which helpers each program type accepts.")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True,
              help="text for people; json lists every helper, enumerator and kfunc of the build by name.")
@click.option("--jobs", type=click.IntRange(1, 2), default=2, show_default=True,
              help="Several builds: how many to read at once (each holds a decompressed image).")
@click.option("--force", is_flag=True, help="Several builds: probe again builds whose content is stored already.")
@db_option
@reports_errors
def probe(sources, tree, release, live, fmt, jobs, force, db):
    """Record exactly what kernel builds have, each as a tree of kind build, and compare one with mainline.

    SOURCE is told by its content: raw BTF (/sys/kernel/btf/vmlinux, the default), an ELF vmlinux, a
    compressed kernel image as distributions ship it (vmlinuz/bzImage: gzip, xz, lzma, bzip2, lz4 or
    zstd), or a BTFHub-style .btf.tar.xz. The release string comes from --release, else the image's own
    version string, else `uname -r` for the running kernel. The report lists backports (items mainline
    has only later than the build's base release), what the build lacks against mainline at its base
    (configured out, or removed), and items the knowledge base does not know.

    The build then serves like any tree, with no version arithmetic: `kbgen scan --tree BUILD`,
    `kbgen tables --tree BUILD` (also --lang macros, named as `bpftool feature probe macros` names
    them), `kbgen info --tree BUILD`.

    Several SOURCEs, or a directory, record many builds: a BTFHub archive checkout
    (<distro>/<version>/<arch>/<release>.btf.tar.xz, labelled from the path), extracted distribution
    packages (boot/vmlinuz-* or usr/lib/modules/<release>/vmlinuz, labelled from DEBIAN/control or the
    package and path), any directory of images. Each build becomes the tree named by its release
    (6.1.0-57-cloud-amd64), read two at a time, one line each and a summary; a build whose content is
    stored already is skipped, and probing another image under a release replaces the build its tree held.
    Exit status 2 when any build could not be read (the others are recorded).

    \b
    Examples:
      kbgen probe                                 # this machine's kernel, offline
      kbgen probe --live                          # ... and what its verifier accepts
      kbgen probe /boot/vmlinuz-6.1.0-13-cloud-amd64
      kbgen probe ~/btfhub-archive/centos ~/debs/*/   # many builds
    """
    from kb import api
    from kb.outputs import render

    if len(sources) > 1 or (sources and os.path.isdir(sources[0])):
        if tree or release or live:
            raise BadInput("--tree, --release and --live name one build: give one SOURCE file with them")
        _probe_builds(list(sources), fmt, jobs, force, db)
        return
    result = api.probe(sources[0] if sources else None, db=db, tree=tree, release=release, live=live)
    click.echo(render.probe_json(result) if fmt == "json" else render.probe(result), nl=False)


def _probe_builds(sources, fmt, jobs, force, db):
    from kb import api

    lines = []
    terminal = sys.stderr.isatty() and fmt == "text"

    def each(build):
        labels = " ".join(build.labels.get(k, "") for k in ("distribution", "distribution_version", "arch")).strip()
        if build.status == "failed":
            text = f"failed   {build.error}"
        else:
            counts = ", ".join(f"{n} {kind}" for kind, n in sorted(build.counts.items()))
            text = f"{build.status:8} {build.tree}  [{labels or 'no labels'}]  {counts or 'stored already'}  " \
                   f"{build.path}"
        lines.append(text)
        if fmt == "text" and not terminal:
            click.echo(text)

    with _progress_bar("probing builds", terminal) as progress:
        result = api.probe_builds(sources, db=db, jobs=jobs, force=force, progress=progress, each=each)
    if fmt == "json":
        import json
        from dataclasses import asdict

        click.echo(json.dumps({"db": result.db, "builds": [asdict(b) for b in result.builds]}, indent=2))
    else:
        if terminal:  # after the bar, not through it
            click.echo("\n".join(lines))
        click.echo(f"{len(result.builds)} builds: {result.count('probed')} probed, {result.count('skipped')} skipped "
                   f"(content stored already), {result.count('failed')} failed; database {result.db}")
    if result.count("failed"):
        sys.exit(2)


@cli.command(short_help="Check compiled BPF objects against a kernel.")
@click.argument("objects", nargs=-1, required=True, type=click.Path())
@click.option("--kernel", help="Target kernel version: 5.15, 5.15.0-91-generic, 6.1.0-13-amd64.")
@click.option("--tree", "trees", multiple=True,
              help="Judge by this tree (a distribution, or a probed or shipped build); repeated: a matrix of builds.")
@click.option("--btf", "btf", type=click.Path(dir_okay=False),
              help="The target's BTF for CO-RE relocations and existence guards: raw BTF, vmlinux, vmlinuz, "
                   ".btf.tar.xz.")
@click.option("--fleet", is_flag=True, help="A matrix of the objects against every probed and shipped build.")
@click.option("--format", "fmt", type=click.Choice(("text", "json", "sarif")), default="text", show_default=True,
              help="text for people, json for tools (fields in README), sarif for code scanning.")
@click.option("--summary", is_flag=True, help="One line per object: its minimum kernel and what sets it.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report to a file (atomically).")
@db_option
@reports_errors
def scan(objects, kernel, trees, btf, fleet, fmt, summary, output, db):
    """Check compiled BPF objects (clang -target bpf) against a target kernel.

    Judges what the kernel and libbpf will see: each program's type and expected attach type (from its
    section name, by libbpf's own rules, with the libbpf release that first loads it), every helper and
    kfunc call, map (BTF-defined, legacy, global data, struct_ops, inner maps), and the instruction-set,
    verifier, BTF and ELF features the object uses (JMP32, loops, atomics, ISA v4, global data,
    kconfig, ksyms...). Needs libbpf handles on older kernels (probe_read_kernel, BTF kinds it strips)
    do not raise the minimum; weak externs are optional; extern BPF functions are resolved by linking.
    Also checks a helper's program type (an error with a probed build's --tree, a warning from the
    documented lists) and GPL-only helpers and kfuncs in objects whose license is not GPL-compatible.
    Needs the code reaches only where its own guard holds (LINUX_KERNEL_VERSION, CONFIG_*, CO-RE
    existence checks, bpf_ksym_exists) are guarded: they do not raise the minimum, and on a target the
    guard is evaluated. With --btf (or the BTF kept for a probed --tree), every CO-RE relocation is
    resolved as libbpf does; one the target cannot satisfy where the code reaches it is an error.
    --fleet (or --tree repeated) prints a matrix object x build: runs, adapts or fails, and why.

    OBJECTS are .o files or directories (searched for *.o). ELF objects of other machines (host objects)
    are skipped with a note, as are files a directory holds that are not ELF or not regular (bitcode,
    FIFOs). Only regular files are read, mapped rather than loaded. With --tree, the kernel is judged by that tree's releases (a distribution tree, or a
    probed build, which needs no --kernel). Reports are written as objects are scanned.

    \b
    Exit status: 0 when everything is available on --kernel (or no --kernel was given: the report
    then says the minimum kernel each object needs) or every problem is guarded or optional, 1 when
    something needs a newer kernel, was removed before it, is unknown to the knowledge base, is a CO-RE
    relocation the target cannot satisfy, or is refused by the verifier on any kernel (license, a
    probed build's program type), or an object fails on some build of the matrix, 2 on bad input (a malformed object, a FIFO given, or no
    BPF object at all while --kernel is given).
    """
    from kb import api
    from kb.scan import report as scan_report

    if summary and fmt != "text":
        raise BadInput("--summary is one line of text per object; leave out --format, or --summary")
    matrix = fleet or len(trees) > 1
    if matrix and (kernel or btf or summary):
        raise BadInput("--fleet and a repeated --tree judge each build by itself: leave out --kernel, --btf and "
                       "--summary")
    result = api.scan(list(objects), kernel=kernel, trees=list(trees), btf=btf, fleet=fleet, db=db)

    def write(stream):
        if matrix:
            scan_report.write_fleet(result, fmt, stream)
        else:
            scan_report.write(result, fmt, stream, summary=summary)

    if output:
        from kb.formats.atomic import atomic_stream

        with atomic_stream(output) as stream:
            write(stream)
    else:
        try:
            write(sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader stopped (| head): not an error of ours; no more output, and no traceback at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1 if result.failed else 0)
        except OSError as err:
            raise BadInput(f"cannot write the report to standard output ({err.strerror})") from None
    if result.skipped:
        raise BadInput(f"{len(result.skipped)} object(s) could not be read and were skipped (first: "
                       f"{result.skipped[0]})")
    if result.failed:
        sys.exit(1)


def main():
    from kb.formats.atomic import Interrupted, Terminated, die_of, on_signals, remove_open

    on_signals()
    try:
        cli()
    except SystemExit:
        # The process ends here.  Frozen, what the command made is not walked by the collection at exit (0.03 s
        # after a collect of libbpf); the files it wrote are closed already.
        gc.freeze()
        raise
    except Interrupted:
        remove_open()
        click.echo("kbgen: interrupted", err=True)
        sys.exit(130)
    except Terminated as stop:
        remove_open()
        die_of(stop.signum)
