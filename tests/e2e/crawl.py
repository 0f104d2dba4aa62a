"""A crawler that reads every page a person can reach by links from their dashboard, as that person, in
both languages, and reports what no page may show (ARCHITECTURE.md, "Presentation"):

- a machine value: an enum or code value the label registry knows (``submitted``, ``refund_due``,
  ``bidding.bid_submitted``), any snake_case word, an ISO date or timestamp, a UUID;
- untranslated text: a message placeholder (``%(n)s``), or English sentences on a Chinese page;
- a broken link (an ``<a>``, stylesheet, script, icon or image answering 4xx/5xx);
- an axe-core violation of impact "critical" or "serious";
- a page wider than a 390 px phone screen.

Text inside ``<code>``, ``<pre>``, ``<kbd>``, ``<samp>`` and elements marked ``translate="no"`` (user
names, file names, hashes, commands: identifiers a person types or compares) is exempt from the word
checks, never from the timestamp and UUID checks. The API reference page (/api/docs) documents the
machine values programs use, so only its links, accessibility and width are checked.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

from playwright.sync_api import Error as PlaywrightError

AXE = (Path(__file__).parent / "assets" / "axe.min.js").read_text()
AXE_RUN = """() => axe.run(document, {
  runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
  resultTypes: ["violations"],
}).then(r => r.violations.filter(v => v.impact === "critical" || v.impact === "serious").map(v => ({
  id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
})))"""

# Text of the page: everything (``full``) and without identifiers (``words``), one text node per item, with
# folded <details> opened so their content is read (and checked by axe) too.
TEXT = """() => {
  document.querySelectorAll("details").forEach(d => { d.open = true; });
  const read = (root, skip) => {
    const clone = root.cloneNode(true);
    clone.querySelectorAll("script, style, noscript, template" + skip).forEach(e => e.remove());
    const parts = [];
    const walk = document.createTreeWalker(clone, NodeFilter.SHOW_TEXT);
    while (walk.nextNode()) { parts.push(walk.currentNode.data); }
    clone.querySelectorAll("[title], [aria-label], [alt], [placeholder]").forEach(e => {
      for (const a of ["title", "aria-label", "alt", "placeholder"]) {
        if (e.hasAttribute(a)) parts.push(e.getAttribute(a));
      }
    });
    return parts.join(" \\n ");
  };
  return {
    title: document.title,
    full: read(document.body, ""),
    words: read(document.body, ", code, pre, kbd, samp, [translate=no]"),
    links: Array.from(document.querySelectorAll("a[href]")).map(a => a.href),
    assets: Array.from(document.querySelectorAll("link[href], script[src], img[src]"))
      .map(e => e.href || e.src).filter(u => !u.startsWith("data:")),
  };
}"""

OVERFLOW = """(width) => {
  if (document.documentElement.scrollWidth <= width + 1) return [];
  const wide = [];
  for (const e of document.querySelectorAll("body *")) {
    const r = e.getBoundingClientRect();
    if (r.right > width + 1 && e.children.length === 0) {
      wide.push(e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : "")
        + ": " + (e.textContent || "").trim().slice(0, 40));
      if (wide.length >= 3) break;
    }
  }
  return wide.length ? wide : ["the page is " + document.documentElement.scrollWidth + " px wide"];
}"""

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
ISO = re.compile(
    r"(?<![\d-])\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)?(?!\d)"
)
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%s\b|\{\{|\}\}")
SNAKE = re.compile(r"(?<![A-Za-z0-9_./-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![A-Za-z0-9_])")
DOTTED = re.compile(r"(?<![A-Za-z0-9_./-])[a-z]+\.[a-z]+_[a-z_]+(?![A-Za-z0-9_])")
ASCII_WORD = re.compile(r"(?<![A-Za-z0-9_@./-])[a-z][a-z0-9]*(?![A-Za-z0-9_@/-])")
ENGLISH_RUN = re.compile(r"[A-Za-z][a-z]+(?:[ ,'’]+[A-Za-z][a-z]+){2,}")
VIEWPORT = {"width": 1366, "height": 900}
PHONE = 390
PER_TEMPLATE = 3  # pages visited per URL pattern (pagination, one tender page among many): enough to judge it


@dataclass(frozen=True)
class Finding:
    who: str
    lang: str
    url: str
    kind: str  # machine_value, iso_time, uuid, untranslated, broken_link, axe, overflow
    detail: str

    def __str__(self) -> str:
        return f"[{self.who}/{self.lang}] {self.url}: {self.kind}: {self.detail}"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    pages: list[tuple[str, str, str]] = field(default_factory=list)
    links_checked: int = 0
    seconds: float = 0.0

    def of(self, *kinds: str) -> list[str]:
        return [str(f) for f in self.findings if f.kind in kinds]

    def paths(self) -> set[str]:
        return {urlsplit(url).path for _, _, url in self.pages}


def template(url: str) -> str:
    """The page's pattern: ids replaced, query keys kept (``/tenders/{id}?page``)."""
    parts = urlsplit(url)
    path = UUID.sub("{id}", parts.path)
    keys = sorted({pair.split("=")[0] for pair in parts.query.split("&") if pair})
    return path + ("?" + "&".join(keys) if keys else "")


