"""What the pages render from the data: bpf.h's reStructuredText as the man page renders it, the prototype as
bpf_doc.py sets it, and the timeline's SVG."""

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from kb.site import rest, timeline

DOCS = [json.loads(line) for line in (Path(__file__).parent.parent / "data" / "helper_docs.jsonl").open()]
LEFTOVERS = [r"\\ ", r"\\\(", "``", r"(^|\s)::(\s|$)", "\x00"]


def test_no_markup_is_left_over_in_any_helper_doc():
    left = [(doc["id"], field, pattern) for doc in DOCS for field in ("description", "returns")
            for text in (str(rest.to_html(doc[field])), rest.to_text(doc[field]))
            for pattern in LEFTOVERS if re.search(pattern, text, re.MULTILINE)]
    assert len(DOCS) > 200 and left == []


def test_inline_markup_as_rst_recognises_it():
    assert rest.inline("See **bpf_probe_read_user**\\ () and *ctx*.") == \
        "See <strong>bpf_probe_read_user</strong>() and <em>ctx</em>."
    assert rest.inline("*xdp_md*\\ **->data_end**") == "<em>xdp_md</em><strong>-&gt;data_end</strong>"
    assert rest.inline("``telnet`` is a task") == "<code>telnet</code> is a task"
    assert rest.inline("2*3*4 and a * b") == "2*3*4 and a * b"  # not markup: no word boundary
    assert rest.inline("long (\\*callback_fn)(void \\*ctx)") == "long (*callback_fn)(void *ctx)"
    # What docutils (and so the man page) does with an unclosed *skb*s: emphasis runs to the next star.
    assert rest.inline("incoming *skb*s to **PACKET_HOST**").startswith("incoming <em>skb*s to")


def test_blocks_as_the_man_page_has_them():
    html = str(rest.to_html(next(d for d in DOCS if d["id"] == 6)["description"]))
    assert "<pre>telnet-470   [001] .N.. 419421.045894: 0x00000001: &lt;formatted msg&gt;</pre>" in html
    assert "<blockquote><ul><li><p><code>telnet</code> is the name of the current task.</p></li>" in html
    flags = str(rest.to_html(next(d for d in DOCS if d["id"] == 2)["description"]))
    assert "<dl><dt><strong>BPF_NOEXIST</strong></dt><dd><p>The entry for <em>key</em> must not exist" in flags
    assert str(rest.to_html("Like this::\n\n\tcode here\n")) == "<p>Like this:</p><pre>code here</pre>"
    assert str(rest.to_html("Like this ::\n\n\tcode\n")) == "<p>Like this</p><pre>code</pre>"
    assert rest.to_text("**A** list:\n\n* one\n* *two*\n") == "A list:\n\n* one\n* two"


def test_prototype_bold_with_argument_names_in_italics():
    proto = "void *bpf_map_lookup_percpu_elem(struct bpf_map *map, const void *key, u32 cpu)"
    assert str(rest.signature(proto)) == (
        '<code class="kbgen-proto"><strong>void *bpf_map_lookup_percpu_elem(</strong><strong>struct bpf_map *</strong>'
        "<em>map</em><strong>, </strong><strong>const void *</strong><em>key</em><strong>, </strong>"
        "<strong>u32 </strong><em>cpu</em><strong>)</strong></code>")
    assert rest.first_argument(proto) == "struct"
    assert rest.first_argument("u64 bpf_ktime_get_ns(void)") == "void"
    assert str(rest.signature("not a prototype")) == "<code>not a prototype</code>"


def test_timeline_svg():
    releases = [("5.18", {"helper": 3}), ("5.19", {"helper": 10, "link_type": 1, "feature": 3}), ("6.0", {})]
    svg = str(timeline.svg(releases, lambda r: f"/kb/arrived_in?release={r}"))
    root = ET.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    bars = root.findall("s:a", ns)
    assert [a.get("href") for a in bars] == [f"/kb/arrived_in?release={r}" for r in ("5.18", "5.19", "6.0")]
    tip = bars[1].find("s:title", ns).text
    assert tip == "5.19: 14 arrived (10 helpers, 1 link type, 3 features)"
    assert len(bars[1].findall("s:rect", ns)) == 4  # the hit area and one rectangle a kind
    assert "script" not in svg
    assert timeline._ticks(43) == [0, 10, 20, 30, 40, 50]
    assert timeline._ticks(4) == [0, 1, 2, 3, 4]
    assert str(timeline.svg([], str)) == ""
