"""What a name people type means: the one resolver of names behind the CLI (``info``, ``check``), the Python API
and the Datasette site (through the SQL function ``kbgen_resolve``).

A word is tried, in order, as: a helper id; a name an item carried (or a kfunc's or feature's id); a spelling of
one (with or without ``bpf_``/``BPF_FUNC_``, an enumerator's short form: ``XDP``); a libbpf macro that calls a
kfunc or helper (``bpf_obj_new`` -> ``bpf_obj_new_impl``, :data:`MACROS`); a libbpf section name (``fentry``,
``uprobe.s``, ``tc``: its program type, the attach type it must load with and, for a sleepable section, the
sleepable feature, from the newest mined section table); a feature by slug or plain words (``bounded loops``,
``sleepable``).  Where a spelling names items of several kinds, the program type is meant and the others are
named in the match's note.  A word nothing matches comes back with close names (difflib) to suggest.
"""

from __future__ import annotations

import difflib
import re
import sqlite3
from dataclasses import dataclass, field

from kb.store import queries
from kb.vocab.errors import KbgenError
from kb.vocab.kinds import (
    ENUM_KINDS,
    FEATURE,
    HELPER,
    HELPER_PREFIX,
    KFUNC,
    KINDS,
    LIBBPF,
    MAINLINE,
    PROG_TYPE,
)
from kb.vocab.sections import SectionTable

# Bounds on what one question may ask: input comes from requests.
MAX_WORDS = 200
MAX_WORD = 200
MAX_SUGGESTED = 10  # unknown words given suggestions (difflib costs tens of ms a word)

ID = "id"
NAME = "name"
SPELLING = "spelling"
MACRO = "macro"
SECTION = "section"
FEATURE_WORDS = "feature"
UNKNOWN = "unknown"

SLEEPABLE_FEATURE = "verifier.sleepable"
# A section whose expected attach type libbpf drops when the kernel refuses it: the type is not needed to load.
OPTIONAL_ATTACH_FLAGS = frozenset({"SEC_ATTACHABLE_OPT", "SEC_EXP_ATTACH_OPT"})


class ResolveError(KbgenError, ValueError):
    pass


@dataclass(frozen=True)
class Macro:
    """A macro BPF programs call as if it were a kfunc or helper, and what it calls."""

    name: str
    calls: str  # the kfunc's name, or a helper's name with bpf_
    source: str  # where the macro is defined
    note: str | None = None


_LIBBPF_HELPERS = "libbpf src/bpf_helpers.h"
_EXPERIMENTAL = "linux tools/testing/selftests/bpf/bpf_experimental.h"
MACROS: tuple[Macro, ...] = (
    Macro("bpf_printk", "bpf_trace_printk", _LIBBPF_HELPERS,
          "with more than three arguments it calls bpf_trace_vprintk"),
    Macro("bpf_obj_new", "bpf_obj_new_impl", _EXPERIMENTAL),
    Macro("bpf_obj_drop", "bpf_obj_drop_impl", _EXPERIMENTAL),
    Macro("bpf_percpu_obj_new", "bpf_percpu_obj_new_impl", _EXPERIMENTAL),
    Macro("bpf_percpu_obj_drop", "bpf_percpu_obj_drop_impl", _EXPERIMENTAL),
    Macro("bpf_refcount_acquire", "bpf_refcount_acquire_impl", _EXPERIMENTAL),
    Macro("bpf_list_push_front", "bpf_list_push_front_impl", _EXPERIMENTAL),
    Macro("bpf_list_push_back", "bpf_list_push_back_impl", _EXPERIMENTAL),
    Macro("bpf_rbtree_add", "bpf_rbtree_add_impl", _EXPERIMENTAL),
)
MACRO_OF = {m.name: m for m in MACROS}


@dataclass
class Match:
    """What one asked word means: the items (none when nothing matched), how it was matched, a note for people
    (the section's or macro's meaning, the other kinds a spelling names) and names to suggest."""

    position: int
    word: str
    items: list[queries.ItemRow]
    how: str
    note: str | None = None
    suggestions: list[str] = field(default_factory=list)

    @property
    def known(self) -> bool:
        return bool(self.items)


def display_name(item: queries.ItemRow) -> str:
    """The name shown everywhere: helpers with ``bpf_``, every other item as it is named."""
    return f"bpf_{item.name}" if item.kind == HELPER else item.name


def _short(item: queries.ItemRow) -> str | None:
    prefix = KINDS[item.kind].prefix if item.kind in KINDS else None
    return item.name[len(prefix):] if prefix and item.kind != HELPER and item.name.startswith(prefix) else None


