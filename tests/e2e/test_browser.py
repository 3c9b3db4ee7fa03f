"""The API from a real browser (#12): a page on another origin logs in, votes and reads the
leaderboard with plain fetch() and a bearer token; /docs and /redoc work with no internet.

The page (tests/e2e/browser/) is served from one loopback port, the API from another, so every
call is cross-origin: CORS must answer the preflights, the legacy 308s included. The browser
resolves no hostname at all (tests/e2e/chromium.py), so the docs must come from the server.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import asyncpg
import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from podium.ids import Entity
from podium.public_ids import public_id
from tests.conftest import access_token
from tests.e2e.chromium import BrowserLog, artifacts_on_failure, chromium, static_site
from tests.e2e.conftest import LiveApi, serve_api

pytestmark = pytest.mark.e2e

PAGE_DIR = Path(__file__).parent / "browser"
LOGIN_LINK_LINE = re.compile(r"LOGIN LINK for (?P<email>\S+): (?P<link>\S+)")
PAGE_TIMEOUT_SECONDS = 15
DOCS_TIMEOUT_SECONDS = 10
LOGIN_LINK_WAIT_SECONDS = 10
LEGACY_USER_ID = "recAAAAAAAAAAAAAA"
# Redoc's bundle links its "API docs by Redocly" badge to this image; offline it is a broken
# image in the menu's footer and nothing else, and no Redoc option turns it off.
HARMLESS_EXTERNAL_URLS = {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
# Swagger UI and Redoc render every operation; the app has more than 30.
MIN_RENDERED_OPERATIONS = 10


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with static_site(PAGE_DIR) as origin:
        yield origin


@pytest.fixture(scope="module")
def api(
    database_url: str, site: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApi]:
    log_path = tmp_path_factory.mktemp("browser-api") / "server.log"
    with serve_api(database_url, log_path, PODIUM_CORS_ORIGINS=site) as api:
        yield api


@pytest.fixture(scope="module")
def driver() -> Iterator[webdriver.Chrome]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def browser_log(driver: webdriver.Chrome) -> BrowserLog:
    """What the browser does in this test; it starts with an empty HTTP cache, because every
    test's rows get the same public IDs (identities restart) and so the same URLs."""
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    log = BrowserLog(driver)
    log.drain()
    return log


@dataclass(frozen=True)
class VotingEvent:
    event_id: str
    voter_email: str
    voter_name: str
    voted_project_id: str
    project_ids: dict[str, str]  # name → public ID


async def arrange_voting_event(pool: asyncpg.Pool) -> VotingEvent:
    """A votable event with a leaderboard, three projects by others and two votes cast on it.

    Gamma (submitted last) holds one vote and Beta one; the voter's vote for Gamma must put it
    first with 2 points, ahead of Beta's 1 and Alpha's 0.
    """
    async with pool.acquire() as conn, conn.transaction():

        async def user(name: str) -> asyncpg.Record:
            return await conn.fetchrow(
                "INSERT INTO users (email, display_name, first_name) VALUES ($1, $2, $3) "
                "RETURNING id, seq, email, display_name",
                f"{name.lower()}@example.com",
                f"{name} B.",
                name,
            )

        organiser, voter = await user("Olga"), await user("Vera")
        makers = [await user(name) for name in ("Alice", "Bob", "Carol")]
        event = await conn.fetchrow(
            "INSERT INTO events (name, slug, join_code, owner_id, phase, live_leaderboard) "
            "VALUES ('Browser Hack', 'browser-hack', 'BROWS1', $1, 'voting', true) "
            "RETURNING id, seq",
            organiser["id"],
        )
        for attendee in (voter, *makers):
            await conn.execute(
                "INSERT INTO event_attendees (event_id, user_id) VALUES ($1, $2)",
                event["id"],
                attendee["id"],
            )
        projects = {}
        for n, (name, maker) in enumerate(zip(("Alpha", "Beta", "Gamma"), makers, strict=True)):
            projects[name] = await conn.fetchrow(
                "INSERT INTO projects (name, join_code, owner_id, event_id, repo) "
                "VALUES ($1, $2, $3, $4, 'https://github.com/x/y') RETURNING id, seq",
                name,
                f"BPRJ0{n}",
                maker["id"],
                event["id"],
            )
        for maker, name in ((makers[0], "Gamma"), (makers[2], "Beta")):
            await conn.execute(
                "INSERT INTO votes (voter_id, project_id, event_id) VALUES ($1, $2, $3)",
                maker["id"],
                projects[name]["id"],
                event["id"],
            )
    return VotingEvent(
        event_id=public_id(Entity.EVENT, event["seq"]),
        voter_email=voter["email"],
        voter_name=voter["display_name"],
        voted_project_id=public_id(Entity.PROJECT, projects["Gamma"]["seq"]),
        project_ids={name: public_id(Entity.PROJECT, row["seq"]) for name, row in projects.items()},
    )


