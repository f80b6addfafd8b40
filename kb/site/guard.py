"""What keeps the site up whatever is asked of it: bounds on what one request may cost, short answers to bad
parameters (400, 405; never 500, never exception text) and the security headers every response carries.

The bounds: no SQL value longer than :data:`MAX_VALUE` (SQLite's length limit: ``zeroblob(1000000000)`` fails at
once instead of filling memory); no query result larger than :data:`MAX_RESULT` (rows counted as they are fetched,
before anything is rendered); no response body larger than :data:`MAX_RESPONSE`.  The SQL time limit Datasette
sets covers the query; with results bounded, rendering is bounded too.

Wired to Datasette by the plugin (kb/site/plugins/); this module knows requests only as ASGI scopes.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, unquote

MAX_VALUE = 1_000_000  # bytes in one string or blob (the largest the published database holds is 4 kB)
MAX_RESULT = 8_000_000  # bytes in the rows of one query
MAX_RESPONSE = 32_000_000  # bytes in one response body
MAX_QUERY_STRING = 16_000
INT64 = 2 ** 63
ALLOWED_METHODS = ("GET", "HEAD")

SECURITY_HEADERS = [
    # Datasette's pages carry inline scripts and styles; nothing is loaded from elsewhere, nothing frames them.
    (b"content-security-policy", (b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                  b"script-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; "
                                  b"form-action 'self'; frame-ancestors 'none'")),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]

# Parameters whose values must be a column of the table asked about.
_COLUMN_PARAMETERS = ("_sort", "_sort_desc", "_facet", "_facet_array", "_facet_date", "_col", "_nocol")
_NUMBER = re.compile(r"^[+-]?\d+$")
_TABLE_PATH = re.compile(r"^/(?P<database>[^/]+)/(?P<table>[^/]+?)(?:\.(?P<format>json|csv))?$")


class Refused(Exception):
    """A request refused: its status and one short line saying why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def limit_connection(conn: sqlite3.Connection) -> None:
    if hasattr(conn, "setlimit"):  # Python 3.11 and later
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE)
        return
    # Python 3.10's sqlite3 cannot set SQLite's limits: the functions that make a large value from a small query
    # are replaced by bounded ones (results stay bounded as they are fetched either way).
    for name in ("zeroblob", "randomblob"):
        conn.create_function(name, 1, _bounded(name), deterministic=name == "zeroblob")


def _bounded(name: str):
    def make(size):
        if not isinstance(size, int) or size > MAX_VALUE:
            raise sqlite3.DataError(f"string or blob too big: {name}() of more than {MAX_VALUE} bytes")
        return bytes(max(size, 0)) if name == "zeroblob" else os.urandom(max(size, 0))

    return make


# -- results bounded as they are fetched ---------------------------------------------------------------------------

class ResultTooLarge(sqlite3.DatabaseError):
    pass


def _size(row) -> int:
    return sum(len(v) if isinstance(v, (str, bytes)) else 8 for v in row)


class _BoundedCursor:
    def __init__(self, cursor: sqlite3.Cursor):
        self._cursor = cursor

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def __iter__(self):
        return iter(self.fetchall())

    def _fetch(self, count: int | None) -> list:
        rows, total = [], 0
        while count is None or len(rows) < count:
            row = self._cursor.fetchone()
            if row is None:
                break
            total += _size(row)
            if total > MAX_RESULT:
                raise ResultTooLarge(f"the result is larger than {MAX_RESULT // 1_000_000} MB: refused (ask for "
                                     "fewer rows or shorter values)")
            rows.append(row)
        return rows

    def fetchmany(self, size: int | None = None) -> list:
        return self._fetch(self._cursor.arraysize if size is None else size)

    def fetchall(self) -> list:
        return self._fetch(None)


class BoundedConnection:
    """A connection whose cursors stop fetching past :data:`MAX_RESULT` bytes of rows."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def cursor(self, *args):
        return _BoundedCursor(self._conn.cursor(*args))

    def execute(self, *args):
        return _BoundedCursor(self._conn.execute(*args))


def bound_results(database) -> None:
    """Every function Datasette runs on *database*'s connections gets them bounded."""
    if getattr(database, "_kbgen_bounded", False):
        return
    run = database.execute_fn

    async def execute_fn(fn):
        return await run(lambda conn: fn(BoundedConnection(conn)))

    database.execute_fn = execute_fn
    database._kbgen_bounded = True


