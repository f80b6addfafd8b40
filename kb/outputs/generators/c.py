"""The C header: a small library in one self-contained file for BPF C (clang -target bpf), C99 and C++ alike.

No includes at all, so that it works where libc does not; plain positional array initializers (C++ has no array
designators); ``static inline`` functions, ``constexpr`` in C++14 and later (so ``static_assert`` can call them);
KERNEL_VERSION defined only where the build has none (linux/version.h, bpf_helpers.h).

Every tree gets the same functions over its own release table: ``<p>_kb_release_index("5.15.0-91-generic")`` places
a kernel's release string among the tree's releases by kbgen's rule (kb/vocab/rules.py), and
``<p>_kb_status(item, release)`` judges an item's windows there.  An rc kernel counts as its final release.
Mainline and build trees also get KERNEL_VERSION() arrays and per-item macros of the kernel's version code; every
tree gets per-item macros of release indices, usable in ``#if``.  Every name comes through the shared identifier
check (kb.vocab.names) and no generated name is reserved (no leading underscore, no double underscore).
"""

from __future__ import annotations

import re

from kb.outputs.generators.literals import c_string
from kb.outputs.generators.model import TABLE_KINDS, Entry, TableModel
from kb.vocab.errors import KbgenError
from kb.vocab.kinds import ENUM_KINDS, HELPER
from kb.vocab.names import c_part, is_identifier
from kb.vocab.rules import BUILD_SCHEME, FINAL, MAINLINE_SCHEME, PLAUSIBLE_MAJORS_AHEAD

DEFAULT_PREFIX = "bpf"


def _group(kind: str) -> str:
    """What the per-item macros of a kind start with after the prefix: BPF_HELPER_MIN_KERNEL_<helper>,
    BPF_KFUNC_..., BPF_FEATURE_..., and for enumerators nothing (BPF_MIN_KERNEL_<enumerator>)."""
    return "" if kind in ENUM_KINDS else f"{kind.upper()}_"


class CHeaderError(KbgenError):
    pass


def check_prefix(prefix: str | None) -> str:
    """A --prefix: an identifier that reserves nothing (the names it starts are ``<prefix>_...``)."""
    prefix = DEFAULT_PREFIX if prefix is None else prefix
    if not is_identifier(prefix) or c_part(prefix) != prefix:
        raise CHeaderError(f"--prefix {prefix!r}: give a C identifier without leading, trailing or double "
                           "underscores (e.g. bpf, mykernel)")
    return prefix


def _comment(text: str) -> str:
    return re.sub(r"[^\x20-\x7e]", "?", text).replace("*/", "* /")


def _kv(version: tuple[int, int, int] | None) -> str:
    return "0" if version is None else "KERNEL_VERSION({}, {}, {})".format(*version)


