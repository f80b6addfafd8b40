"""The timeline: how many items of each kind arrived in each release, as inline SVG drawn on the server.

One stacked bar a release, oldest left; each bar is a link (to what arrived in that release) with a tooltip
giving the counts.  Plain SVG: no script, no external style, readable without JavaScript and printable.
"""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape

from kb.vocab.kinds import KINDS

# What each kind is called, one of it; the legend says them in the plural.

BAR, GAP = 12, 4
LEFT, RIGHT, TOP, PLOT, BOTTOM = 36, 8, 34, 190, 46


def _ticks(top: int) -> list[int]:
    """Round gridline values from 0 to at least *top*, four or five of them."""
    step = 1
    while top / step > 5:
        for factor in (2, 5, 10):
            if top / (step * factor) <= 5:
                step *= factor
                break
        else:
            step *= 10
    return list(range(0, top + step, step)) if top else [0]


def _tooltip(release: str, counts: dict[str, int]) -> str:
    total = sum(counts.values())
    parts = [f"{counts[k]} {KINDS[k].plural if counts[k] != 1 else KINDS[k].word}" for k in KINDS if counts.get(k)]
    return f"{release}: {total} arrived ({', '.join(parts)})" if parts else f"{release}: nothing arrived"


def svg(releases: list[tuple[str, dict[str, int]]], href: Callable[[str], str],
        title: str = "What arrived in each release") -> Markup:
    """*releases*: ``(release, {kind: count})`` oldest first; *href*: the link of a release's bar."""
    if not releases:
        return Markup("")
    ticks = _ticks(max(sum(c.values()) for _r, c in releases))
    scale = PLOT / ticks[-1] if ticks[-1] else 0
    legend = sum(28 + 6 * len(k.plural) for k in KINDS.values())
    width = max(LEFT + len(releases) * (BAR + GAP) + RIGHT, LEFT + legend)
    height = TOP + PLOT + BOTTOM
    base = TOP + PLOT
    out = [(f'<svg class="kbgen-timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-labelledby="kbgen-timeline-title" '
            'font-family="sans-serif" font-size="10">'),
           f'<title id="kbgen-timeline-title">{escape(title)}</title>']
    x = LEFT
    for kind, label, colour in ((k.name, k.plural, k.colour) for k in KINDS.values()):  # the legend, across the top
        out.append(f'<rect x="{x}" y="6" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{x + 14}" y="15">{escape(label)}</text>')
        x += 14 + 6 * len(label) + 14
    for tick in ticks:
        y = base - tick * scale
        out.append(f'<line x1="{LEFT - 4}" x2="{width - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{LEFT - 6}" y="{y + 3:.1f}" text-anchor="end" fill="#555">{tick}</text>')
    for index, (release, counts) in enumerate(releases):
        x = LEFT + index * (BAR + GAP) + GAP // 2
        tip = escape(_tooltip(release, counts))
        out.append(f'<a href="{escape(href(release))}" class="kbgen-bar" data-release="{escape(release)}">'
                   f'<title>{tip}</title>'
                   f'<rect x="{x - GAP // 2}" y="{TOP}" width="{BAR + GAP}" height="{PLOT}" fill="transparent"/>')
        y = float(base)
        for kind, colour in ((k.name, k.colour) for k in KINDS.values()):
            if counts.get(kind):
                h = counts[kind] * scale
                y -= h
                out.append(f'<rect x="{x}" y="{y:.1f}" width="{BAR}" height="{h:.1f}" fill="{colour}"/>')
        lx, ly = x + BAR / 2 + 3, base + 8
        out.append(f'<text x="{lx:.1f}" y="{ly}" text-anchor="end" transform="rotate(-60 {lx:.1f} {ly})" '
                   f'fill="#333">{escape(release)}</text></a>')
    out.append(f'<line x1="{LEFT}" x2="{width - RIGHT}" y1="{base}" y2="{base}" stroke="#888"/></svg>')
    return Markup("".join(out))


def check_chart(rows: list[dict], kernel: str | None, key: Callable[[str], tuple | None]) -> Markup:
    """Each checked item's first release against the asked kernel: one row an item, releases across (the
    releases named, in version order), a dot coloured by kind, the kernel a vertical line.  *key* orders
    versions (kb.site.sqlfunctions.version_key)."""
    items = [r for r in rows if r.get("first_release") and key(r["first_release"]) is not None][:60]
    if not items:
        return Markup("")
    asked = key(kernel) if kernel else None
    stops = sorted({r["first_release"] for r in items}, key=key)
    name_width = min(260, 7 * max(len(r["name"] or "") for r in items) + 12)
    step = 44
    width = name_width + step * (len(stops) + 1)
    height = 40 + 20 * len(items)

    against = f" against {escape(kernel)}" if kernel else ""

    def x_of(version_key: tuple) -> float:
        before = sum(1 for s in stops if key(s) <= version_key)
        return name_width + step * (before - 0.5) if before else name_width + step * 0.1

    out = [(f'<svg class="kbgen-check-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-labelledby="kbgen-check-chart-title" '
            'font-family="sans-serif" font-size="11">'),
           f'<title id="kbgen-check-chart-title">Each item\'s first release{against}</title>']
    for index, stop in enumerate(stops):
        x = name_width + step * (index + 0.5)
        out.append(f'<line x1="{x}" x2="{x}" y1="22" y2="{height - 8}" stroke="#eee"/>'
                   f'<text x="{x}" y="14" text-anchor="middle" fill="#555">{escape(stop)}</text>')
    if asked is not None:
        x = x_of(asked) + step * 0.25
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="18" y2="{height - 4}" stroke="#b3261e" stroke-width="2"'
                   f' stroke-dasharray="4 3"/><text x="{x + 4:.1f}" y="{height - 6}" fill="#b3261e">'
                   f'{escape(kernel)}</text>')
    for index, row in enumerate(items):
        y = 34 + 20 * index
        x = name_width + step * (stops.index(row["first_release"]) + 0.5)
        colour = KINDS[row["kind"]].colour if row.get("kind") in KINDS else "#333"
        out.append(f'<text x="{name_width - 8}" y="{y + 4}" text-anchor="end">{escape(row["name"] or "")}</text>'
                   f'<line x1="{name_width}" x2="{x}" y1="{y}" y2="{y}" stroke="#ccc"/>'
                   f'<circle cx="{x}" cy="{y}" r="6" fill="{colour}" stroke="#333"><title>'
                   f'{escape(row["name"] or "")}: first in {escape(row["first_release"])}</title></circle>')
    out.append("</svg>")
    return Markup("".join(out))
