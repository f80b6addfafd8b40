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