class _Header:
    def __init__(self, model: TableModel, prefix: str):
        self.model = model
        self.p = prefix.lower() if prefix.upper() != prefix else prefix
        self.P = prefix.upper()
        self.lines: list[str] = []
        self.by_code = model.by_mainline or model.is_build
        self.releases = model.release_keys
        self.items = model.ordered()

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    # -- tables ------------------------------------------------------------------------------------------------

    def release_table(self) -> None:
        p, P = self.p, self.P
        size = max([len(key) for _n, key, _u in self.releases] + [len(u) for _n, _k, u in self.releases if u] + [4])
        self.add(f"#define {P}_KB_RELEASE_COUNT {len(self.releases)}", f"#define {P}_KB_KEY_SIZE {size}", "",
                 f"struct {p}_kb_release {{",
                 "\tconst char *name;",
                 "\tint size;  /* numbers in key */",
                 f"\tunsigned long key[{P}_KB_KEY_SIZE];",
                 "\tint reported_size;  /* numbers in the key of the release string its builds report; 0: none */",
                 f"\tunsigned long reported[{P}_KB_KEY_SIZE];",
                 "};", "")
        # C has no arrays of length 0: a tree without releases (none of its items is in one) gets one empty row.
        self.add(f"static KBGEN_DATA struct {p}_kb_release {p}_kb_releases[{P}_KB_RELEASE_COUNT + 1] KBGEN_UNUSED = {{")
        for name, key, uname in self.releases:
            reported = uname or ()
            self.add(f"\t{{{c_string(name)}, {len(key)}, {{{', '.join(map(str, key))}}}, {len(reported)}, "
                     f"{{{', '.join(map(str, reported)) or '0'}}}}},")
        self.add('\t{"", 0, {0}, 0, {0}}', "};", "")
        seen: set[str] = set()
        for index, (name, _key, _uname) in enumerate(self.releases):
            macro = f"{P}_RELEASE_{c_part(re.sub(r'[^A-Za-z0-9_]', '_', name))}"
            if macro not in seen:
                seen.add(macro)
                self.add(f"#define {macro} {index}")
        self.add("")

    def item_table(self) -> None:
        p, P = self.p, self.P
        windows: list[tuple[int, int]] = []
        rows = []
        for row in self.model.rows():
            rows.append(f"\t{{{P}_KIND_{row.kind.upper()}, {row.value}u, {c_string(row.name)}, {len(windows)}, "
                        f"{len(row.windows)}, {row.gpl_only}}},")
            windows += row.windows
        self.add(*[f"#define {P}_KIND_{kind.upper()} {n}" for n, kind in enumerate(TABLE_KINDS)], "",
                 f"#define {P}_KB_ITEM_COUNT {len(rows)}", f"#define {P}_KB_WINDOW_COUNT {len(windows)}", "",
                 f"struct {p}_kb_item {{",
                 f"\tint kind;  /* {P}_KIND_... */",
                 "\tunsigned int value;  /* the enum value (helper id); 0 for kfuncs and features */",
                 "\tconst char *name;  /* the name in use */",
                 f"\tint window;  /* its first window in {p}_kb_windows */",
                 "\tint windows;  /* how many: 0 when no release is known to have it */",
                 "\tint gpl_only;  /* 1, 0, or -1: not known */",
                 "};", "",
                 f"static KBGEN_DATA struct {p}_kb_item {p}_kb_items[{P}_KB_ITEM_COUNT + 1] KBGEN_UNUSED = {{", *rows,
                 '\t{-1, 0u, "", 0, 0, -1}', "};", "",
                 "/* [since, until) as release indices; -1: open */",
                 f"static KBGEN_DATA int {p}_kb_windows[{P}_KB_WINDOW_COUNT + 1][2] KBGEN_UNUSED = {{",
                 *[f"\t{{{s}, {u}}}," for s, u in windows], "\t{-1, -1}", "};", "")
        names = [(name, index) for index, row in enumerate(self.model.rows()) for name in row.names]
        self.add(f"#define {P}_KB_NAME_COUNT {len(names)}", "",
                 f"/* every name an item carried, and the item ({p}_kb_items) */",
                 f"struct {p}_kb_name {{", "\tconst char *name;", "\tint item;", "};", "",
                 f"static KBGEN_DATA struct {p}_kb_name {p}_kb_names[{P}_KB_NAME_COUNT + 1] KBGEN_UNUSED = {{",
                 *[f"\t{{{c_string(name)}, {index}}}," for name, index in names], '\t{"", -1}', "};", "")

    # -- per-item macros ---------------------------------------------------------------------------------------

    def _index_test(self, entry: Entry) -> str:
        tests = []
        for since, until in self.model.window_indices(entry):
            low = f"(release) >= {since}" if since >= 0 else "(release) >= -1"
            high = f"(release) < {until}" if until >= 0 else ""
            tests.append(" && ".join(filter(None, [low, high])))
        return " || ".join(f"({t})" for t in tests) if tests else "0"

    def _code_test(self, entry: Entry) -> str:
        """A C expression of `code` (a LINUX_VERSION_CODE) true on exactly the item's windows."""
        tests = []
        for since, until in entry.window_keys:
            low = f"(code) >= {_kv(Entry.base(since))}" if since else ""
            high = f"(code) < {_kv(Entry.base(until))}" if until else ""
            tests.append(" && ".join(filter(None, [low, high])) or "1")
        return " || ".join(f"({t})" for t in tests) if tests else "0"

    def item_macros(self) -> None:
        P = self.P
        seen: set[str] = set()
        for index, (kind, entry) in enumerate(self.items):
            group = f"{P}_{_group(kind)}"
            for name in dict.fromkeys((entry.name, *entry.names)):
                part = c_part(name)
                if not part or group + part in seen:
                    continue
                seen.add(group + part)
                indices = self.model.window_indices(entry)
                self.add(f"#define {group}KNOWN_{part} 1", f"#define {group}ITEM_{part} {index}",
                         f"#define {group}MIN_RELEASE_{part} {indices[0][0] if indices else -1}",
                         f"#define {group}AVAILABLE_AT_{part}(release) ({self._index_test(entry)})")
                if self.by_code:
                    self.add(f"#define {group}MIN_KERNEL_{part} {_kv(entry.first_base)}")
                    if entry.removed_in:
                        self.add(f"#define {group}REMOVED_IN_{part} {_kv(entry.removed_base)}")
                    self.add(f"#define {group}AVAILABLE_{part}(code) ({self._code_test(entry)})")
        self.add("")

    def code_arrays(self) -> None:
        """KERNEL_VERSION() arrays indexed by id, for the trees whose releases KERNEL_VERSION() can hold."""
        P, p = self.P, self.p
        for kind in (HELPER, *ENUM_KINDS):
            table = self.model.dense(kind)
            count = f"{P}_HELPER_COUNT" if kind == HELPER else f"{P}_{kind.upper()}_MIN_KERNEL_COUNT"
            self.add(f"#define {count} {len(table)}", "")
            if not table:
                continue  # C has no arrays of length 0; the count macro says 0
            for removed in (False, True):
                self.add(f"static KBGEN_DATA unsigned int {p}_{kind}_{'removed_in' if removed else 'min_kernel'}"
                         f"[{count}] KBGEN_UNUSED = {{")
                for value, entry in enumerate(table):
                    label = entry.name if entry else "(no such id)"
                    if removed:
                        release = entry.removed_in if entry and entry.removed_in else "not removed"
                        version = entry.removed_base if entry and entry.removed_in else None
                    else:
                        release = entry.first_release if entry and entry.first_release else "unknown"
                        version = entry.first_base if entry else None
                    self.add(f"\t{_kv(version)},\t/* {value}: {_comment(label)} ({_comment(release)}) */")
                self.add("};", "")

    # -- functions ---------------------------------------------------------------------------------------------

    def functions(self) -> None:
        model = self.model
        scheme = {MAINLINE_SCHEME: 0, BUILD_SCHEME: 1}.get(model.scheme, 2)
        horizon = model.horizon[1] if model.horizon else (0, 0)
        text = _FUNCTIONS.replace("@SCHEME@", str(scheme)).replace("@HMAJOR@", str(horizon[0])).replace(
            "@HMINOR@", str(horizon[1])).replace("@AHEAD@", str(PLAUSIBLE_MAJORS_AHEAD)).replace(
            "@FINAL@", str(FINAL)).replace("@HORIZON@", "1" if model.horizon else "0")
        self.add(text.replace("p_kb_", f"{self.p}_kb_").replace("P_KB_", f"{self.P}_KB_").replace(
            "P_KIND_", f"{self.P}_KIND_"))


