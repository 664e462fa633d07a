"""Page weight on a slow link: bytes on the wire and time to usable, for the researcher page
and every staff page, in Chromium with its network emulation (400 ms latency, 50 kB/s down
and up) against a real local hub holding the demo's month of activity.

``transfer_bytes`` is the deterministic half: what a page and the subresources it links cost
as the service sends them (headers and compressed bodies), used by the bench beside Chromium's
own count and by the test suite, so a heavier page fails CI without a timing assertion.
"""

from __future__ import annotations

import gzip
import random
import re
import shutil
import statistics
from collections.abc import Callable
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import requests

from catalyst_hub.demo import demo_events
from catalyst_hub.events import MEMBER
from catalyst_hub.seed import sender_kind
from catalyst_hub.timeutil import utcnow
from harness.realhub import RealHub

#: The budgets of the issue "Figures a champion can act on", in bytes on the wire
RESEARCHER_BUDGET = 5_000
STAFF_BUDGET = 12_000
USABLE_BUDGET_MS = 1_000
#: Chromium's network emulation: a slow mobile link
LATENCY_MS = 400
THROUGHPUT = 50_000  # bytes per second, down and up

#: What a page makes the browser load: style sheets, scripts, images, icons
SUBRESOURCE = re.compile(
    r'<(?:link\b[^>]*\brel="(?:stylesheet|icon)"[^>]*\bhref|script\b[^>]*\bsrc|img\b[^>]*\bsrc)="([^"]+)"'
)

#: CDP resource types a page's own markup loads
PAGE_TYPES = {"Document", "Stylesheet", "Script", "Image", "Font"}

RESEARCHER = "ana@andes.example.org"
ADMIN = "admin"
USERS = {RESEARCHER: "ana-pass", "jorge@andes.example.org": "jorge-pass", "amina": "amina-pass"}
#: a member who has not answered the recording notice yet: their page shows it, in full
NEWCOMER = "nina@andes.example.org"
USERS[NEWCOMER] = "nina-pass"
USERS[ADMIN] = "admin-pass"
COMMUNITY = "andes"


def subresources(html: str, base: str) -> list[str]:
    """The absolute URLs of what ``html`` (served at ``base``) makes a browser load."""
    return list(dict.fromkeys(urljoin(base, unescape(src)) for src in SUBRESOURCE.findall(html)))


def sent(r: requests.Response) -> tuple[int, bytes]:
    """A response as sent: the size of its status line and headers, and its body as encoded
    (gzip), read from a ``stream=True`` response."""
    head = len(f"HTTP/1.1 {r.status_code} {r.reason}\r\n") + 2
    head += sum(len(f"{k}: {v}\r\n") for k, v in r.raw.headers.items())
    return head, r.raw.read(decode_content=False)


def transfer_bytes(
    get: Callable[..., requests.Response], url: str, encoding: str = "gzip"
) -> dict[str, int]:
    """{url: bytes} of the page at ``url`` and of every subresource it loads, fetched with
    ``get(url, headers=..., stream=True)`` (a ``requests.Session().get`` holding the
    credentials) and ``Accept-Encoding: encoding`` (``identity``: uncompressed)."""
    headers = {"Accept-Encoding": encoding}
    page = get(url, headers=headers, stream=True)
    page.raise_for_status()
    head, body = sent(page)
    sizes = {url: head + len(body)}
    if page.headers.get("Content-Encoding") == "gzip":
        body = gzip.decompress(body)
    for link in subresources(body.decode("utf-8"), url):
        r = get(link, headers=headers, stream=True)
        r.raise_for_status()
        head, body = sent(r)
        sizes[link] = head + len(body)
    return sizes


def staff_paths(cohort: str) -> list[str]:
    community = f"reports/communities/{COMMUNITY}"
    return [
        "reports/",
        "reports/overview",
        f"{community}/adoption",
        f"{community}/funnel",
        f"{community}/usage",
        f"{community}/month",
        "training/",
        f"training/cohorts/{cohort}",
        "reports/audit",
    ]


def start_demo_hub(workdir: Path) -> tuple[RealHub, str]:
    """A real hub, proxy and service with the demo's month of activity for three members and
    a training cohort; returns the hub and the cohort's id."""
    if workdir.exists():
        shutil.rmtree(workdir)
    hub = RealHub(
        workdir,
        users=USERS,
        groups={
            "community-andes": [RESEARCHER, "jorge@andes.example.org", NEWCOMER],
            "community-sahel": ["amina"],
            "consortium-staff": [ADMIN],
            "catalyst-admins": [ADMIN],
        },
        admins={ADMIN},
    )
    hub.start()
    try:
        now = utcnow()
        for i, username in enumerate(u for u in USERS if u not in (ADMIN, NEWCOMER)):
            hub.decide(username)
            events = demo_events(username, reached=7 - i, rng=random.Random(i), now=now)
            # what a member's own token may send (server sessions are the collector's)
            events = [e for e in events if sender_kind(e["schema"], e["payload"]) == MEMBER]
            token = hub.token(username)
            for start in range(0, len(events), 500):
                r = hub.service_post(
                    "api/events", token, json={"events": events[start : start + 500]}
                )
                r.raise_for_status()
        r = hub.service_post(
            "training/",
            hub.token(ADMIN),
            json={"name": "Workshop", "community": COMMUNITY, "lessons": ["hub-basics"]},
        )
        r.raise_for_status()
        return hub, str(r.json()["cohort"])
    except BaseException:
        hub.stop()
        raise


