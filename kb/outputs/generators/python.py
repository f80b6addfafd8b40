"""The Python module: standalone (no kbgen import), the same data as the C header, and small functions.

Its judging code is kbgen's own (kb/vocab/rules.py, copied in verbatim), so ``available()`` in a build
answers exactly as ``kbgen scan`` and Datasette do: windows, distribution releases, and the rc rule.
"""

from __future__ import annotations

import pathlib
import re

from kb.outputs.generators.model import TABLE_KINDS, Entry, TableModel
from kb.vocab import rules
from kb.vocab.kinds import ENUM_KINDS, FEATURE, HELPER, KFUNC

_FUNCTIONS = """

Item = Union[int, str]
# status, the window it lies in (or the next one, or the last closed one): (since, until), and the release judged
class Why(NamedTuple):
    \"\"\"Why an item is or is not on a kernel.

    status: "available", "not_yet" (its next window starts later), "removed" (its last window closed before the
    kernel) or "unknown" (no release is known to have it, it arrived between two releases and the kernel lies
    between them, or the kernel is newer than these tables: *window* is None; an item known only to have arrived
    between two releases is "available" from the later on with *window* None); window: (since, until) release names, until None while open; release: the release of this tree the kernel
    was judged as; approximate: why the answer is not exact (a distribution's build judged by mainline, a kernel
    newer than the tables), else None.
    \"\"\"

    kind: str
    value: Item
    name: str
    kernel: Optional[str]
    status: str
    window: Optional[Tuple[Optional[str], Optional[str]]]
    release: Optional[str]
    approximate: Optional[str]


def _table(kind: str) -> Dict[Item, tuple]:
    if kind == "helper":
        return HELPERS
    if kind == "kfunc":
        return KFUNCS
    if kind == "feature":
        return FEATURES
    if kind not in ENUMS:
        raise KeyError(f"unknown kind {kind!r} (one of: {', '.join(KINDS)})")
    return ENUMS[kind]


def _names(kind: str) -> Dict[str, Item]:
    if kind in ("helper", "kfunc", "feature"):
        return {"helper": HELPER_IDS, "kfunc": {n: n for n in KFUNCS}, "feature": {n: n for n in FEATURES}}[kind]
    return dict(ALIASES[kind], **{entry[0]: value for value, entry in ENUMS[kind].items()})


def _spellings(text: str) -> List[str]:
    wanted = [text, text.lower(), "bpf_" + text]
    for prefix in ("bpf_", "BPF_FUNC_"):
        if text.startswith(prefix):
            wanted.append(text[len(prefix):])
    wanted.append(text.upper())
    wanted += [prefix + text.upper() for prefix in PREFIXES.values()]
    return wanted


def lookup(item: Item, kind: Optional[str] = None) -> Tuple[str, Item]:
    \"\"\"(kind, value) of an item named by a helper id (195, "195"), any name it carried, with or without bpf_ or
    BPF_FUNC_ (map_lookup_percpu_elem, bpf_map_lookup_percpu_elem), an enumerator in full or short (BPF_PROG_TYPE_XDP,
    XDP, xdp), a kfunc's name or a feature's slug; "kind:name" names the kind, as *kind* does.  Where a spelling names
    items of several kinds, the program type is meant.  Raises KeyError for what names nothing.\"\"\"
    if kind is None and isinstance(item, str) and ":" in item and item.split(":", 1)[0] in KINDS:
        kind, item = item.split(":", 1)
    kinds = [kind] if kind is not None else list(KINDS)
    for k in kinds:
        _table(k)
    text = str(item).strip()
    if isinstance(item, int) or text.isdigit():
        for k in kinds:
            if (k == "helper" or kind is not None) and int(text) in _table(k):
                return k, int(text)
        raise KeyError(f"unknown {kind or 'helper'} id {text}")
    for attempt in ([text], _spellings(text)):
        found = []
        for k in kinds:
            names = _names(k)
            found += [(k, names[n]) for n in attempt if n in names and (k, names[n]) not in found]
        if found:
            programs = [f for f in found if f[0] == "prog_type"]
            return (programs or found)[0]
    raise KeyError(f"unknown {kind + ' ' if kind else ''}{item!r}")


def _entry(kind: Optional[str], item: Item) -> Tuple[str, Item, tuple]:
    kind, value = lookup(item, kind)
    return kind, value, _table(kind)[value]


def name_of(kind: Optional[str], item: Item) -> str:
    \"\"\"The name in use of an item (by id or any name): 195 -> "map_lookup_percpu_elem".\"\"\"
    return _entry(kind, item)[2][0]


def min_release(kind: Optional[str], item: Item) -> Optional[str]:
    \"\"\"First release with an item of KIND ("helper", "prog_type", ..., "kfunc", "feature"; None: any); None if
    unknown.\"\"\"
    return _entry(kind, item)[2][1]


def removed_in(kind: Optional[str], item: Item) -> Optional[str]:
    \"\"\"The release that removed the item after its last window; None while it is there (see why()).\"\"\"
    return _entry(kind, item)[2][2]


def gpl_only(item: Item, kind: Optional[str] = "helper") -> Optional[bool]:
    \"\"\"Whether the verifier refuses the helper to programs without a GPL-compatible license; None if not known.\"\"\"
    return _entry(kind, item)[2][5]


def _place(kernel: Optional[str]) -> Tuple[tuple, Optional[int], Optional[str], Optional[str]]:
    \"\"\"(judged key, release index, beyond, approximate) of a kernel string in this tree, by kbgen's rule.\"\"\"
    if kernel is None:
        if SCHEME != BUILD_SCHEME:
            raise ValueError(f"tree {TREE} holds many releases: say which kernel to judge")
        return tuple(RELEASES[0][1]), 0, None, None
    key = kernel_key(kernel, exact=False)
    beyond = None
    if HORIZON is not None and horizon_verdict(key, HORIZON[1]) and SCHEME != BUILD_SCHEME:
        beyond = f"newer than the knowledge base ({HORIZON[0]})"
    judged, index = place(SCHEME, kernel, [keys for _name, *keys in RELEASES])
    approximate = None
    if SCHEME == MAINLINE_SCHEME and not is_mainline_version(kernel):
        approximate = f"{kernel} is a distribution's build judged as mainline {judged[0]}.{judged[1]}: it may have more"
    return judged, index, beyond, approximate


def why(item: Item, kernel: Optional[str] = None, kind: Optional[str] = None) -> Why:
    \"\"\"Whether a kernel ("5.15.0-91-generic", "6.16-rc1") has an item, and why (see Why).

    Honours windows (an item removed in 6.16 is not on 6.16 or 6.16.0-rc1) and the rc rule; *kernel* may be left
    out in a probed build's module.  Raises ValueError for a string that is no kernel release ("22.04").
    \"\"\"
    kind, value, entry = _entry(kind, item)
    judged, index, beyond, approximate = _place(kernel)
    release = RELEASES[index][0] if index is not None else f"{judged[0]}.{judged[1]}"
    if not beyond and not entry[3] and entry[7]:  # arrived within bounds, its first release not established
        return Why(kind, value, entry[0], kernel, arrival_verdict(judged, *entry[7]), None, release, approximate)
    if beyond or not entry[3]:
        return Why(kind, value, entry[0], kernel, "unknown", None, release, beyond or approximate)
    first_rc = kernel_key(entry[4], exact=False) if entry[4] else None
    status, at = verdict(judged, entry[3], first_rc)
    window = None if at is None else entry[6][at]
    return Why(kind, value, entry[0], kernel, status, window, release, approximate)


def available(kind: Optional[str], item: Item, kernel: Optional[str] = None) -> Optional[bool]:
    \"\"\"Whether a kernel has the item (see why()); None when no release is known to have it or the kernel is newer
    than these tables.\"\"\"
    answer = why(item, kernel, kind)
    return None if answer.status == "unknown" else answer.status == "available"


def helper_min_release(helper: Item) -> Optional[str]:
    \"\"\"First release with the helper (id or any name it carried), e.g. "5.19"; None if not known.\"\"\"
    return min_release("helper", helper)


def helper_available(helper: Item, kernel: Optional[str] = None) -> Optional[bool]:
    \"\"\"Whether a kernel has the helper; None when its first release is not known.\"\"\"
    return available("helper", helper, kernel)
"""


