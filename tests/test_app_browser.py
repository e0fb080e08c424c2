"""The classroom app in a real headless browser (Debian's Chromium driven by Playwright).

Starts the app server on a free local port, loads the page, moves a lever
slider, presses Reset and Step and checks that the charts changed; saves a
screenshot to ``test-artifacts/``. Prints the measured start-up and per-quarter
render times.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
N_CHARTS = 8

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not installed (/usr/bin/chromium): apt-get install chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is missing: pip install -e '.[viz,app]'")
pytest.importorskip("solara", reason="the app's dependencies are missing: pip install -e '.[viz,app]'")

from simulation.app.commands import free_port, start_server, stop_server, wait_until_ready

IMAGE_HASHES_JS = """
async () => {
  const images = Array.from(document.querySelectorAll('img')).filter(img => img.naturalWidth > 200);
  const hashes = [];
  for (const img of images) {
    let data;
    try {
      data = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
    } catch (error) {
      return null;  // the image was replaced (its blob URL revoked) while reading: try again
    }
    const digest = await crypto.subtle.digest('SHA-256', data);
    hashes.push(Array.from(new Uint8Array(digest)).map(b => b.toString(16).padStart(2, '0')).join(''));
  }
  return hashes;
}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app server on a free port; yields (url, seconds until it answered)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("app") / "server.log"
    with log_path.open("w") as log:
        process = start_server("baseline", port=port, log=log.fileno())
        try:
            url = f"http://127.0.0.1:{port}/"
            yield url, wait_until_ready(url, process, timeout_s=90)
        finally:
            stop_server(process)
    print(f"\n[app] server log tail:\n{log_path.read_text()[-1500:]}")


@pytest.fixture
def page(tmp_path):
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 1900},
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def chart_hashes(page) -> list[str]:
    """SHA-256 of every chart image's bytes (the src is a blob URL that changes on every redraw); [] while redrawing."""
    return page.evaluate(IMAGE_HASHES_JS) or []


def wait_for(condition, timeout_s: float = 30.0, interval_s: float = 0.05):
    """Poll until ``condition()`` is truthy; returns its value and the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        value = condition()
        if value:
            return value, time.perf_counter() - started
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s")


def body_text(page) -> str:
    return page.inner_text("body")


def assert_no_error(page) -> None:
    text = body_text(page)
    for word in ("Traceback", "Error", "error in step", "Exception"):
        assert word not in text, f"error text {word!r} on the page: {text[:2000]}"
    assert page.locator(".v-alert.error").count() == 0


def step_and_wait(page, before: list[str]) -> tuple[list[str], float]:
    """Press Step; returns the new chart hashes and the seconds until every chart was redrawn."""
    page.get_by_role("button", name="Step").click()
    return wait_for(lambda: (h := chart_hashes(page)) and len(h) == N_CHARTS and all(a != b for a, b in zip(h, before)) and h)


def test_app_loads_and_a_lever_changes_the_charts(server, page):
    url, server_seconds = server
    failed: list[str] = []
    # blob: and data: URLs are the page's own in-memory images (a blob is revoked when its chart is redrawn,
    # which can cancel its load): only requests that go to a server can show a missing asset
    page.on("requestfailed", lambda request: None if request.url.startswith(("blob:", "data:")) else failed.append(request.url))
    page.on("response", lambda response: failed.append(f"{response.status} {response.url}") if response.status >= 400 else None)

    started = time.perf_counter()
    page.goto(url)
    page.get_by_role("button", name="Reset").wait_for(timeout=90_000)
    hashes, _ = wait_for(lambda: len(h := chart_hashes(page)) == N_CHARTS and h, timeout_s=60)
    load_seconds = time.perf_counter() - started
    assert_no_error(page)
    text = body_text(page)
    assert "Scenario baseline" in text and "before the first quarter" in text
    assert "slider changes apply on Reset" in text
    assert not page.get_by_text("Page 0").is_visible(), "a lone page tab above the charts"
    assert not failed, f"requests failed (offline assets missing?): {failed}"

    # One quarter of the baseline.
    baseline_q1, first_step_seconds = step_and_wait(page, hashes)
    assert "last quarter 2026Q1" in body_text(page)

    # Move the relending-rate slider to its lowest value: marked as pending until Reset.
    label = page.get_by_text("Relending rate to banks (% a year): 1.25")
    thumb = label.locator("xpath=following-sibling::div[1]").get_by_role("slider")
    thumb.scroll_into_view_if_needed()
    thumb.focus()
    page.keyboard.press("Home")
    wait_for(lambda: "not applied yet" in body_text(page))
    assert "Relending rate to banks (% a year): 0.5 *" in body_text(page)

    # Reset applies it; Step runs the first quarter with the lower relending rate.
    page.get_by_role("button", name="Reset").click()
    wait_for(lambda: "relending.rate = 0.005" in body_text(page))
    reset_hashes, _ = wait_for(lambda: len(h := chart_hashes(page)) == N_CHARTS and h)
    cut_q1, _ = step_and_wait(page, reset_hashes)
    assert cut_q1 != baseline_q1, "the same quarter with a lower relending rate should draw different charts"

    # More quarters: the time from pressing Step until all eight charts are redrawn.
    render_seconds = []
    current = cut_q1
    for _ in range(3):
        current, seconds = step_and_wait(page, current)
        render_seconds.append(seconds)
    assert "last quarter 2026Q4" in body_text(page)
    assert_no_error(page)

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "app.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    # A second visitor gets a fresh economy of their own (the model is made per session, not per server).
    other = page.context.new_page()
    other.goto(url)
    other.get_by_role("button", name="Step").wait_for(timeout=60_000)
    wait_for(lambda: "before the first quarter" in body_text(other))
    assert "relending.rate" not in body_text(other)
    other.close()
    assert "last quarter 2026Q4" in body_text(page)

    # Another scenario loads at once with its own lever values, and Reset keeps it.
    page.locator(".v-select").first.click()
    page.get_by_role("option", name="relending_2025").click()
    wait_for(lambda: "Scenario relending_2025" in body_text(page) and "before the first quarter" in body_text(page))
    wait_for(lambda: "Relending rate to banks (% a year): 1.5\n" in body_text(page) + "\n")
    page.get_by_role("button", name="Reset").click()
    page.get_by_role("button", name="Step").click()
    wait_for(lambda: "Scenario relending_2025" in body_text(page) and "last quarter 2026Q1" in body_text(page))

    # Play runs quarter after quarter until paused.
    page.get_by_role("button", name="▶").click()
    wait_for(lambda: "last quarter 2026Q3" in body_text(page))
    page.get_by_role("button", name="❚❚").click()
    assert_no_error(page)

    print(f"\n[app] server answered after {server_seconds:.1f} s; page with charts after {load_seconds:.1f} s; "
          f"first quarter {first_step_seconds:.2f} s; later quarters {', '.join(f'{s:.2f}' for s in render_seconds)} s "
          f"(Step pressed → all {N_CHARTS} charts redrawn); screenshot {shot}")
