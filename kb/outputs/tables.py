"""``kbgen tables``: render the lookup tables of one tree and write (or check) them."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field

from kb.formats.atomic import OutputError, make_output_directory, recover, write_all_atomic
from kb.outputs.languages import DEFAULT_LANGUAGES, LANGUAGES


@dataclass
class TablesResult:
    written: list[str]
    stale: list[str]
    notes: list[str] = field(default_factory=list)


def output_paths(languages: tuple[str, ...], output: str) -> dict[str, str]:
    """lang -> path.  *output* is a directory, or a file name when a single language is asked for."""
    for lang in languages:
        if lang not in LANGUAGES:
            raise OutputError(f"unknown language {lang!r} (one of: {', '.join(LANGUAGES)})")
    a_file = not os.path.isdir(output) and bool(os.path.splitext(output)[1])
    if a_file and len(languages) == 1:
        return {languages[0]: output}
    if a_file:
        raise OutputError(f"-o {output}: a file name holds one language, and {len(languages)} were asked for "
                          f"({', '.join(languages)}); give a directory, or one --lang")
    return {lang: os.path.join(output, LANGUAGES[lang][0]) for lang in languages}


def render(model, languages: tuple[str, ...], prefix: str | None = None) -> dict[str, str]:
    rendered = {}
    for lang in languages:
        module = importlib.import_module(LANGUAGES[lang][1])
        rendered[lang] = module.render(model, prefix=prefix) if lang == "c" else module.render(model)
    return rendered


def dependencies(user_db: str | None) -> list[str]:
    """What the tables are generated from: the shipped data files and the user's database (where it exists)."""
    from kb.store import shipped

    found = sorted(str(p) for p in shipped.data_dir().iterdir() if p.suffix in (".tsv", ".jsonl", ".yml")
                   or p.name == "VERSION")
    if user_db and os.path.exists(user_db):
        found.append(os.path.abspath(user_db))
    return found


def depfile_text(targets: list[str], sources: list[str]) -> str:
    """A Make rule (Ninja reads the same: `depfile = ...`, `deps = gcc`) naming what *targets* depend on."""

    def escaped(path: str) -> str:
        return path.replace("\\", "\\\\").replace(" ", "\\ ").replace("#", "\\#").replace("$", "$$")

    return " ".join(map(escaped, targets)) + ": " + " ".join(map(escaped, sources)) + "\n"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as err:
        raise OutputError(f"{path}: cannot read ({err})") from None


def generate(conn, *, tree: str | None, languages: tuple[str, ...] | None, output: str, check: bool,
             prefix: str | None = None, depfile: str | None = None, user_db: str | None = None) -> TablesResult:
    from kb.outputs.generators.model import build_model

    languages = languages or DEFAULT_LANGUAGES
    paths = output_paths(languages, output)
    model = build_model(conn, tree)
    notes: list[str] = []
    contents = render(model, languages, prefix)
    files = {paths[lang]: contents[lang] for lang in languages}
    if depfile:
        files[depfile] = depfile_text(list(paths.values()), dependencies(user_db))
    if not check:
        for directory in sorted({os.path.dirname(os.path.abspath(p)) for p in files}):
            make_output_directory(directory)
            recover(directory)
    stale = [path for path, text in files.items() if _read(path) != text]
    if check:
        return TablesResult([], [path for path in stale if path != depfile], notes)
    write_all_atomic({p: files[p] for p in stale})
    return TablesResult(stale, [], notes)
