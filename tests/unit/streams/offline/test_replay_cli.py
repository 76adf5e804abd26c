"""`scorer replay` and `scorer model check` through the command line, on files."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.cli.main import main

ROOT = Path(__file__).resolve().parents[4]
MODELS = str(ROOT / "deploy/models")


def write_lines(path: Path, rows: list[object]) -> Path:
    path.write_bytes(
        b"".join(row if isinstance(row, bytes) else orjson.dumps(row) + b"\n" for row in rows)
    )
    return path


def read_lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    profiles = write_lines(
        tmp_path / "profiles.jsonl",
        [
            {
                "account_id": "acme",
                "updated_at": "2026-11-01T00:00:00Z",
                "employees": 1200,
                "industry": "software",
                "domains": ["acme.example"],
                "technologies": ["snowflake"],
            },
            b'{"account_id": 7}\n',  # line 2: schema violation
        ],
    )
    events = write_lines(
        tmp_path / "events.jsonl",
        [
            {
                "event_id": "e1",
                "type": "page_view",
                "occurred_at": "2026-11-20T10:00:00Z",
                "account_id": "acme",
                "properties": {"url": "https://acme.example/pricing"},
            },
            b"not json\n",  # line 2
            {
                "event_id": "e2",
                "type": "form_submit",
                "occurred_at": "2026-11-20T11:00:00Z",
                "domain": "ACME.example",
                "properties": {"form": "demo"},
            },
            {
                "event_id": "e2",
                "type": "form_submit",
                "occurred_at": "2026-11-20T11:00:00Z",
                "account_id": "acme",
                "properties": {"form": "demo"},
            },  # duplicate of e2
            {
                "event_id": "e3",
                "type": "page_view",
                "occurred_at": "2026-11-20T12:00:00Z",
                "domain": "nobody.example",
            },  # line 5: unknown account
            {
                "event_id": "e4",
                "type": "page_view",
                "occurred_at": "2026-11-20T12:30:00Z",
                "account_id": "beta",
            },
        ],
    )
    return {
        "profiles": profiles,
        "events": events,
        "out": tmp_path / "out.jsonl",
        "changes": tmp_path / "changes.jsonl",
    }


def run(files: dict[str, Path], *extra: str) -> int:
    return main(
        [
            "replay",
            "--models",
            MODELS,
            "--profiles",
            str(files["profiles"]),
            "--events",
            str(files["events"]),
            "--out",
            str(files["out"]),
            "--changes",
            str(files["changes"]),
            *extra,
        ]
    )


def test_replay_reports_bad_lines_and_scores_the_rest(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(files) == 0

    err = capsys.readouterr().err
    assert f"{files['profiles']}:2: schema_violation: account_id:" in err
    assert f"{files['events']}:2: invalid_json:" in err
    assert f"{files['events']}:5: unknown_account:" in err
    assert "3 bad lines" in err
    assert "(1 duplicates ignored, 0 too late refused)" in err
    scores = read_lines(files["out"])
    assert [(s["account_id"], s["model"]) for s in scores] == [
        ("acme", "expansion"),
        ("acme", "new-business"),
        ("beta", "expansion"),
        ("beta", "new-business"),
    ]
    acme = scores[1]
    assert set(acme) == {
        "account_id",
        "model",
        "model_version",
        "total",
        "fit",
        "engagement",
        "tier",
        "clock",
        "criteria",
        "explanation",
    }
    assert acme["clock"] == "2026-11-20T11:00:00Z"  # the domain-keyed demo request counted
    assert acme["criteria"]["demo_request"] > 0 if "demo_request" in acme["criteria"] else True
    assert isinstance(acme["explanation"]["summary"], str)
    assert acme["explanation"]["summary"].startswith(f"{acme['tier']} ")


def test_changes_are_numbered_per_account_and_model(files: dict[str, Path]) -> None:
    run(files)

    changes = read_lines(files["changes"])
    assert changes, "the profile and the demo request move acme up"
    for change in changes:
        assert set(change) == {
            "account_id",
            "model",
            "seq",
            "previous_tier",
            "tier",
            "total",
            "cause",
            "at",
        }
    seqs: dict[tuple[object, object], list[object]] = {}
    for change in changes:
        seqs.setdefault((change["account_id"], change["model"]), []).append(change["seq"])
    assert all(s == list(range(1, len(s) + 1)) for s in seqs.values())
    first = next(c for c in changes if c["account_id"] == "acme" and c["model"] == "new-business")
    assert first["previous_tier"] == "cold"


def test_as_of_evaluates_everyone_later_with_cause_decay(files: dict[str, Path]) -> None:
    run(files)
    before = {(s["account_id"], s["model"]): s for s in read_lines(files["out"])}

    run(files, "--as-of", "2027-03-01T00:00:00Z")

    after = {(s["account_id"], s["model"]): s for s in read_lines(files["out"])}
    acme = after[("acme", "new-business")]
    assert acme["clock"] == "2027-03-01T00:00:00Z"
    assert acme["engagement"] < before[("acme", "new-business")]["engagement"]
    decays = [c for c in read_lines(files["changes"]) if c["cause"] == "decay"]
    assert all(c["at"] == "2027-03-01T00:00:00Z" for c in decays)


def test_a_bad_model_file_is_refused_with_file_place_and_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: nb\nversion: 0\ntiers: [{name: cold, min: 0}]\ncriteria: []\n")

    with pytest.raises(SystemExit) as exit_:
        main(["model", "check", str(bad)])

    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert f"{bad}: version:" in err


def test_model_check_summarises_the_example_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "check", MODELS]) == 0
    out = capsys.readouterr().out
    assert "new-business v1" in out and "expansion v1" in out and "2 model(s) OK" in out


def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (
        ["worker"],
        ["model", "check"],
        ["replay"],
        ["produce"],
        ["export"],
        ["changes"],
        ["demo"],
    ):
        with pytest.raises(SystemExit) as exit_:
            main([*command, "--help"])
        assert exit_.value.code == 0
        assert "usage: scorer" in capsys.readouterr().out


def add_late_event(files: dict[str, Path]) -> None:
    """Line 7: acme's page view of 10 days before its clock (2026-11-20T11:00:00Z)."""
    late = {
        "event_id": "e5",
        "type": "page_view",
        "occurred_at": "2026-11-10T11:00:00Z",
        "account_id": "acme",
    }
    files["events"].write_bytes(files["events"].read_bytes() + orjson.dumps(late) + b"\n")