class SlowBrowser:
    """A logged-in Chromium tab on the emulated slow link, counting bytes per navigation."""

    def __init__(self, browser, hub: RealHub, username: str, encoding: str | None = None):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        self.page = self.context.new_page()
        self.page.set_default_timeout(120_000)
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("Network.enable")
        if encoding:
            self.cdp.send("Network.setExtraHTTPHeaders", {"headers": {"Accept-Encoding": encoding}})
        self.received: dict[str, int] = {}
        self.types: dict[str, str] = {}
        self.cdp.on("Network.responseReceived", self._response)
        self.cdp.on("Network.loadingFinished", self._finished)
        # the hub's login form, then the OAuth round trips to the service, at full speed
        self.page.goto(hub.url + "hub/login?next=" + requests.utils.quote("/services/catalyst/me"))
        self.page.fill("#username_input", username)
        self.page.fill("#password_input", USERS[username])
        self.page.click("#login_submit")
        self.page.wait_for_load_state("networkidle")
        self.cdp.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": LATENCY_MS,
                "downloadThroughput": THROUGHPUT,
                "uploadThroughput": THROUGHPUT,
            },
        )

    def _response(self, event: dict) -> None:
        self.types[event["requestId"]] = event["type"]

    def _finished(self, event: dict) -> None:
        # what the page loads; not the browser's own fetches of the hub's /favicon.ico
        # (type "Other"), which the page does not link and which come and go between runs
        if self.types.get(event["requestId"]) in PAGE_TYPES:
            self.received[event["requestId"]] = int(event["encodedDataLength"])

    def visit(self, url: str, cold: bool = False) -> tuple[int, float, float]:
        """Bytes received, DOMContentLoaded and load (ms from navigation start); ``cold``:
        with an empty browser cache, as on a first visit (the login stays)."""
        if cold:
            self.cdp.send("Network.clearBrowserCache")
        self.received.clear()
        response = self.page.goto(url, wait_until="load")
        assert response is not None and response.status == 200, (url, response and response.status)
        self.page.wait_for_load_state("networkidle")
        timing = self.page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " return [n.domContentLoadedEventEnd, n.loadEventEnd]; }"
        )
        return sum(self.received.values()), timing[0], timing[1]

    def close(self) -> None:
        self.context.close()


def measure(workdir: Path, repeat: int = 3) -> list[tuple[str, str, str, str]]:
    """Rows of (measure, value, baseline, target) for the results table."""
    from playwright.sync_api import sync_playwright

    from harness.chromium import CHROMIUM, CHROMIUM_ARGS

    hub, cohort = start_demo_hub(workdir)
    rows = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                pages = [(RESEARCHER, "me", "me", RESEARCHER_BUDGET)]
                pages.append((NEWCOMER, "me", "me (recording notice shown)", RESEARCHER_BUDGET))
                pages += [(ADMIN, path, path, STAFF_BUDGET) for path in staff_paths(cohort)]
                tabs = {
                    (user, enc): SlowBrowser(browser, hub, user, enc)
                    for user in (RESEARCHER, NEWCOMER, ADMIN)
                    for enc in (None, "identity")
                }
                for user, path, label, budget in pages:
                    url = hub.service_url + path
                    gzip_tab, plain_tab = tabs[(user, None)], tabs[(user, "identity")]
                    # a first visit (every subresource fetched), then warm ones
                    cold = gzip_tab.visit(url, cold=True)
                    warm = [gzip_tab.visit(url) for _ in range(repeat)]
                    plain_cold = plain_tab.visit(url, cold=True)
                    plain_warm = [plain_tab.visit(url) for _ in range(repeat)]
                    session = requests.Session()
                    session.headers["Authorization"] = f"token {hub.token(user)}"
                    counted = sum(transfer_bytes(session.get, url).values())
                    rows.append(
                        (
                            f"{label}: bytes on the wire, first visit (Chromium / counted)",
                            f"{cold[0]:,} B / {counted:,} B",
                            f"uncompressed {plain_cold[0]:,} B",
                            f"< {budget:,} B",
                        )
                    )
                    dcl = statistics.median(w[1] for w in warm)
                    load = statistics.median(w[2] for w in warm)
                    rows.append(
                        (
                            f"{label}: warm navigation, bytes / DOMContentLoaded / load (median of {repeat})",
                            f"{statistics.median(w[0] for w in warm):,.0f} B / {dcl:.0f} ms / {load:.0f} ms",
                            f"uncompressed {statistics.median(w[0] for w in plain_warm):,.0f} B / "
                            f"{statistics.median(w[2] for w in plain_warm):.0f} ms load",
                            f"< {USABLE_BUDGET_MS} ms" if user != ADMIN else "",
                        )
                    )
                for tab in tabs.values():
                    tab.close()
            finally:
                browser.close()
    finally:
        hub.stop()
    return rows


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="catalyst-weight-") as tmp:
        for row in measure(Path(tmp) / "hub"):
            print(" | ".join(row), flush=True)
