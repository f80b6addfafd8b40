"""The site in a real browser: Debian's chromium driven by the playwright package (no browser download), against
a real `kbgen serve` on loopback.  Screenshots go to test-artifacts/ for people to look at.  Skips where chromium
or playwright is missing."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from datasette_site import BUILD_RELEASE, build_user_db

sync_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}

pytestmark = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=f"{CHROMIUM} not installed (Debian chromium)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def started(shared):
    """`kbgen serve` on loopback, with a probed build in the user's database: started, not yet answering."""
    db = build_user_db(shared)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kb", "serve", "--port", str(port), "--db", db], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    yield proc, f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(started):
    """Chromium, launched while the server starts (it asks for the server first for that)."""
    with sync_api.sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except sync_api.Error as err:
            pytest.skip(f"chromium does not start under playwright: {str(err).splitlines()[0]}")
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(started, browser):
    proc, base = started
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/kb.json", timeout=5):
                break
        except (urllib.error.URLError, ConnectionError):
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.time() < deadline, "server did not start"
            time.sleep(0.1)
    return base


@pytest.fixture(scope="module")
def tabs(browser):
    """One page for each window width, which every test of that width loads afresh with goto: a new browser context
    and page cost chromium more than the page load itself (one per test was over half of this file's CPU time),
    and the site keeps no state in the browser for one test to leave to the next."""
    opened = {}

    def tab(width):
        if width not in opened or opened[width].is_closed():
            context = browser.new_context(viewport={"width": width, "height": VIEWPORT["height"]})
            opened[width] = context.new_page()
        return opened[width]

    yield tab
    for page in opened.values():
        page.context.close()


@pytest.fixture
def page(tabs):
    return tabs(VIEWPORT["width"])


def screenshot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_the_landing_form_answers_the_user_story(server, page):
    page.goto(server + "/")
    screenshot(page, "landing")
    page.fill("#kbgen-kernel", "5.15.0-91-generic")
    page.fill("#kbgen-items", "195, bpf_map_lookup_elem")
    page.click("form.kbgen-form input[type=submit]")
    page.wait_for_load_state()
    assert "/kb/check?" in page.url
    verdict = page.inner_text("#kbgen-verdict")
    assert "5.15.0-91-generic" in verdict and "lacks 1 of the 2 asked for" in verdict
    assert "map_lookup_percpu_elem (not yet: first in 5.19)" in verdict
    missing = page.locator("tr.kbgen-missing")
    assert missing.count() == 1
    assert "map_lookup_percpu_elem" in missing.inner_text() and "✗ no" in missing.inner_text()
    assert "SELECT" not in page.title().upper() and "Does this kernel have these items?" in page.title()
    screenshot(page, "check-5.15.0-91-generic")


def test_a_probed_build_answers_for_itself(server, page):
    page.goto(server + "/")
    page.fill("#kbgen-kernel", BUILD_RELEASE)
    page.fill("#kbgen-items", "195, cgrp_storage_delete")
    page.click("form.kbgen-form input[type=submit]")
    page.wait_for_load_state()
    verdict = page.inner_text("#kbgen-verdict")
    assert f"judged as {BUILD_RELEASE} (mybuild)" in verdict and "not in the build mybuild" in verdict


def test_the_timeline_leads_to_what_arrived(server, page):
    page.goto(server + "/")
    bar = page.locator('svg.kbgen-timeline a[data-release="5.19"]')
    assert "5.19: 14 arrived" in bar.locator("title").text_content()
    bar.click()
    page.wait_for_load_state()
    assert page.url == server + "/kb/arrived_in?release=5.19"
    assert page.inner_text("h1") == "What arrived in 5.19"
    assert page.locator("td.col-name", has_text="map_lookup_percpu_elem").count() == 1
    screenshot(page, "arrived-in-5.19")


