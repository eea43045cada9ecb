"""The web application in a real browser: ``regie serve`` with a ``[web]`` section, the real OpenID
Provider (its own login page), and Debian's Chromium driven by Playwright.

``web`` (module scope) is a fresh SQLite store with the test users, a provider that knows the web
application as its client, and the server; ``browser`` is Chromium. ``WebUser`` signs one user in
through the provider's login page in a browser context of their own, and checks every page it opens
with axe-core (WCAG 2.1 A and AA, 0 violations). Screenshots go to ``build/screenshots/``.

Where Chromium (``/usr/bin/chromium``, Debian's package) or the provider cannot run the tests skip
with the reason, unless REGIE_REQUIRE_BROWSER=1 (set by .ci/run) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers import make_world, skip_unless_required
from live_server import READY_TIMEOUT, LiveServer, ServerError, free_port, serve_config, write_config
from oidc import NODE_MODULES, WEB_CLIENT, Provider
from oidc_fixtures import require_oidc

from casusregie.adapters.config import Settings
from casusregie.commands.users import LinkSubject

REQUIRE_BROWSER = os.environ.get("REGIE_REQUIRE_BROWSER") == "1"
CHROMIUM = os.environ.get("REGIE_CHROMIUM", "/usr/bin/chromium")
AXE = NODE_MODULES / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"
# As Chromium runs on these machines: no sandbox as root, and no calls home (the network is closed).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def require_browser() -> None:
    problem = None
    if not Path(CHROMIUM).is_file():
        problem = f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium; .ci/run does)"
    elif shutil.which("node") is None or not AXE.is_file():
        problem = f"axe-core is not installed at {AXE}: run `make test` or `npm ci --prefix tests/node`"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (pip install -e '.[dev]')"
    if problem is not None:
        skip_unless_required(problem, REQUIRE_BROWSER, "REGIE_REQUIRE_BROWSER")


@dataclass
class WebWorld:
    server: LiveServer
    provider: Provider
    settings: Settings
    folder: Path

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebWorld]:
    require_oidc()
    require_browser()
    folder = tmp_path_factory.mktemp("web")
    settings = Settings(store=str(folder / "store.db"), key_dir=folder / "keys", checkpoint_dir=None, config_file=None)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with Provider.start(web_base=base) as provider:
        world = make_world(settings)
        try:
            for user in ["admin", "anna", "bram", "carla", "piet", "pol", "lies", "mia", "pim", "aud"]:
                world.run("admin", LinkSubject(user_id=user, subject=user, issuer=provider.issuer))
        finally:
            world.store.close()
        secret = folder / "web-client.secret"
        secret.touch(mode=0o600)
        secret.write_text(provider.client_secret + "\n")
        config = write_config(
            folder / "regie.toml",
            store=settings.store,
            key_dir=settings.key_dir,
            api={
                "issuer": provider.issuer,
                "audience": "casusregie-api",
                "development": True,
                "listen": f"127.0.0.1:{port}",
            },
        )
        with config.open("a", encoding="utf-8") as out:
            out.write(f'\n[web]\nclient_id = "{WEB_CLIENT}"\nclient_secret_file = "{secret}"\npublic_url = "{base}"\n')
        try:
            with serve_config(config, timeout=READY_TIMEOUT) as server:
                yield WebWorld(server, provider, settings, folder)
        except ServerError as exc:
            pytest.fail(str(exc))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class WebUser:
    """One person at their own browser (a context of their own: cookies are not shared)."""

    web: WebWorld
    name: str
    context: Any
    page: Any
    checked: list[str] = field(default_factory=list)

    def goto(self, path: str) -> Any:
        return self.page.goto(self.web.url + path)

    def sign_in(self, path: str = "/werkvoorraad") -> None:
        """Open ``path``, land on the provider's login page, sign in, allow, and come back to ``path``."""
        self.goto(path)
        assert self.page.url.startswith(self.web.provider.issuer + "/interaction/"), self.page.url
        self.page.fill("#login", self.name)
        self.page.fill("#password", "wachtwoord")
        self.page.click("button[type=submit]")
        if "/interaction/" in self.page.url:  # the consent prompt, the first time for this account
            self.page.click("text=Toestaan")
        assert self.page.url.startswith(self.web.url), self.page.url

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's WCAG 2.1 A/AA violations on the page as it is now."""
        self.page.add_script_tag(path=str(AXE))
        return list(
            self.page.evaluate(
                "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations"
                ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target)}))",
                WCAG,
            )
        )

    def check(self, shot: str | None = None) -> None:
        """The page passes axe with 0 violations (and is kept as a screenshot under ``shot``)."""
        violations = self.axe()
        assert violations == [], f"{self.page.url}: {violations}"
        self.checked.append(self.page.url)
        if shot:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SCREENSHOTS / f"{shot}.png"), full_page=True)

    def heading(self) -> str:
        return str(self.page.locator("h1").first.inner_text())

    def submit(self, values: dict[str, str], button: str = "button.utrecht-button--primary-action") -> None:
        for name, text in values.items():
            locator = self.page.locator(f'[name="{name}"]')
            if locator.evaluate("e => e.tagName") == "SELECT":
                locator.select_option(text)
            elif locator.get_attribute("type") == "checkbox":
                locator.set_checked(text == "on")
            else:
                locator.fill(text)
        self.page.click(button)

    def close(self) -> None:
        self.context.close()


def open_user(web: WebWorld, browser: Any, name: str) -> WebUser:
    # bypass_csp: axe is injected as a script, which the application's CSP (rightly) forbids
    context = browser.new_context(bypass_csp=True, locale="nl-NL")
    context.set_default_timeout(10_000)  # a page here answers in well under a second; fail fast and say where
    return WebUser(web, name, context, context.new_page())