def magic_link_token(api: LiveApi, email: str) -> str:
    """Request a login link as a user would; read it where development prints it, the log."""
    logged_before = api.log_path.stat().st_size
    response = httpx.post(f"{api.url}/request-login", json={"email": email}, timeout=10)
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + LOGIN_LINK_WAIT_SECONDS
    while True:
        with api.log_path.open("rb") as log:
            log.seek(logged_before)
            since = log.read().decode(errors="replace")
        for match in LOGIN_LINK_LINE.finditer(since):
            if match["email"] == email:
                return parse_qs(urlsplit(match["link"]).query)["token"][0]
        assert time.monotonic() < deadline, f"no login link for {email} in {api.log_path}"
        time.sleep(0.1)


@dataclass(frozen=True)
class PageRun:
    status: str
    errors: str
    diagnosis: str

    def explain(self) -> str:
        return f"page status {self.status}: {self.errors or '(no error shown)'}\n{self.diagnosis}"


def run_page(
    driver: webdriver.Chrome, log: BrowserLog, site: str, api: LiveApi, **query: str
) -> PageRun:
    """Load the page with `query`, wait until its flow is done or failed; what it reported."""
    driver.get(f"{site}/index.html?{urlencode({'api': api.url, **query})}")
    try:
        WebDriverWait(driver, PAGE_TIMEOUT_SECONDS).until(
            lambda d: d.find_element(By.ID, "status").text in ("done", "failed")
        )
        finished = True
    except TimeoutException:
        finished = False
    log.collect()
    assert finished, f"the page's flow did not finish in {PAGE_TIMEOUT_SECONDS} s\n{log.report()}"
    return PageRun(
        status=driver.find_element(By.ID, "status").text,
        errors=driver.find_element(By.ID, "errors").text,
        diagnosis=log.report(),
    )


def shown_projects(driver: webdriver.Chrome, list_id: str) -> list[str]:
    """The project list items as the page shows them, in its order."""
    return [li.text for li in driver.find_elements(By.CSS_SELECTOR, f"#{list_id} > li")]


def shown_project_names(driver: webdriver.Chrome, list_id: str) -> list[str]:
    return [name.text for name in driver.find_elements(By.CSS_SELECTOR, f"#{list_id} .name")]


async def test_page_on_another_origin_logs_in_votes_and_shows_the_leaderboard(
    db: asyncpg.Pool,
    api: LiveApi,
    site: str,
    driver: webdriver.Chrome,
    browser_log: BrowserLog,
    request: pytest.FixtureRequest,
) -> None:
    arranged = await arrange_voting_event(db)
    token = magic_link_token(api, arranged.voter_email)

    with artifacts_on_failure(driver, request.node.name):
        run = run_page(
            driver,
            browser_log,
            site,
            api,
            flow="vote",
            token=token,
            event=arranged.event_id,
            project=arranged.voted_project_id,
        )
        assert run.status == "done", run.explain()
        assert driver.find_element(By.ID, "user-name").text == arranged.voter_name
        assert driver.find_element(By.ID, "event-name").text == "Browser Hack"
        assert driver.find_element(By.ID, "votes-remaining").text == "0"
        assert shown_projects(driver, "leaderboard") == [
            "Gamma — 2 points",
            "Beta — 1 point",
            "Alpha — 0 points",
        ]

    # The bearer header and the JSON body make these calls non-simple: the browser must have
    # asked first, and been answered with a 2xx that let the call go ahead.
    preflights = {sent.path: sent for sent in browser_log.requests if sent.kind == "Preflight"}
    vote_path = "/events/vote"
    assert vote_path in preflights, f"no preflight before POST {vote_path}\n{run.diagnosis}"
    assert preflights[vote_path].method == "OPTIONS"
    assert preflights[vote_path].failure is None, run.diagnosis
    assert 200 <= (preflights[vote_path].status or 0) < 300, run.diagnosis
    assert f"/events/{arranged.event_id}" in preflights, run.diagnosis

    stored = await db.fetchval(
        "SELECT count(*) FROM votes v JOIN users u ON u.id = v.voter_id "
        "JOIN projects p ON p.id = v.project_id WHERE u.email = $1 AND p.name = 'Gamma'",
        arranged.voter_email,
    )
    assert stored == 1


