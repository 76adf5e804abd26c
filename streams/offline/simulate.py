"""A realistic simulated market: account profiles and a behavioral event stream, from a seed.

Used by `make demo`, the end-to-end tests and the benchmarks. Accounts follow one of a few
stories: *heating up* (research, then pricing, then a demo request), *steady* (a trickle of
reading), *going quiet* (active weeks ago, silent since), *customers* (product use, seats,
tickets, upgrade interest). Events are spread over `days` before `end`, merged into one stream
in time order, with a few duplicates (same `event_id`) and late arrivals, as real pipelines get.
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from scoring.timefmt import DAY, format_rfc3339

INDUSTRIES = [
    "software",
    "financial-services",
    "manufacturing",
    "healthcare",
    "retail",
    "education",
    "logistics",
]
COUNTRIES = ["US", "GB", "DE", "FR", "NL", "CA", "AU", "SE"]
TECHNOLOGIES = [
    "salesforce",
    "snowflake",
    "segment",
    "hubspot",
    "okta",
    "slack",
    "jira",
    "aws",
    "gcp",
    "zendesk",
]
PLANS = ["starter", "team", "business", "enterprise"]
REPS = [
    {"id": "rep-1", "name": "Dana Reyes", "email": "dana@example.com", "slack": "@dana"},
    {"id": "rep-2", "name": "Sam Okafor", "email": "sam@example.com", "slack": "@sam"},
    {"id": "rep-3", "name": "Lee Novak", "email": "lee@example.com", "slack": "@lee"},
]
NAMES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Wonka",
    "Gringotts",
    "Oscorp",
    "Aperture",
]
LATE_DELIVERY = 2 * DAY  # the most a late event arrives after its time (a daily sync, a day late)

SUFFIXES = ["Corp", "Labs", "Systems", "Group", "Analytics", "Cloud", "Health", "Logistics"]


@dataclass(slots=True)
class Market:
    """Profiles (JSON objects) and events (JSON objects, in stream order)."""

    profiles: list[dict[str, object]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)

    def write(self, directory: Path) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        profiles, events = directory / "profiles.jsonl", directory / "events.jsonl"
        for path, rows in ((profiles, self.profiles), (events, self.events)):
            with path.open("wb") as handle:
                for row in rows:
                    handle.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
        return profiles, events


def simulate(
    accounts: int,
    events: int,
    *,
    end: float,
    days: float = 30.0,
    seed: int = 7,
    duplicate_share: float = 0.01,
    late_share: float = 0.01,
    domain_share: float = 0.02,
) -> Market:
    """`accounts` accounts and about `events` events in the `days` days before `end`.

    `domain_share` of the events name only the account's web domain. The live pipeline routes
    those to the account's partition after the events already there, so tests that compare the
    live tier-change sequence with the replay's set it to 0.
    """
    rng = random.Random(seed)
    market = Market()
    stories = ["heating", "steady", "steady", "quiet", "customer", "cold"]
    timeline: list[tuple[float, int, dict[str, object]]] = []
    per_account = max(1, events // max(accounts, 1))
    start = end - days * DAY
    serial = 0
    for index in range(accounts):
        account_id = f"acct-{index:06d}"
        story = stories[index % len(stories)]
        domain = f"{NAMES[index % len(NAMES)].lower()}{index}.example"
        market.profiles.append(_profile(rng, account_id, domain, story, start, index))
        contacts = [f"{account_id}-c{n}" for n in range(rng.randint(1, 8))]
        count = max(1, int(rng.gauss(per_account, per_account / 3)))
        for _ in range(count):
            serial += 1
            at, event = _event(rng, story, start, end, days)
            event.update(
                event_id=f"ev-{seed}-{serial:09d}",
                account_id=account_id,
                contact_id=rng.choice(contacts),
            )
            if rng.random() < domain_share:  # a producer that knows only the web domain
                del event["account_id"]
                event["domain"] = domain
            timeline.append((at, serial, event))
    timeline.sort(key=lambda item: (item[0], item[1]))
    for at, _, event in timeline:
        event["occurred_at"] = format_rfc3339(round(at, 3))
        market.events.append(event)
    _disorder(rng, market.events, duplicate_share, late_share)
    return market


def _profile(
    rng: random.Random, account_id: str, domain: str, story: str, start: float, index: int
) -> dict[str, object]:
    big = story in ("heating", "customer") or rng.random() < 0.3
    profile: dict[str, object] = {
        "account_id": account_id,
        "updated_at": format_rfc3339(start),
        "name": f"{NAMES[index % len(NAMES)]} {rng.choice(SUFFIXES)}",
        "domains": [domain],
        "industry": rng.choice(INDUSTRIES[:3] if big else INDUSTRIES),
        "employees": rng.choice([1500, 2400, 800, 450]) if big else rng.choice([12, 40, 120, 260]),
        "annual_revenue": rng.choice([5e6, 2e7, 1.5e8, 9e8]),
        "country": rng.choice(COUNTRIES),
        "technologies": rng.sample(TECHNOLOGIES, rng.randint(0, 4)),
        "owner": rng.choice(REPS),
        "customer": story == "customer",
    }
    if story == "customer":
        profile["plan"] = rng.choice(PLANS)
        profile["seats"] = rng.choice([8, 40, 120, 300])
    return profile


def _event(
    rng: random.Random, story: str, start: float, end: float, days: float
) -> tuple[float, dict[str, object]]:
    span = end - start
    if story == "heating":
        # Activity piles up towards the end, with the strongest signals last.
        share = 1.0 - rng.random() ** 3
        at = start + span * share
        late = share > 0.85
        kind = rng.choices(
            [
                "page_view",
                "pricing",
                "content_download",
                "email_click",
                "webinar_attended",
                "demo",
                "email_open",
            ],
            weights=[30, 12 if late else 2, 8, 6, 3, 4 if late else 0, 10],
        )[0]
    elif story == "quiet":
        at = start + span * rng.random() * 0.4  # nothing in the last 60% of the window
        kind = rng.choices(
            ["page_view", "pricing", "content_download", "email_open"], weights=[30, 8, 8, 10]
        )[0]
    elif story == "customer":
        at = start + span * rng.random()
        kind = rng.choices(
            ["product_login", "seat_added", "admin", "support_ticket", "upgrade", "email_click"],
            weights=[40, 5, 8, 4, 3, 5],
        )[0]
    else:
        at = start + span * rng.random()
        kind = rng.choices(
            ["page_view", "email_open", "content_download", "unsubscribe"],
            weights=[40, 30, 5, 1 if story == "cold" else 0.2],
        )[0]
    return at, _shape(rng, kind)


def _shape(rng: random.Random, kind: str) -> dict[str, object]:
    if kind == "pricing":
        return {"type": "page_view", "properties": {"url": "https://example.com/pricing"}}
    if kind == "admin":
        return {"type": "page_view", "properties": {"url": "https://app.example.com/admin/users"}}
    if kind == "upgrade":
        return {
            "type": "page_view",
            "properties": {"url": "https://app.example.com/billing/upgrade"},
        }
    if kind == "demo":
        return {"type": "form_submit", "properties": {"form": "demo"}}
    if kind == "page_view":
        page = rng.choice(["/blog/scoring", "/product", "/docs/start", "/customers", "/"])
        return {"type": "page_view", "properties": {"url": f"https://example.com{page}"}}
    if kind == "support_ticket":
        return {
            "type": "support_ticket",
            "properties": {"priority": rng.choice(["low", "normal", "high", "urgent"])},
        }
    if kind == "webinar_attended":
        return {
            "type": "webinar_attended",
            "properties": {"topic": rng.choice(["intro", "advanced"])},
        }
    return {"type": kind, "properties": {}}


def _disorder(
    rng: random.Random,
    events: list[dict[str, object]],
    duplicate_share: float,
    late_share: float,
) -> None:
    """Repeats a few events later in the stream and delivers a few late (out of time order), at
    most `LATE_DELIVERY` after their time: within the worker's default ALLOWED_LATENESS, so the
    market has no too-late events."""
    count = len(events)
    for _ in range(int(count * duplicate_share)):
        source = rng.randrange(count)
        repeat = dict(events[source])
        events.insert(_later(events, repeat, source + 1, source + rng.randint(1, 200)), repeat)
    for _ in range(int(count * late_share)):
        source = rng.randrange(len(events))
        moved = events.pop(source)
        events.insert(_later(events, moved, source, source + rng.randint(5, 500)), moved)


def _later(events: list[dict[str, object]], event: dict[str, object], first: int, at: int) -> int:
    """`at`, or the place before it where `event` arrives at most `LATE_DELIVERY` late."""
    latest = _epoch(event) + LATE_DELIVERY
    at = min(len(events), at)
    while at > first and _epoch(events[at - 1]) > latest:
        at -= 1
    return at


def _epoch(event: dict[str, object]) -> float:
    return datetime.datetime.fromisoformat(str(event["occurred_at"])).timestamp()
