"""``kbgen tables``: render the lookup tables of one tree and write (or check) them."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field

from kb.formats.atomic import OutputError, make_output_directory, recover, write_all_atomic

# lang -> (file name in the output directory, generator module)
LANGUAGES = {
    "c": ("bpf_features.h", "kb.outputs.generators.c"),
    "python": ("bpf_features.py", "kb.outputs.generators.python"),
    "json": ("bpf_features.json", "kb.outputs.generators.json"),
    "macros": ("bpf_feature_macros.h", "kb.outputs.generators.macros"),
}
DEFAULT_LANGUAGES = ("c", "python")


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
    if len(languages) == 1 and not os.path.isdir(output) and os.path.splitext(output)[1]:
        return {languages[0]: output}
    return {lang: os.path.join(output, LANGUAGES[lang][0]) for lang in languages}


def render(model, languages: tuple[str, ...]) -> dict[str, str]:
    return {lang: importlib.import_module(LANGUAGES[lang][1]).render(model) for lang in languages}


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as err:
        raise OutputError(f"{path}: cannot read ({err})") from None


def generate(conn, *, tree: str | None, languages: tuple[str, ...] | None, output: str, check: bool) -> TablesResult:
    from kb.outputs.generators.model import build_model

    model = build_model(conn, tree)
    notes = []
    if languages is None:
        languages = DEFAULT_LANGUAGES
        if not (model.by_mainline or model.is_build):
            languages = tuple(lang for lang in languages if lang != "c")
            notes.append(f"no C header for tree {model.tree}: KERNEL_VERSION() cannot hold its {model.scheme} "
                         "releases (--lang python judges by them)")
    paths = output_paths(languages, output)
    contents = render(model, languages)
    files = {paths[lang]: contents[lang] for lang in languages}
    if not check:
        for directory in sorted({os.path.dirname(os.path.abspath(p)) for p in files}):
            make_output_directory(directory)
            recover(directory)
    stale = [path for path, text in files.items() if _read(path) != text]
    if check:
        return TablesResult([], stale, notes)
    write_all_atomic({p: files[p] for p in stale})
    return TablesResult(stale, [], notes)
