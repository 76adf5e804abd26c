"""scoring.summary.describe_model: the text `scorer model check` prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring.loader import parse_model
from scoring.model import (
    AnyCriterion,
    BehavioralCriterion,
    BreadthCriterion,
    Condition,
    Model,
    Signal,
    Tier,
)
from scoring.summary import describe_model

ROOT = Path(__file__).resolve().parents[3]
CASES = Path(__file__).parent / "model_cases"

GOLDEN = """\
new-business v3: New-logo pipeline - ICP fit plus buying intent.
source models/nb.yaml; scale 10; hysteresis 5
tiers: hot >= 70 (alert), warm >= 40, cold >= 0

criterion     kind           weight  share  max pts
company_size  firmographic        3  21.4%     21.4
    employees: >= 1,000 -> 10, >= 200 -> 7, >= 50 -> 4, >= 1 -> 1; missing 0
industry      firmographic        2  14.3%     14.3
    industry: software 10, financial-services 8, manufacturing 5; else 2; missing 0
stack         technographic       2  14.3%     14.3
    technologies: any of salesforce 4, snowflake 4, segment 3 (max 10); missing 0
engagement    behavioral          5  35.7%     35.7
    half-life 14d; full score at 60 decayed points
    signal        event             points  daily cap  where
    pricing_view  page_view              6          -  url contains "/pricing"
    page_view     page_view              1         20  -
    download      content_download       8          -  -
    email_open    email_open           0.5          5  -
    demo_request  form_submit           30          -  form = "demo"
    unsubscribe   unsubscribe          -15          -  -
buying_group  breadth             2  14.3%     14.3
    contacts with a positive hit in engagement in the last 30d; full score at 5"""


def test_scoring_md_example_golden() -> None:
    model = parse_model((CASES / "scoring-md-example.yaml").read_text(), "models/nb.yaml")
    assert describe_model(model) == GOLDEN


@pytest.mark.parametrize("name", ["new-business.yaml", "expansion.yaml"])
def test_example_models_fit_one_screen(name: str) -> None:
    path = ROOT / "deploy" / "models" / name
    text = describe_model(parse_model(path.read_text(), str(path)))
    assert len(text.splitlines()) <= 40
    assert all(line == line.rstrip() for line in text.splitlines())


def _model(*criteria: AnyCriterion | BehavioralCriterion | BreadthCriterion) -> Model:
    tiers = (Tier("top", 50, alert=True), Tier("rest", 0))
    return Model("m", 2, "", 10, 0, tiers, criteria)


def test_max_points_below_share_when_the_criterion_cannot_reach_the_scale() -> None:
    stack = AnyCriterion("stack", "technographic", 1, ("technologies",), {"a": 2, "b": 3})
    group = BreadthCriterion("group", 1, 90 * 60, 2.5, "stack")
    lines = describe_model(_model(stack, group)).splitlines()
    assert lines[0] == "m v2"
    assert lines[1] == "source -; scale 10; hysteresis 0"
    assert lines[2] == "tiers: top >= 50 (alert), rest >= 0"
    assert lines[5] == "stack      technographic       1  50.0%     25.0"
    assert lines[7] == "group      breadth             1  50.0%     50.0"
    assert lines[8].endswith("in the last 90m; full score at 2.5")


def test_where_operators_durations_and_negative_only_signals() -> None:
    signal = Signal(
        "big_deal",
        "form_submit",
        -2,
        (
            Condition("plan", "in", ("pro", 3, True)),
            Condition("amount", "gte", 1_000_000.0),
            Condition("seats", "lte", 2.5),
        ),
        daily_cap=1,
    )
    behavior = BehavioralCriterion("churn", 1, 36 * 3600, 10, (signal,))
    lines = describe_model(_model(behavior)).splitlines()
    assert lines[5] == "churn      behavioral       1  100.0%      0.0"
    assert lines[6] == "    half-life 36h; full score at 10 decayed points"
    assert lines[8] == (
        "    big_deal  form_submit      -2          1  "
        'plan in ("pro", 3, true) and amount >= 1M and seats <= 2.5'
    )