def test_an_event_beyond_the_allowed_lateness_is_counted_reported_and_rejected(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_late_event(files)
    rejects = tmp_path / "rejects.jsonl"
    assert run(files, "--rejects", str(rejects)) == 0

    err = capsys.readouterr().err
    detail = (
        "occurred_at is 864000.0 s before the account's clock 2026-11-20T11:00:00Z, "
        "more than the allowed lateness of 604800.0 s"
    )
    assert f"{files['events']}:7: too_late: {detail}" in err
    assert "(1 duplicates ignored, 1 too late refused), 3 bad lines" in err
    assert read_lines(rejects) == [
        {
            "file": str(files["profiles"]),
            "line": 2,
            "code": "schema_violation",
            "detail": detail_of(err, 2, files["profiles"]),
        },
        {
            "file": str(files["events"]),
            "line": 2,
            "code": "invalid_json",
            "detail": detail_of(err, 2, files["events"]),
        },
        {
            "file": str(files["events"]),
            "line": 5,
            "code": "unknown_account",
            "detail": detail_of(err, 5, files["events"]),
        },
        {"file": str(files["events"]), "line": 7, "code": "too_late", "detail": detail},
    ]
    acme = read_lines(files["out"])[1]
    assert acme["clock"] == "2026-11-20T11:00:00Z"  # the late view changed nothing


def detail_of(err: str, number: int, path: Path) -> str:
    """The detail of the stderr report of line `number` of `path`."""
    prefix = f"{path}:{number}: "
    line = next(line for line in err.splitlines() if line.startswith(prefix))
    return line[len(prefix) :].split(": ", 1)[1]


def test_the_replay_takes_its_allowed_lateness_from_the_settings(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add_late_event(files)
    monkeypatch.setenv("DEDUPE_WINDOW", str(30 * 86400))
    monkeypatch.setenv("ALLOWED_LATENESS", str(30 * 86400))
    assert run(files) == 0
    assert "0 too late refused" in capsys.readouterr().err


def test_an_allowed_lateness_beyond_the_dedupe_window_is_refused_at_start(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ALLOWED_LATENESS", str(8 * 86400))
    assert run(files) == 2
    err = capsys.readouterr().err
    assert "ALLOWED_LATENESS and DEDUPE_WINDOW: the allowed lateness (691200 s) exceeds" in err
    assert not files["out"].exists()