# -- parameters checked before Datasette sees them -----------------------------------------------------------------

def check_request(scope: dict, columns_of: Callable[[str], list[str] | None]) -> None:
    """Raise :class:`Refused` for a request no page can answer well.  *columns_of(table)*: the table's columns,
    None when *table* is no table (a canned query, a page of Datasette's own)."""
    if scope.get("method", "GET") not in ALLOWED_METHODS:
        raise Refused(405, f"{scope.get('method')} is not allowed: this site is read-only (GET or HEAD)")
    raw = scope.get("query_string", b"")
    if len(raw) > MAX_QUERY_STRING:
        raise Refused(400, f"the query string is longer than {MAX_QUERY_STRING} bytes")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise Refused(400, "the query string is not UTF-8") from None
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            raise Refused(400, f"a NUL character in parameter {key!r}")
    match = _TABLE_PATH.match(scope.get("path", ""))
    columns = columns_of(unquote(match.group("table"))) if match else None
    if columns is None:
        return
    for key, value in pairs:
        _check_parameter(key, value, columns)


def _check_parameter(key: str, value: str, columns: list[str]) -> None:
    if key in _COLUMN_PARAMETERS and value and value not in columns and value != "rowid":
        raise Refused(400, f"{key}: no column named {value[:60]!r}")
    if key == "_where" and ";" in value:
        raise Refused(400, "_where: one condition, no ';'")
    if key == "_through":
        _check_through(value)
    if key == "_size" and value != "max" and not (value.isdigit() and 0 < int(value) <= 1000):
        raise Refused(400, "_size: a number from 1 to 1000, or max")
    if not key.startswith("_"):
        column, _sep, _operation = key.partition("__")
        if column not in columns and column != "rowid":
            raise Refused(400, f"no column named {column[:60]!r} to filter on")
        for number in value.split(","):
            if _NUMBER.match(number.strip()) and not -INT64 <= int(number) < INT64:
                raise Refused(400, f"{key}: {number[:30]}… is too large a number")


def _check_through(value: str) -> None:
    try:
        through = json.loads(value)
    except ValueError:
        raise Refused(400, "_through: not JSON (expected {\"table\": ..., \"column\": ..., \"value\": ...})") from None
    if not isinstance(through, dict) or set(through) != {"table", "column", "value"}:
        raise Refused(400, "_through: expected {\"table\": ..., \"column\": ..., \"value\": ...}")


# -- the ASGI side -------------------------------------------------------------------------------------------------

Send = Callable[[dict], Awaitable[None]]


async def refuse(send: Send, refused: Refused, json_wanted: bool) -> None:
    if json_wanted:
        body = json.dumps({"ok": False, "error": refused.message, "status": refused.status}).encode()
        content_type = b"application/json; charset=utf-8"
    else:
        body = f"{refused.status} {refused.message}\n".encode()
        content_type = b"text/plain; charset=utf-8"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]
    if refused.status == 405:
        headers.append((b"allow", ", ".join(ALLOWED_METHODS).encode()))
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def bounded_send(send: Send) -> Send:
    """*send* with the security headers added and the body cut off past :data:`MAX_RESPONSE` bytes."""
    sent = 0

    async def guarded(message: dict) -> None:
        nonlocal sent
        if message["type"] == "http.response.start":
            names = {name.lower() for name, _value in message.get("headers", [])}
            message = dict(message, headers=[*message.get("headers", []),
                                             *(h for h in SECURITY_HEADERS if h[0] not in names)])
        elif message["type"] == "http.response.body":
            sent += len(message.get("body", b""))
            if sent > MAX_RESPONSE:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                raise ResultTooLarge(f"response larger than {MAX_RESPONSE} bytes cut off")
        await send(message)

    return guarded


def short_error(exception: BaseException) -> tuple[int, str] | None:
    """The status and a one-line message for an exception a bad request raises; None for a real fault."""
    if isinstance(exception, ResultTooLarge):
        return 400, str(exception)
    if isinstance(exception, OverflowError):
        return 400, "a number too large for SQLite"
    if isinstance(exception, sqlite3.Error):
        text = str(exception).splitlines()[0] if str(exception) else type(exception).__name__
        return 400, f"bad query: {text[:200]}"
    if isinstance(exception, (UnicodeError, json.JSONDecodeError)):
        return 400, "bad parameter: not valid text"
    return None