def render(model: TableModel, prefix: str | None = None) -> str:
    prefix = check_prefix(prefix)
    header = _Header(model, prefix)
    P = header.P
    guard = f"KBGEN_{P}_{c_part(re.sub(r'[^A-Za-z0-9_]', '_', model.tree)).upper()}_FEATURES_H"
    basis = ("KERNEL_VERSION() of its mainline release" if model.by_mainline else
             f"KERNEL_VERSION() of the {model.tree} build's base release" if model.is_build else None)
    header.add(
        "/* SPDX-License-Identifier: Apache-2.0 */",
        "/*",
        " * Kernel releases of each BPF helper, program/map/attach/link type, command, kfunc and feature.",
        f" * Generated by kbgen from the {_comment(model.tree)} tree ({model.scheme} releases),",
        f" * {_comment(model.data_version)}.",
        " * Sources:",
        *[f" *   {_comment(sid)}" for sid, _desc in model.sources],
        f" * Functions: {header.p}_kb_release_index(\"5.15.0-91-generic\") places a kernel's release string among",
        f" * this tree's releases; {header.p}_kb_available(item, release) and {header.p}_kb_status() judge an item's",
        f" * windows there; {header.p}_kb_find(), {header.p}_kb_item(), {header.p}_kb_name(),",
        f" * {header.p}_kb_gpl_only().",
        f" * Per item: {P}_..._KNOWN_<name> (1; undefined, so 0 in #if, for what these tables do not know),",
        f" * {P}_..._ITEM_<name>, {P}_..._MIN_RELEASE_<name> and {P}_..._AVAILABLE_AT_<name>(release index)",
        (f" * and, as {basis}: {P}_..._MIN_KERNEL_<name> (0: no release known), _REMOVED_IN_ and"
           f" {P}_..._AVAILABLE_<name>(LINUX_VERSION_CODE), which honour every window." if basis else
           " * (its releases differ in numbers KERNEL_VERSION() cannot hold: use release indices)."),
        " * An rc kernel counts as its final release. Do not edit: run `kbgen tables`.",
        " */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "#ifndef KERNEL_VERSION",
        "#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))",
        "#endif",
        "",
        "#ifndef KBGEN_UNUSED",
        "#if defined(__GNUC__) || defined(__clang__)",
        "#define KBGEN_UNUSED __attribute__((unused))",
        "#else",
        "#define KBGEN_UNUSED",
        "#endif",
        "/* Tables are constexpr in C++ (usable in static_assert), functions from C++14 on. */",
        "#if defined(__cplusplus) && __cplusplus >= 201402L",
        "#define KBGEN_FUNCTION static constexpr inline",
        "#else",
        "#define KBGEN_FUNCTION static inline",
        "#endif",
        "#if defined(__cplusplus) && __cplusplus >= 201103L",
        "#define KBGEN_DATA constexpr",
        "#else",
        "#define KBGEN_DATA const",
        "#endif",
        "#endif",
        "",
        f"#define {P}_KB_TREE {c_string(model.tree)}",
        f"#define {P}_KB_DATA_VERSION {c_string(model.data_version)}",
        "",
    )
    header.release_table()
    header.item_table()
    header.item_macros()
    if header.by_code:
        header.code_arrays()
    header.functions()
    header.add(f"#endif /* {guard} */")
    return "\n".join(header.lines) + "\n"