def spellings(text: str) -> set[str]:
    """Every spelling a user may mean by *text*: with or without bpf_/BPF_FUNC_, an enumerator's short form."""
    text = text.strip()
    wanted = {text, text.lower(), f"bpf_{text}"}
    for prefix in ("bpf_", HELPER_PREFIX):
        if text.startswith(prefix):
            wanted.add(text[len(prefix):])
    upper = text.upper()
    wanted |= {upper} | {prefix + upper for _enum, prefix in ENUM_KINDS.values()}
    return wanted


def _slug(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


class Resolver:
    """The names of one set of candidate items (a tree's, with what mainline judges for it) and libbpf's newest
    section table, indexed once; :meth:`resolve` answers a word, :meth:`resolve_all` a list of them."""

    def __init__(self, candidates: list[queries.ItemRow], sections: SectionTable | None = None):
        self.candidates = candidates
        self.sections = sections
        self.by_name: dict[str, list[queries.ItemRow]] = {}
        self.by_id: dict[int, queries.ItemRow] = {}
        self.features: dict[str, list[queries.ItemRow]] = {}
        for item in candidates:
            keys = set(item.names) | ({item.value} if isinstance(item.value, str) else set())
            for key in keys:
                self.by_name.setdefault(key, []).append(item)
            if item.kind == HELPER:
                self.by_id[item.value] = item
            if item.kind == FEATURE:
                for key in {_slug(item.value), _slug(item.value.split(".", 1)[-1]),
                            _slug(re.sub(r"\s*\(.*\)$", "", item.title or ""))} - {""}:
                    self.features.setdefault(key, []).append(item)
        self._vocabulary: list[str] | None = None

    @classmethod
    def of(cls, conn: sqlite3.Connection, tree: str) -> Resolver:
        return cls(candidates(conn, tree), newest_sections(conn))

    # -- one word ------------------------------------------------------------------------------------------------

    def resolve(self, word: str, position: int = 0, suggest: bool = True) -> Match:
        text = word.strip()
        if len(text) > MAX_WORD:
            raise ResolveError(f"a name of {len(text)} characters (at most {MAX_WORD})")
        if text.isdigit():
            found = self.by_id.get(int(text))
            return Match(position, word, [found] if found else [], ID,
                         None if found else f"no helper has id {text}")
        kind, _colon, rest = text.partition(":")
        if _colon and kind in KINDS:
            return self._qualified(kind, rest.strip(), position, suggest)
        for attempt in (self._macro, self._named, self._spelled, self._section, self._feature):
            match = attempt(text, position)
            if match is not None:
                return match
        return Match(position, word, [], UNKNOWN, suggestions=self.suggest(text) if suggest else [])

    def _qualified(self, kind: str, text: str, position: int, suggest: bool) -> Match:
        """``attach_type:XDP``: the items of one kind a name or spelling names."""
        found = [i for i in self.by_name.get(text, []) if i.kind == kind]
        how = NAME
        if not found:
            how = SPELLING
            found = _unique([i for name in sorted(spellings(text)) for i in self.by_name.get(name, ())
                             if i.kind == kind])
        if kind == HELPER and text.isdigit() and int(text) in self.by_id:
            found, how = [self.by_id[int(text)]], ID
        return Match(position, f"{kind}:{text}", found, how if found else UNKNOWN,
                     suggestions=[] if found or not suggest else self.suggest(text))

    def _named(self, text: str, position: int) -> Match | None:
        found = self.by_name.get(text)
        return Match(position, text, _unique(found), NAME) if found else None

    def _spelled(self, text: str, position: int) -> Match | None:
        found = _unique([i for name in sorted(spellings(text)) for i in self.by_name.get(name, ())])
        if not found:
            return None
        programs = [i for i in found if i.kind == PROG_TYPE]
        if programs and len(programs) < len(found):
            others = ", ".join(f"{KINDS[i.kind].word} {i.name}" for i in found if i.kind != PROG_TYPE)
            return Match(position, text, programs, SPELLING,
                         f"the program type; also {others} (ask for attach_type:{text} and so on)")
        return Match(position, text, found, SPELLING)

    def _macro(self, text: str, position: int) -> Match | None:
        macro = MACRO_OF.get(text) or MACRO_OF.get(f"bpf_{text}")
        if macro is None:
            return None
        callee = macro.calls.removeprefix("bpf_")
        found = _unique([i for i in self.by_name.get(macro.calls, []) + self.by_name.get(callee, [])
                         if i.kind in (HELPER, KFUNC)])
        note = f"{macro.name} is a macro ({macro.source}) that calls {macro.calls}" + (
            f"; {macro.note}" if macro.note else "")
        own = [i for i in self.by_name.get(macro.name, []) if i.kind == KFUNC]
        if own:
            note += f"; {macro.name} is also a kfunc of its own (ask for kfunc:{macro.name})"
        return Match(position, text, found, MACRO, note)

    def _section(self, text: str, position: int) -> Match | None:
        if self.sections is None or not re.fullmatch(r"[a-z0-9_.+/?\-]+", text):
            return None
        found = self.sections.match(text)
        if found is None:
            return None
        wanted = [(PROG_TYPE, found.prog_type)]
        if found.expected_attach_type and not (found.flags & OPTIONAL_ATTACH_FLAGS):
            wanted.append(("attach_type", found.expected_attach_type))
        items = [i for kind, name in wanted for i in self.by_name.get(name, []) if i.kind == kind]
        words = [f"{KINDS[kind].word} {name}" for kind, name in wanted]
        if found.sleepable:
            items += self.by_name.get(SLEEPABLE_FEATURE, [])
            words.append("sleepable programs")
        note = f"libbpf section {text} (libbpf {self.sections.release}): " + ", ".join(words)
        return Match(position, text, _unique(items), SECTION, note)

    def _feature(self, text: str, position: int) -> Match | None:
        found = self.features.get(_slug(text))
        if not found:
            return None
        note = None if len(found) == 1 else "several features: " + ", ".join(i.value for i in found)
        return Match(position, text, list(found), FEATURE_WORDS, note)

    # -- suggestions ---------------------------------------------------------------------------------------------

    def vocabulary(self) -> list[str]:
        """Every name worth suggesting: display names, enumerators' short forms, feature slugs, section names."""
        if self._vocabulary is None:
            names = set(MACRO_OF)
            for item in self.candidates:
                names.add(display_name(item))
                if _short(item):
                    names.add(_short(item))
                if item.kind == FEATURE:
                    names.add(item.value.split(".", 1)[-1])
            if self.sections is not None:
                names |= {d.pattern.rstrip("+/") for d in self.sections.defs if d.pattern}
            self._vocabulary = sorted(names)
        return self._vocabulary

    def suggest(self, text: str, count: int = 3) -> list[str]:
        vocabulary = self.vocabulary()
        lowered = {name.lower(): name for name in vocabulary}
        close = difflib.get_close_matches(text.lower(), list(lowered), n=count, cutoff=0.72)
        return [lowered[name] for name in close]

    # -- a list of words -----------------------------------------------------------------------------------------

    def resolve_all(self, text: str) -> list[Match]:
        """The words of *text* (separated by commas, semicolons or lines; a part with spaces that means nothing
        as a whole is split at its spaces), each resolved, in order."""
        matches: list[Match] = []
        for part in re.split(r"[,;\n\r]+", text or ""):
            part = part.strip()
            if not part:
                continue
            whole = self.resolve(part, len(matches), suggest=False) if " " in part or "\t" in part else None
            if whole is not None and whole.known:
                matches.append(whole)
                continue
            for word in part.split():
                if len(matches) >= MAX_WORDS:
                    raise ResolveError(f"more than {MAX_WORDS} names asked for at once")
                unknown = sum(1 for m in matches if not m.known)
                matches.append(self.resolve(word, len(matches), suggest=unknown < MAX_SUGGESTED))
        return matches


def _unique(items) -> list[queries.ItemRow]:
    seen, kept = set(), []
    for item in items or ():
        if (item.kind, item.value) not in seen:
            seen.add((item.kind, item.value))
            kept.append(item)
    kept.sort(key=queries.kind_order)
    return kept


def candidates(conn: sqlite3.Connection, tree: str) -> list[queries.ItemRow]:
    """The items a name may mean in *tree*: its own, and mainline's of the kinds no source of *tree* gives
    completely (mainline judges those, kb.store.availability.mainline_stand_in)."""
    found = queries.items(conn, tree)
    if tree != MAINLINE and MAINLINE in queries.tree_names(conn):
        covered, mine = queries.covers(conn, tree), {(i.kind, i.value) for i in found}
        found += [i for i in queries.items(conn, MAINLINE) if i.kind not in covered and (i.kind, i.value) not in mine]
    return found


def newest_sections(conn: sqlite3.Connection) -> SectionTable | None:
    """The newest libbpf release's section table, where the knowledge base holds libbpf's."""
    if LIBBPF not in queries.tree_names(conn):
        return None
    tables = queries.section_tables(conn, LIBBPF, newest=True)
    return tables[-1] if tables else None