def test_a_helper_page_shows_its_card(server, page):
    page.goto(server + "/kb/helpers/195")
    card = page.locator(".kbgen-card")
    assert card.is_visible()
    text = card.inner_text()
    assert "Available from Linux 5.19 on." in text and "Not GPL-only" in text
    assert "Program types that can call it" in text and "as documented" in text
    assert page.get_by_role("link", name="bpf-helpers(7) man page", exact=True).count() == 1
    assert page.get_by_role("link", name="ebpf-docs", exact=True).count() == 1
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORT["width"]
    screenshot(page, "helper-195")


def test_the_helpers_table_fits(server, page):
    page.goto(server + "/kb/helpers")
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    assert page.evaluate("document.documentElement.scrollHeight") < 12000  # was 62,000 px with full descriptions
    screenshot(page, "helpers")


def test_a_build_page_lists_backports(server, page):
    page.goto(server + "/kb/trees/mybuild")
    assert "Backports (2)" in page.inner_text("body")
    screenshot(page, "build-mybuild")


WIDTHS = [1280, 390]


@pytest.fixture(params=WIDTHS, ids=lambda w: f"{w}px")
def sized(tabs, request):
    return tabs(request.param), request.param


def fits(page, width):
    """Nothing wider than the window: no horizontal scrolling of the page itself."""
    return page.evaluate("document.documentElement.scrollWidth") <= width


def test_xdp_on_5_4_is_available(server, sized):
    page, width = sized
    page.goto(server + "/kb/check?kernel=5.4&items=XDP")
    verdict = page.inner_text("#kbgen-verdict")
    assert "has it" in verdict and "lacks" not in verdict
    assert "BPF_PROG_TYPE_XDP" in page.inner_text("table.rows-and-columns") and "4.8" in page.inner_text("body")
    assert "also attach type BPF_XDP" in page.inner_text("ul.kbgen-matched")
    assert fits(page, width)
    screenshot(page, f"check-xdp-5.4-{width}")


def test_the_diff_page(server, sized):
    page, width = sized
    page.goto(server + "/")
    page.click("text=what 6.1 has that 5.15 lacks")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "From 5.15 to 6.1"
    assert "A 6.1 kernel has" in page.inner_text("#kbgen-verdict")
    assert page.locator("#arrived + .table-wrapper a", has_text="bpf_loop").count() == 1
    assert fits(page, width)
    screenshot(page, f"diff-5.15-6.1-{width}")


def test_the_fleet_matrix(server, sized):
    page, width = sized
    page.goto(server + "/kb/fleet")
    page.fill("#kbgen-items", "bpf_loop, XDP, 195, fentry")
    page.fill("#kbgen-kernels", "5.4 5.15 6.1")
    page.click("form.kbgen-form input[type=submit]")
    page.wait_for_load_state()
    headers = page.locator("#kbgen-fleet thead th.kbgen-kernel").all_inner_texts()
    labels = [h.split("\n")[0] for h in headers]
    assert BUILD_RELEASE in labels and labels[-3:] == ["5.4", "5.15", "6.1"]
    assert page.locator("#kbgen-fleet td.kbgen-cell-yes").count() > 0
    assert page.locator("#kbgen-fleet td.kbgen-cell-no").count() > 0
    green = page.eval_on_selector("#kbgen-fleet td.kbgen-cell-yes", "e => getComputedStyle(e).backgroundColor")
    assert green == "rgb(26, 127, 55)"
    assert fits(page, width)  # the matrix scrolls inside its own box
    screenshot(page, f"fleet-{width}")


@pytest.mark.parametrize("path", ["/kb/helpers/195", "/kb/prog_types/6?kernel=5.4", "/kb/kfuncs/bpf_dynptr_slice",
                                  "/kb/trees/mybuild", "/", "/kb/check?items=bpf_loop%2C+XDP%2C+bpf_obj_new"])
def test_no_horizontal_overflow(server, sized, path):
    page, width = sized
    page.goto(server + path)
    assert fits(page, width), page.evaluate("document.documentElement.scrollWidth")
    if width == 390 and path.startswith("/kb/helpers/"):
        screenshot(page, "helper-195-390")
