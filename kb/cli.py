"""The ``kbgen`` command line: a thin layer over :mod:`kb.api`.

Imports are deferred to the commands that need them, so that ``kbgen tables`` (run in builds) never
loads git or Datasette machinery.
"""

from __future__ import annotations

import functools
import sys

import click

from kb import __version__
from kb.paths import DEFAULT_TABLES_DIR

KINDS = ("helper", "prog_type", "map_type", "attach_type", "link_type", "cmd", "kfunc")


class BadInput(click.ClickException):
    """One line on stderr, exit 2, nothing written."""

    exit_code = 2


def _known_errors():
    from collectors.git_history import CollectError
    from collectors.reference import ReferenceError
    from kb.atomic import OutputError
    from kb.queries import QueryError
    from kb.shipped import DataError
    from kb.store import StoreError
    from kb.versions import VersionError

    return (CollectError, ReferenceError, OutputError, QueryError, DataError, StoreError, VersionError)


def reports_errors(command):
    """Turn the project's own errors into one clear line and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except click.ClickException:
            raise
        except Exception as err:
            if isinstance(err, _known_errors()):
                raise BadInput(str(err)) from None
            raise

    return wrapper


db_option = click.option(
    "--db",
    type=click.Path(dir_okay=False),
    help="User knowledge base file (default: $KBGEN_DB, else $XDG_DATA_HOME/kbgen/kb.db).",
)
tree_option = click.option(
    "--tree",
    help="Tree to read: mainline (default), or any collected tree such as a distribution kernel's.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kbgen")
def cli():
    """kbgen: which eBPF helpers, program, map, attach and link types, commands and kfuncs
    each Linux kernel has, mined from kernel git history.

    The shipped knowledge base covers mainline; `kbgen collect` adds trees mined from any kernel
    repository (a stable or distribution kernel, the libbpf mirror) to your own database.
    """


@cli.command()
@click.option("--repo", required=True, type=click.Path(), help="Kernel (or libbpf) git repository, normal or bare.")
@click.option("--tags", default=None, help="Glob naming the release tags (default 'v*': v5.19, v0.8.0, ...).")
@click.option("--tree", help="Name of the tree to record into (default: the repository directory's name).")
@click.option("--rev", default="HEAD", show_default=True, help="Newest revision to read; items there but in no release are unreleased.")
@click.option("--rc", "with_rc", is_flag=True, help="Also read -rc tags and record each item's first rc.")
@click.option("--path", default=None, help="Header path inside the repository (default include/uapi/linux/bpf.h).")
@click.option("--force", is_flag=True, help="Collect again even if nothing changed since the last run.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
@db_option
@reports_errors
def collect(repo, tags, tree, rev, with_rc, path, force, quiet, db):
    """Mine a repository's bpf.h history into a tree of the knowledge base.

    For every helper id and enum value: the first release tag whose header has it, the commit that
    introduced it (on its own branch, not the merge), and every name it carried. Reads git objects
    directly; re-collecting a tree replaces only that tree, and a run with nothing new does no work.

    \b
    Examples:
      kbgen collect --repo ~/src/linux --tree mainline
      kbgen collect --repo libbpf --tags 'v*' --tree libbpf
    """
    from kb import api

    progress = None
    bar = None
    if not quiet and sys.stderr.isatty():

        def progress(done, total):
            nonlocal bar
            if bar is None:
                bar = click.progressbar(length=total, label="parsing header revisions", file=sys.stderr)
                bar.__enter__()
            bar.update(done - bar.pos)

    try:
        result = api.collect(repo, db=db, tree=tree, tags=tags, rev=rev, with_rc=with_rc, path=path,
                             force=force, progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if result.status == "up to date":
        click.echo(f"{result.tree}: up to date ({result.db})", err=True)
    else:
        click.echo(
            f"{result.tree}: {result.items} items, {result.releases} releases, "
            f"{result.unreleased} not in any release ({result.db})",
            err=True,
        )


@cli.command()
@tree_option
@click.option("--kind", type=click.Choice(("all", *KINDS)), default="all", show_default=True, help="Items to export.")
@click.option("--format", "fmt", type=click.Choice(("json", "csv")), default="json", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file (atomically) instead of stdout.")
@db_option
@reports_errors
def export(tree, kind, fmt, output, db):
    """Export a tree's items for linters: the stable interface (fields in README, "Export").

    JSON is an array of objects with kind, id, name, names, first_release, commit, subject, source and more;
    first_release is a string such as "5.19", or null when no release has the item.
    """
    from kb import api

    text = api.export(db=db, tree=tree, kind=kind, fmt=fmt)
    if output:
        from kb.atomic import write_atomic

        write_atomic(output, text)
    else:
        click.echo(text, nl=False)


@cli.command("import-reference")
@click.argument("reference_dir", type=click.Path(file_okay=False))
@click.option("--header", type=click.Path(dir_okay=False), default="/usr/include/linux/bpf.h", show_default=True,
              help="A real bpf.h for names, aliases and helper documentation.")
@click.option("--data-dir", type=click.Path(file_okay=False), default="data", show_default=True,
              help="Where the shipped knowledge base text lives.")
@click.option("--data-version", required=True, help="Label of this data release, e.g. 2026.11.29.")
@reports_errors
def import_reference(reference_dir, header, data_dir, data_version):
    """Rebuild the shipped data/ text from reference facts and a real header (for maintainers).

    REFERENCE_DIR holds mainline-helpers.tsv, mainline-enums.tsv and mainline-kfuncs.tsv.
    """
    from kb import api

    for path in api.import_reference(reference_dir, header, data_dir, data_version):
        click.echo(path)


def main():
    cli()
