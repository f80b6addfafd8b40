"""``kbgen serve``: publish the knowledge base with Datasette, read-only, on loopback by default."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable

from kb.vocab.errors import KbgenError


class ServeError(KbgenError):
    pass


def plugins_dir() -> str:
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugins")


def templates_dir() -> str:
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")


def metadata_path() -> str:
    """metadata.yml: beside kb/ in a source tree, in the installed kb.data package otherwise."""
    here = os.path.dirname(os.path.abspath(__file__))  # kb/site: the checkout is two floors up
    source_tree = os.path.join(os.path.dirname(os.path.dirname(here)), "metadata.yml")
    if os.path.exists(source_tree):
        return source_tree
    from kb.store.shipped import data_dir

    return str(data_dir() / "metadata.yml")


def check_port(host: str, port: int) -> None:
    """Fail early, with one clear line, when the port cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise ServeError(f"port {port} on {host} is in use (choose another with --port)") from None
            raise ServeError(f"cannot listen on {host}:{port} ({err.strerror})") from None


def datasette_args(db_path: str, host: str, port: int, time_limit_ms: int) -> list[str]:
    return [
        "serve",
        "-i", db_path,
        "--metadata", metadata_path(),
        "--plugins-dir", plugins_dir(),
        "--template-dir", templates_dir(),
        "--host", host,
        "--port", str(port),
        "--setting", "sql_time_limit_ms", str(time_limit_ms),
        "--setting", "default_facet_size", "50",
        "--setting", "suggest_facets", "off",  # the tables' metadata names the facets worth having
        # A thread per concurrent reader: a slow question does not hold the others' queries in a queue.
        "--setting", "num_sql_threads", "8",
    ]


def serve(publish: Callable[[str], str], *, host: str, port: int, time_limit_ms: int) -> None:
    """Build the database with *publish* into a private directory, serve it, and remove the directory when
    the server stops, however it stops (Ctrl-C, SIGTERM)."""
    check_port(host, port)
    from datasette.cli import cli as datasette_cli

    tmp = tempfile.mkdtemp(prefix="kbgen-serve-")
    previous = {}

    def stop(signum, _frame):
        shutil.rmtree(tmp, ignore_errors=True)
        signal.signal(signum, previous.get(signum, signal.SIG_DFL))
        os.kill(os.getpid(), signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous[signum] = signal.signal(signum, stop)
    try:
        path = os.path.join(tmp, "kb.db")  # the file name makes the database name: /kb/...
        publish(path)
        datasette_cli.main(datasette_args(path, host, port, time_limit_ms), prog_name="datasette",
                           standalone_mode=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