class Crawler:
    """Crawls as one signed-in person (or a visitor), in the language the page currently shows."""

    def __init__(self, page, base: str, vocabulary: Iterable[str], report: Report) -> None:
        self.page = page
        self.base = base.rstrip("/")
        self.report = report
        words = set(vocabulary)
        # Registered values that are words of one language or the other: shown raw they are a code.
        self.compound = {v for v in words if "_" in v or "." in v}
        self.single = {v for v in words if v.isascii() and v.isalpha() and v.islower() and len(v) > 2}
        self.checked: dict[str, int] = {}

    def crawl(self, who: str, lang: str, start: str) -> None:
        seen: set[str] = set()
        per_template: Counter[str] = Counter()
        queue = [self.base + start]
        while queue:
            url = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            key = template(url)
            if per_template[key] >= PER_TEMPLATE:
                continue
            per_template[key] += 1
            for link in self.visit(who, lang, url):
                if link not in seen:
                    queue.append(link)

    def _status(self, url: str) -> tuple[int, str]:
        response = self.page.context.request.get(url, max_redirects=5)
        return response.status, response.headers.get("content-type", "")

    def _same_site(self, url: str) -> bool:
        return url.startswith(self.base + "/")

    def visit(self, who: str, lang: str, url: str) -> list[str]:
        add = self._adder(who, lang, url)
        try:
            response = self.page.goto(url)
        except PlaywrightError as exc:  # a link that downloads a file (a batch, a licence): checked, not read
            if "Download is starting" not in str(exc):
                raise
            return []
        if response is None or response.status >= 400:
            add("broken_link", f"{response.status if response else 'no response'}")
            return []
        if "text/html" not in (response.headers.get("content-type") or ""):
            return []
        self.report.pages.append((who, lang, url))
        found = self.page.evaluate(TEXT)
        path = urlsplit(url).path
        if path != "/api/docs":
            self.check_text(
                add, lang, found["title"] + " \n " + found["full"], found["title"] + " \n " + found["words"]
            )
        for violation in self.page.evaluate(AXE_RUN) if self._axe_loaded() else []:
            add(
                "axe",
                f"{violation['impact']} {violation['id']} ({violation['help']}): {violation['targets']}",
            )
        self.page.set_viewport_size({"width": PHONE, "height": 844})
        for element in self.page.evaluate(OVERFLOW, PHONE):
            add("overflow", element)
        self.page.set_viewport_size(VIEWPORT)
        for asset in found["assets"]:
            self._check_link(add, asset)
        links = []
        for href in found["links"]:
            href = urldefrag(href).url
            if not self._same_site(href):
                continue
            if self._follow(href):
                links.append(href)
            else:
                self._check_link(add, href)
        return links

    def _axe_loaded(self) -> bool:
        self.page.evaluate(AXE)  # through DevTools, so the page's Content-Security-Policy does not stop it
        return True

    def _follow(self, href: str) -> bool:
        """Pages are visited; API answers and downloads only checked."""
        path = urlsplit(href).path
        if path.startswith("/api/") and path != "/api/docs":
            return False
        if path.startswith("/static/") or path.endswith((".pem", ".pdf", ".json", ".csv", ".pyz", "/file")):
            return False
        _status, kind = (
            self._status(href) if "/documents/" in path or "/evidence" in path else (0, "text/html")
        )
        return "text/html" in kind

    def _check_link(self, add: Callable[[str, str], None], href: str) -> None:
        if href not in self.checked:
            self.checked[href] = self._status(href)[0]
            self.report.links_checked += 1
        if self.checked[href] >= 400:
            add("broken_link", f"{href} answers {self.checked[href]}")

    def _adder(self, who: str, lang: str, url: str) -> Callable[[str, str], None]:
        def add(kind: str, detail: str) -> None:
            self.report.findings.append(Finding(who, lang, url[len(self.base) :], kind, detail))

        return add

    def check_text(self, add: Callable[[str, str], None], lang: str, full: str, words: str) -> None:
        for match in sorted(set(UUID.findall(full))):
            add("uuid", match)
        for match in sorted(set(ISO.findall(full))):
            add("iso_time", match)
        for match in sorted(set(PLACEHOLDER.findall(full))):
            add("untranslated", f"placeholder {match}")
        for match in sorted(set(SNAKE.findall(words)) | set(DOTTED.findall(words))):
            add("machine_value", match)
        for match in sorted(
            self.compound & set(re.findall(r"[a-z][a-z0-9_.]+", words)) - set(SNAKE.findall(words))
        ):
            add("machine_value", match)
        if lang == "zh":
            for match in sorted(set(ASCII_WORD.findall(words)) & self.single):
                add("machine_value", match)
            for match in sorted(set(ENGLISH_RUN.findall(words))):
                add("untranslated", match)


def sign_in(page, base: str, username: str, password: str, code: Callable[[], str] | None) -> None:
    page.goto(base + "/sign-in")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_load_state()
    if page.url.endswith("/sign-in/code"):
        assert code is not None, f"{username} needs a second factor"
        page.fill("#code", code())
        page.click("#code-form button[type=submit]")
        page.wait_for_load_state()
    assert page.url.endswith("/dashboard"), f"{username} did not reach the dashboard: {page.url}"


def crawl_as(browser, base: str, vocabulary, report: Report, who: str, login: Callable | None) -> None:
    """One person, Chinese then English (switched with the page's own language button)."""
    context = browser.new_context(base_url=base, locale="zh-CN", viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        crawler = Crawler(page, base, vocabulary, report)
        start = "/"
        if login is not None:
            login(page)
            start = "/dashboard"
        crawler.crawl(who, "zh", start)
        page.goto(base + start)
        page.click("#lang-switch")
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        crawler.crawl(who, "en", start)
    finally:
        context.close()


def timed(fn: Callable[[], None], report: Report) -> None:
    began = time.monotonic()
    fn()
    report.seconds += time.monotonic() - began
