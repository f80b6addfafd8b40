"""A crawler of the site's internal links, through Datasette's own client: what the tests sample and
bench/crawl_datasette.py walks in full."""

from __future__ import annotations

import html
import random
import re
import statistics
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

_HREF = re.compile(r'(?:href|action)="([^"]*)"')


@dataclass
class Crawl:
    seeds: list[str]
    statuses: dict[str, int] = field(default_factory=dict)  # every page fetched -> status
    seconds: dict[str, float] = field(default_factory=dict)
    links: int = 0  # internal links seen on the seed pages, counted with repeats
    found: int = 0  # distinct internal links the seed pages have

    def failures(self) -> dict[str, int]:
        return {url: status for url, status in self.statuses.items() if status >= 400}

    def summary(self) -> str:
        counts: dict[int, int] = {}
        for status in self.statuses.values():
            counts[status] = counts.get(status, 0) + 1
        median = statistics.median(self.seconds.values()) * 1000 if self.seconds else 0
        return (f"{len(self.seeds)} seed pages, {self.links} internal links ({self.found} distinct), "
                f"{len(self.statuses)} distinct pages fetched, statuses {dict(sorted(counts.items()))}, "
                f"median {median:.1f} ms a page")


def internal_links(page: str, body: str) -> list[str]:
    """Every internal link (href, form action) of *body*, as a path with its query."""
    found = []
    for href in _HREF.findall(body):
        url = urlsplit(urljoin("http://localhost" + page, html.unescape(href)))
        if url.scheme in ("http", "https") and url.netloc == "localhost":
            found.append(url.path + (f"?{url.query}" if url.query else ""))
    return found


async def _fetch(ds, result: Crawl, page: str) -> str:
    start = time.perf_counter()
    response = await ds.client.get(page)
    result.seconds[page] = time.perf_counter() - start
    result.statuses[page] = response.status_code
    return response.text


async def crawl(ds, extra_seeds: tuple[str, ...] = (), sample: int | None = None, seed: int = 19) -> Crawl:
    """Fetch `/`, `/kb`, every table's page and *extra_seeds*, then the internal links they have: all of them, or
    a fixed sample of *sample* (the same pages for the same *seed* and site)."""
    tables = (await ds.client.get("/kb.json")).json()["tables"]
    result = Crawl(["/", "/kb", *(f"/kb/{t['name']}" for t in tables), *extra_seeds])
    queue: list[str] = []
    for page in result.seeds:
        links = internal_links(page, await _fetch(ds, result, page))
        result.links += len(links)
        queue += links
    pending = [page for page in dict.fromkeys(queue) if page not in result.statuses]
    result.found = len(pending)
    if sample is not None and sample < len(pending):
        pending = random.Random(seed).sample(sorted(pending), sample)
    for page in pending:
        await _fetch(ds, result, page)
    return result
