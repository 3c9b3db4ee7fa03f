"""What a project's links are checked for, against the fake GitHub and itch.io pages."""

from __future__ import annotations

import pytest

from podium.link_checks.checks import (
    GitHub,
    Outcome,
    Status,
    check_links,
    github_repository,
    is_itch_page,
)
from podium_devtools.fake_links import ITCH_DOWNLOAD_ONLY, ITCH_PLAYABLE, FakeLinks
from tests.link_checks.support import fetcher_for, itch_url


async def check(
    fake: FakeLinks, repo: str, demo: str, *, token: bool = False, limit: float = 2.0
) -> Outcome:
    github = GitHub(fake.url, fake.token if token else None)
    async with fetcher_for(fake, timeout=limit) as fetcher:
        return await check_links(fetcher, github, repo, demo)


def codes(outcome: Outcome) -> list[tuple[str, str]]:
    return [(reason.link, reason.code) for reason in outcome.reasons]


async def test_a_public_repo_and_a_playable_itch_page_are_valid(fake: FakeLinks) -> None:
    fake.repo("ada", "rover")
    fake.page("/rover", ITCH_PLAYABLE)

    outcome = await check(fake, "https://github.com/ada/rover", itch_url(fake, "/rover"))

    assert (outcome.status, outcome.reasons) == (Status.VALID, [])
    assert "/repos/ada/rover" in fake.paths()


async def test_a_missing_repo_is_invalid(fake: FakeLinks) -> None:
    outcome = await check(fake, "https://github.com/ada/nothing-here", "")
    assert outcome.status is Status.INVALID
    assert codes(outcome) == [("repo", "repo_not_found")]
    assert not outcome.transient


async def test_a_private_repo_is_invalid_whether_or_not_the_token_can_see_it(
    fake: FakeLinks,
) -> None:
    fake.repo("ada", "secret", private=True)

    hidden = await check(fake, "https://github.com/ada/secret", "")
    seen = await check(fake, "https://github.com/ada/secret", "", token=True)

    # Without a token GitHub answers 404; with one that can read it, `private: true`.
    assert codes(hidden) == [("repo", "repo_not_found")]
    assert codes(seen) == [("repo", "repo_private")]
    assert seen.status is Status.INVALID
    api = [r for r in fake.requests if r.path == "/repos/ada/secret"]
    assert "authorization" not in api[0].headers
    assert api[1].headers["authorization"] == f"Bearer {fake.token}"


async def test_an_itch_page_without_a_game_to_play_is_a_warning(fake: FakeLinks) -> None:
    fake.repo("ada", "rover")
    fake.page("/rover", ITCH_DOWNLOAD_ONLY)

    outcome = await check(fake, "https://github.com/ada/rover", itch_url(fake, "/rover"))

    assert outcome.status is Status.WARNING
    assert codes(outcome) == [("demo", "itch_not_playable")]


async def test_a_slow_demo_is_a_transient_warning(fake: FakeLinks) -> None:
    fake.repo("ada", "rover")
    fake.page("/slow", "late", delay=3.0)

    outcome = await check(fake, "https://github.com/ada/rover", fake.url + "/slow", limit=0.5)

    assert outcome.status is Status.WARNING
    assert codes(outcome) == [("demo", "timeout")]
    assert outcome.transient


async def test_a_demo_in_a_redirect_loop_is_invalid(fake: FakeLinks) -> None:
    fake.repo("ada", "rover")
    fake.page("/a", status=302, location="/b")
    fake.page("/b", status=302, location="/a")

    outcome = await check(fake, "https://github.com/ada/rover", fake.url + "/a")

    assert codes(outcome) == [("demo", "too_many_redirects")]
    assert outcome.status is Status.INVALID


async def test_a_demo_answering_404_is_invalid_and_a_500_transient(fake: FakeLinks) -> None:
    fake.page("/gone", "no", status=404)
    fake.page("/broken", "oops", status=503)

    gone = await check(fake, "", fake.url + "/gone")
    broken = await check(fake, "", fake.url + "/broken")

    assert (gone.status, codes(gone), gone.transient) == (
        Status.INVALID,
        [("demo", "http_error")],
        False,
    )
    assert (broken.status, broken.transient) == (Status.WARNING, True)


async def test_a_demo_at_a_private_address_is_invalid(fake: FakeLinks) -> None:
    fake.repo("ada", "rover")
    outcome = await check(fake, "https://github.com/ada/rover", "http://intranet.example/demo")
    assert codes(outcome) == [("demo", "address_refused")]
    assert outcome.status is Status.INVALID


async def test_githubs_rate_limit_is_transient(fake: FakeLinks) -> None:
    fake.repo("ada", "rover")
    fake.rate_limit_next(1)

    limited = await check(fake, "https://github.com/ada/rover", "")
    after = await check(fake, "https://github.com/ada/rover", "")

    assert codes(limited) == [("repo", "github_unavailable")]
    assert limited.transient
    assert after.status is Status.VALID


async def test_a_repo_elsewhere_than_github_is_checked_as_a_page(fake: FakeLinks) -> None:
    fake.page("/ada/rover", "a forge's repository page")
    outcome = await check(fake, fake.url + "/ada/rover", "")
    assert outcome.status is Status.VALID
    assert fake.paths() == ["/ada/rover"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/ada/rover", ("ada", "rover")),
        ("https://github.com/ada/rover.git", ("ada", "rover")),
        ("https://www.github.com/Ada/Rover/tree/main/src", ("Ada", "Rover")),
        ("https://github.com/ada", None),
        ("https://gitlab.com/ada/rover", None),
        ("https://github.com.evil.example/ada/rover", None),
    ],
)
def test_reads_owner_and_repo_from_github_urls(url: str, expected: tuple[str, str] | None) -> None:
    assert github_repository(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://ada.itch.io/rover", True),
        ("https://itch.io/embed/123", True),
        ("https://notitch.io/rover", False),
        ("https://itch.io.evil.example/", False),
    ],
)
def test_tells_itch_pages_by_their_host(url: str, expected: bool) -> None:
    assert is_itch_page(url) is expected