def _rules_source() -> str:
    """kb/vocab/rules.py without its docstring and imports: the judging code, verbatim."""
    text = pathlib.Path(rules.__file__).read_text(encoding="utf-8")
    body = re.sub(r'\A""".*?"""\s*', "", text, flags=re.DOTALL)
    return re.sub(r"^import re\n+", "", body, flags=re.MULTILINE).strip() + "\n"


def _entry(e: Entry) -> str:
    return (f"({e.name!r}, {e.first_release!r}, {e.removed_in!r}, {tuple(e.window_keys)!r}, {e.first_rc!r}, "
            f"{e.gpl_only!r}, {tuple(e.windows)!r}, {e.arrival!r})")


EXPORTED = tuple(sorted(("TREE", "SCHEME", "DATA_VERSION", "HORIZON", "RELEASES", "KINDS", "Why", "lookup", "name_of",
                         "min_release", "removed_in", "available", "why", "gpl_only", "helper_min_release",
                         "helper_available")))


def render(model: TableModel) -> str:
    lines = [
        f'"""Minimum kernel of each BPF helper, type, command, kfunc and feature ({model.tree} tree).',
        "",
        f"Generated by kbgen from {model.data_version}. Do not edit: run `kbgen tables`.",
        "Sources:",
        *[f"  {sid}" for sid, _desc in model.sources],
        "Standalone (no kbgen import), for Python 3.6 and later: lookup(), why(), available(), min_release(),",
        "removed_in(), gpl_only(), judged by kbgen's own rule (copied in below).",
        '"""',
        "",
        "import re",
        "from typing import Dict, List, NamedTuple, Optional, Tuple, Union",
        "",
        "__all__ = [" + ", ".join(repr(n) for n in EXPORTED) + "]",
        "",
        f"TREE = {model.tree!r}",
        f"SCHEME = {model.scheme!r}",
        f"DATA_VERSION = {model.data_version!r}",
        "# the newest release the knowledge base knows, and its key: a kernel past it is judged unknown",
        f"HORIZON = {model.horizon!r}",
        f"KINDS = {TABLE_KINDS!r}",
        "# each enum kind's enumerator prefix (short names: XDP for BPF_PROG_TYPE_XDP)",
        "PREFIXES = {" + ", ".join(f"{k!r}: {p!r}" for k, (_enum, p) in ENUM_KINDS.items()) + "}",
        "",
        "# the tree's releases, in order: (name, key, key of the kernel release string its builds report)",
        "RELEASES = [",
        *[f"    ({version!r}, {key!r}, {uname!r})," for version, key, uname in model.releases],
        "]",
        "",
        "# entries: (name in use, first release, removed in, windows as (since key, until key), first rc, GPL only,",
        "#           windows as (since, until) release names)",
        "HELPERS = {",
        *[f"    {e.value}: {_entry(e)}," for e in model.kinds[HELPER]],
        "}",
        "",
        "# every name a helper carried: id",
        "HELPER_IDS = {",
    ]
    names = sorted({(n, e.value) for e in model.kinds[HELPER] for n in e.names})
    lines += [f"    {n!r}: {v}," for n, v in names]
    lines += ["}", "", "# kind: {value: entry}", "ENUMS = {"]
    for kind in ENUM_KINDS:
        lines.append(f"    {kind!r}: {{")
        lines += [f"        {e.value}: {_entry(e)}," for e in model.kinds[kind]]
        lines.append("    },")
    lines += ["}", "", "# kind: {other name: value} (aliases and former names)", "ALIASES = {"]
    for kind in ENUM_KINDS:
        others = sorted({(n, e.value) for e in model.kinds[kind] for n in e.names if n != e.name})
        lines.append(f"    {kind!r}: {{" + ", ".join(f"{n!r}: {v}" for n, v in others) + "},")
    lines += ["}", "", "# kfunc name: entry", "KFUNCS = {"]
    lines += [f"    {e.name!r}: {_entry(e)}," for e in model.kinds[KFUNC]]
    lines += ["}", "", "# feature slug: entry", "FEATURES = {"]
    lines += [f"    {e.value!r}: {_entry(e)}," for e in model.kinds[FEATURE]]
    lines.append("}")
    return "\n".join(lines) + "\n\n\n" + _rules_source() + _FUNCTIONS