# The rule of kb/vocab/rules.py in C, over index tables: a kernel string becomes a key, the key a release index,
# the index is judged against the windows.  "p_"/"P_" become the prefix.
_FUNCTIONS = r"""/* Statuses of p_kb_status(); release indices that are no release (p_kb_release_index()). */
#define P_KB_AVAILABLE 0
#define P_KB_NOT_YET 1
#define P_KB_REMOVED 2
#define P_KB_UNKNOWN 3
#define P_KB_BEFORE (-1)  /* older than every release of the tree: nothing is available */
#define P_KB_INVALID (-2)  /* not a kernel release string (or no kernel at all: 22.04) */
#define P_KB_BEYOND (-3)  /* newer than the knowledge base: nothing can be said */
#define P_KB_KEY_MAX 16

KBGEN_FUNCTION int p_kb_digit(char c) { return c >= '0' && c <= '9'; }

KBGEN_FUNCTION int p_kb_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* The numbers at s[*at], saturating; *at moves past them. */
KBGEN_FUNCTION unsigned long p_kb_number(const char *s, int *at)
{
	unsigned long n = 0;
	while (p_kb_digit(s[*at])) {
		n = n > 100000000ul ? 1000000000ul : n * 10 + (unsigned long)(s[*at] - '0');
		*at += 1;
	}
	return n;
}

/* kernel_key(): "5.15.0-91-generic" -> {5, 15, 0, @FINAL@, 91} (with exact; without, only the first four).
 * Returns the key's size, or 0 for what is not a kernel version; *rest: whether anything follows the version. */
KBGEN_FUNCTION int p_kb_kernel_key(const char *s, unsigned long *key, int exact, int *rest)
{
	int at = 0, end = 0, size = 4, dot = 0;
	while (p_kb_space(s[at])) at++;
	if (s[at] == 'v') at++;
	if (!p_kb_digit(s[at])) return 0;
	key[0] = p_kb_number(s, &at);
	if (s[at] != '.' || !p_kb_digit(s[at + 1])) return 0;
	at++;
	key[1] = p_kb_number(s, &at);
	key[2] = 0;
	key[3] = @FINAL@;
	if (s[at] == '.' && p_kb_digit(s[at + 1])) {
		at++;
		key[2] = p_kb_number(s, &at);
	}
	dot = (s[at] == '-' || s[at] == '.' || s[at] == '~' || s[at] == '_') ? 1 : 0;
	if (s[at + dot] == 'r' && s[at + dot + 1] == 'c' && p_kb_digit(s[at + dot + 2])) {
		at += dot + 2;
		key[3] = p_kb_number(s, &at);
	}
	while (s[end]) end++;
	while (end > at && p_kb_space(s[end - 1])) end--;
	for (dot = at; dot < end; dot++)
		if (s[dot] == '\n') return 0;
	*rest = at < end;
	if (!exact) return size;
	if (at < end && (s[at] == '-' || s[at] == '.' || s[at] == '+')) at++;
	if (at >= end || !p_kb_digit(s[at])) return size;
	while (at < end && size < P_KB_KEY_MAX) {
		if (p_kb_digit(s[at])) {
			key[size++] = p_kb_number(s, &at);
		} else if (s[at] == '.' || s[at] == '-') {
			at++;
		} else {
			break;
		}
	}
	return size;
}

/* Compares two keys as Python compares tuples. */
KBGEN_FUNCTION int p_kb_compare(const unsigned long *a, int a_size, const unsigned long *b, int b_size)
{
	int i = 0;
	for (i = 0; i < a_size && i < b_size; i++)
		if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
	return a_size == b_size ? 0 : (a_size < b_size ? -1 : 1);
}

/* Whether the first `size` numbers of a key of `k_size` are `key`. */
KBGEN_FUNCTION int p_kb_starts(const unsigned long *k, int k_size, const unsigned long *key, int size)
{
	return p_kb_compare(k, k_size < size ? k_size : size, key, size) == 0;
}

/* Whether the kernel string names a distribution's build that a mainline tree judges by its mainline version. */
KBGEN_FUNCTION int p_kb_approximate(const char *kernel)
{
	unsigned long key[P_KB_KEY_MAX] = {0};
	int rest = 0;
	return @SCHEME@ == 0 && p_kb_kernel_key(kernel, key, 0, &rest) && rest;
}

/* The index of the tree's release a kernel release string is judged as (kbgen's rule), or P_KB_BEFORE,
 * P_KB_INVALID, P_KB_BEYOND. A build's tables answer for the build: any kernel (or 0) is its release 0. */
KBGEN_FUNCTION int p_kb_release_index(const char *kernel)
{
	unsigned long key[P_KB_KEY_MAX] = {0};
	int size = 0, i = 0, found = P_KB_BEFORE, reported = 0, rest = 0;
	if (@SCHEME@ == 1 && !kernel) return 0;
	if (!kernel) return P_KB_INVALID;
	size = p_kb_kernel_key(kernel, key, @SCHEME@ == 2, &rest);
	if (!size) return P_KB_INVALID;
	if (@HORIZON@ && (key[0] < 2 || key[0] > @HMAJOR@ul + @AHEAD@ul)) return P_KB_INVALID;
	if (@SCHEME@ == 1) return 0;
	if (@HORIZON@ && (key[0] > @HMAJOR@ul || (key[0] == @HMAJOR@ul && key[1] > @HMINOR@ul))) return P_KB_BEYOND;
	key[3] = @FINAL@;
	for (i = 0; @SCHEME@ == 2 && i < P_KB_RELEASE_COUNT; i++) {
		if (p_kb_starts(p_kb_releases[i].key, p_kb_releases[i].size, key, size)) return i;
		if (p_kb_releases[i].reported_size
		    && p_kb_starts(p_kb_releases[i].reported, p_kb_releases[i].reported_size, key, size)) return i;
	}
	for (i = 0; i < P_KB_RELEASE_COUNT; i++) {
		reported = p_kb_releases[i].reported_size && p_kb_releases[i].reported[2] == key[2];
		if (reported ? p_kb_compare(p_kb_releases[i].reported, p_kb_releases[i].reported_size, key, size) < 0
		    : p_kb_compare(p_kb_releases[i].key, p_kb_releases[i].size, key, size) <= (@SCHEME@ == 0 ? 0 : -1))
			found = i;
	}
	return found;
}

/* P_KB_AVAILABLE, P_KB_NOT_YET, P_KB_REMOVED or P_KB_UNKNOWN (no release known -- an arrival known only within
 * two releases included: a release index cannot say more --, or the kernel is beyond the knowledge base) of item
 * `item` (p_kb_items) on release `release` (p_kb_release_index()). */
KBGEN_FUNCTION int p_kb_status(int item, int release)
{
	int i = 0, gone = 0, since = 0, until = 0;
	if (item < 0 || item >= P_KB_ITEM_COUNT || release == P_KB_BEYOND || release == P_KB_INVALID
	    || p_kb_items[item].windows == 0)
		return P_KB_UNKNOWN;
	for (i = 0; i < p_kb_items[item].windows; i++) {
		since = p_kb_windows[p_kb_items[item].window + i][0];
		until = p_kb_windows[p_kb_items[item].window + i][1];
		if (since >= 0 && release < since) return gone ? P_KB_REMOVED : P_KB_NOT_YET;
		if (until < 0 || release < until) return P_KB_AVAILABLE;
		gone = 1;
	}
	return P_KB_REMOVED;
}

KBGEN_FUNCTION int p_kb_available(int item, int release) { return p_kb_status(item, release) == P_KB_AVAILABLE; }

/* The item of an enum value (a helper id for P_KIND_HELPER), or -1. */
KBGEN_FUNCTION int p_kb_item(int kind, unsigned int value)
{
	int i = 0;
	for (i = 0; i < P_KB_ITEM_COUNT; i++)
		if (p_kb_items[i].kind == kind && p_kb_items[i].value == value && kind != P_KIND_KFUNC
		    && kind != P_KIND_FEATURE)
			return i;
	return -1;
}

KBGEN_FUNCTION int p_kb_same(const char *a, const char *b)
{
	int i = 0;
	while (a[i] && a[i] == b[i]) i++;
	return a[i] == b[i];
}

/* The item any name it carried names (helpers with or without bpf_), of `kind` (-1: any kind), or -1. */
KBGEN_FUNCTION int p_kb_find(int kind, const char *name)
{
	int i = 0, bare = 0;
	if (name[0] == 'b' && name[1] == 'p' && name[2] == 'f' && name[3] == '_') bare = 4;
	for (i = 0; i < P_KB_NAME_COUNT; i++) {
		int item = p_kb_names[i].item;
		if (kind >= 0 && p_kb_items[item].kind != kind) continue;
		if (p_kb_same(p_kb_names[i].name, name)
		    || (bare && p_kb_items[item].kind == P_KIND_HELPER && p_kb_same(p_kb_names[i].name, name + bare)))
			return item;
	}
	return -1;
}

/* The name in use of an enum value (a helper id for P_KIND_HELPER); 0 for none. */
KBGEN_FUNCTION const char *p_kb_name(int kind, unsigned int value)
{
	return p_kb_item(kind, value) < 0 ? 0 : p_kb_items[p_kb_item(kind, value)].name;
}

/* 1 when the verifier refuses the item to programs without a GPL-compatible license, 0 when not, -1: not known. */
KBGEN_FUNCTION int p_kb_gpl_only(int item)
{
	return item < 0 || item >= P_KB_ITEM_COUNT ? -1 : p_kb_items[item].gpl_only;
}

/* Whether a kernel (its release string) has helper `id`. */
KBGEN_FUNCTION int p_kb_helper_available(unsigned int id, const char *kernel)
{
	return p_kb_available(p_kb_item(P_KIND_HELPER, id), p_kb_release_index(kernel));
}
"""
