"""The package a user installs: `make dist`'s build (sdist, then the wheel built from it), and the
wheel installed into a fresh venv whose PATH has no Rust toolchain, running `scorer replay`.

The wheel is built into a temporary directory from the checkout as it is (no dist/ needed).
Cargo's build cache is the checkout's own (scoring/native/target, as in the Makefile's
CARGO_ENV), so after `make setup` the native core is not compiled again: the build takes seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import orjson
import pytest

from streams.cli.main import main as scorer_main

ROOT = Path(__file__).resolve().parents[3]
MODEL = ROOT / "deploy/models/new-business.yaml"

# A cold cargo cache (no `make setup` before) compiles the core in release mode: minutes.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def run(command: list[str | Path], *, env: dict[str, str], cwd: Path) -> str:
    """Runs the command; on failure the test fails with its output. Returns its stderr."""
    done = subprocess.run(
        [str(part) for part in command], env=env, cwd=cwd, capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.fail(
            f"{command[:3]} exited {done.returncode}\n--- stdout\n{done.stdout[-4000:]}"
            f"\n--- stderr\n{done.stderr[-4000:]}"
        )
    return done.stderr


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """wheel and sdist, built as `make dist` builds them."""
    out = tmp_path_factory.mktemp("dist")
    env = {
        **os.environ,
        "PYO3_PYTHON": sys.executable,
        "PYO3_BUILD_EXTENSION_MODULE": "1",
        "CARGO_TARGET_DIR": str(ROOT / "scoring/native/target"),
    }
    run([sys.executable, "-m", "build", "--outdir", out, ROOT], env=env, cwd=ROOT)
    return out


def test_the_wheel_is_abi3_with_the_native_core_and_the_sdist_carries_the_crate(
    dist: Path,
) -> None:
    [wheel] = dist.glob("*.whl")
    assert wheel.name.startswith("account_scorer-0.1.0-cp311-abi3-")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"scoring/_core.abi3.so", "scoring/_core.pyi", "scoring/py.typed"} <= names
    assert "streams/cli/main.py" in names
    assert not [name for name in names if name.startswith("scoring/native/")]
    # every Lua script the store loads (importlib.resources) is package data of the wheel
    lua = {path.relative_to(ROOT).as_posix() for path in ROOT.glob("streams/**/*.lua")}
    assert lua <= names, lua - names

    [sdist] = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    crate = {"scoring/native/Cargo.toml", "scoring/native/Cargo.lock", "scoring/native/src/lib.rs"}
    assert crate <= members
    assert not [name for name in members if name.startswith("scoring/native/target")]


def without_rust(path: str) -> str:
    """PATH less every directory that holds cargo or rustc."""
    return os.pathsep.join(
        folder
        for folder in path.split(os.pathsep)
        if folder and not any((Path(folder) / tool).exists() for tool in ("cargo", "rustc"))
    )


def write_lines(path: Path, rows: list[object]) -> Path:
    path.write_bytes(
        b"".join(row if isinstance(row, bytes) else orjson.dumps(row) + b"\n" for row in rows)
    )
    return path


def read_json_lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def sample(folder: Path) -> list[str]:
    """A small replay: three accounts, one event keyed by domain, one repeat, one bad line."""
    profiles = write_lines(
        folder / "profiles.jsonl",
        [
            {
                "account_id": "acme",
                "updated_at": "2026-11-01T00:00:00Z",
                "employees": 1200,
                "annual_revenue": 250000000,
                "industry": "software",
                "country": "us",
                "domains": ["acme.example"],
                "technologies": ["snowflake", "salesforce"],
            },
            {
                "account_id": "beta",
                "updated_at": "2026-11-02T00:00:00Z",
                "employees": 40,
                "industry": "retail",
            },
            {"account_id": "corp", "updated_at": "2026-11-03T00:00:00Z"},
        ],
    )
    events = write_lines(
        folder / "events.jsonl",
        [
            {
                "event_id": "e1",
                "type": "page_view",
                "occurred_at": "2026-11-20T10:00:00Z",
                "account_id": "acme",
                "properties": {"url": "https://acme.example/pricing"},
            },
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
            },
            b"not json\n",
            {
                "event_id": "e3",
                "type": "content_download",
                "occurred_at": "2026-11-21T09:30:00Z",
                "account_id": "beta",
                "properties": {"asset": "report"},
            },
        ],
    )
    return [
        "replay",
        "--models",
        str(MODEL),
        "--profiles",
        str(profiles),
        "--events",
        str(events),
        "--as-of",
        "2026-11-23T00:00:00Z",
        "--out",
        str(folder / "scores.jsonl"),
        "--changes",
        str(folder / "changes.jsonl"),
    ]


def test_the_wheel_installs_and_replays_without_rust(dist: Path, tmp_path: Path) -> None:
    [wheel] = dist.glob("*.whl")
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], env=dict(os.environ), cwd=tmp_path)
    path = os.pathsep.join([str(venv / "bin"), without_rust(os.environ["PATH"])])
    # The user's environment: none of the checkout's, cargo's or pyo3's settings.
    env = {
        name: value
        for name, value in os.environ.items()
        if name in {"HOME", "LANG", "LC_ALL", "TMPDIR"} or name.startswith("PIP_")
    }
    env["PATH"] = path
    assert shutil.which("cargo", path=path) is None
    assert shutil.which("rustc", path=path) is None
    # The runtime dependencies at the versions the suite runs with (constraints.txt).
    run(
        [venv / "bin/python", "-m", "pip", "install", "-q", "-c", ROOT / "constraints.txt", wheel],
        env=env,
        cwd=tmp_path,
    )
    where = subprocess.run(
        [venv / "bin/python", "-c", "import scoring._core as core; print(core.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where

    installed = tmp_path / "installed"
    installed.mkdir()
    stderr = run([venv / "bin/scorer", *sample(installed)], env=env, cwd=installed)

    assert f"{installed / 'events.jsonl'}:4: invalid_json:" in stderr
    assert (
        "replay: 3 profiles, 4 events (1 duplicates ignored, 0 too late refused), 1 bad lines, "
        "3 accounts"
    ) in stderr
    scores = read_json_lines(installed / "scores.jsonl")
    assert [(s["account_id"], s["model"]) for s in scores] == [
        ("acme", "new-business"),
        ("beta", "new-business"),
        ("corp", "new-business"),
    ]
    assert all(s["clock"] == "2026-11-23T00:00:00Z" for s in scores)
    changes = read_json_lines(installed / "changes.jsonl")
    assert any(c["account_id"] == "acme" and c["previous_tier"] == "cold" for c in changes)

    # The installed wheel scores exactly as the checkout does.
    source = tmp_path / "source"
    source.mkdir()
    assert scorer_main(sample(source)) == 0
    for name in ("scores.jsonl", "changes.jsonl"):
        assert (installed / name).read_bytes() == (source / name).read_bytes(), name