async def test_page_reads_an_event_and_its_projects_without_logging_in(
    db: asyncpg.Pool,
    api: LiveApi,
    site: str,
    driver: webdriver.Chrome,
    browser_log: BrowserLog,
    request: pytest.FixtureRequest,
) -> None:
    arranged = await arrange_voting_event(db)

    with artifacts_on_failure(driver, request.node.name):
        run = run_page(driver, browser_log, site, api, flow="anonymous", event=arranged.event_id)
        assert run.status == "done", run.explain()
        assert driver.find_element(By.ID, "event-name").text == "Browser Hack"
        shown = shown_project_names(driver, "anonymous-projects")
        assert sorted(shown) == sorted(arranged.project_ids)


async def test_page_follows_a_legacy_redirect(
    db: asyncpg.Pool,
    api: LiveApi,
    site: str,
    driver: webdriver.Chrome,
    browser_log: BrowserLog,
    request: pytest.FixtureRequest,
) -> None:
    seq = await db.fetchval(
        "INSERT INTO users (email, display_name, first_name, airtable_id) "
        "VALUES ('legacy@example.com', 'Leg A.', 'Leg', $1) RETURNING seq",
        LEGACY_USER_ID,
    )
    short_id = public_id(Entity.USER, seq)

    with artifacts_on_failure(driver, request.node.name):
        run = run_page(
            driver,
            browser_log,
            site,
            api,
            flow="legacy",
            user=LEGACY_USER_ID,
            access_token=access_token("legacy@example.com"),
        )
        assert run.status == "done", run.explain()
        for step in ("anonymous", "authenticated"):
            shown = driver.find_element(By.CSS_SELECTOR, f'#legacy [data-step="{step}"]')
            assert shown.get_attribute("data-redirected") == "true", step
            assert shown.get_attribute("data-url") == f"{api.url}/users/{short_id}", step
            assert shown.get_attribute("data-user-id") == short_id, step
            assert shown.text.startswith(f"{step}: Leg A. ({short_id})"), step

    legacy_calls = [
        sent
        for sent in browser_log.requests
        if sent.path == f"/users/{LEGACY_USER_ID}" and sent.kind != "Preflight"
    ]
    assert [sent.status for sent in legacy_calls] == [308, 308], run.diagnosis


EXTERNAL_URL = re.compile(r"""https?://[^\s"'<>()]+""")


def external_urls(html: str, origin: str) -> list[str]:
    """The http(s) URLs in `html` that point anywhere but `origin`."""
    return [url for url in EXTERNAL_URL.findall(html) if not url.startswith(f"{origin}/")]


@pytest.mark.parametrize(
    ("path", "operations", "operation"),
    [
        ("/docs", ".opblock", "#operations-events-cast_votes"),
        ("/redoc", "li[data-item-id*='/operation/']", "li[data-item-id$='/operation/cast_votes']"),
    ],
    ids=["swagger-ui", "redoc"],
)
def test_docs_render_with_no_internet(
    api: LiveApi,
    driver: webdriver.Chrome,
    browser_log: BrowserLog,
    request: pytest.FixtureRequest,
    path: str,
    operations: str,
    operation: str,
) -> None:
    html = httpx.get(f"{api.url}{path}", timeout=10)
    assert html.status_code == 200
    referenced = external_urls(html.text, api.url)

    with artifacts_on_failure(driver, request.node.name):
        driver.get(f"{api.url}{path}")

        def rendered(d: webdriver.Chrome) -> bool:
            found = d.find_elements(By.CSS_SELECTOR, operations)
            return len(found) > MIN_RENDERED_OPERATIONS and bool(
                d.find_elements(By.CSS_SELECTOR, operation)
            )

        try:
            WebDriverWait(driver, DOCS_TIMEOUT_SECONDS).until(rendered)
            in_time = True
        except TimeoutException:
            in_time = False
        if not in_time:
            browser_log.collect()
            pytest.fail(
                f"{path} rendered no operations in {DOCS_TIMEOUT_SECONDS} s; its HTML "
                f"references {referenced or 'no external URL'}\n{browser_log.report()}"
            )
    browser_log.collect()
    assert not referenced, f"{path} references external URLs"
    elsewhere = [
        str(r)
        for r in browser_log.requests
        if r.host not in ("127.0.0.1", "") and r.url not in HARMLESS_EXTERNAL_URLS
    ]
    assert not elsewhere, f"{path} tried to reach other hosts:\n" + "\n".join(elsewhere)
