"""The local stack's pure helpers (deploy/local/stack.py is a script, so it is loaded by path)."""

from __future__ import annotations

import importlib.util
import string
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[3]


def load_stack() -> ModuleType:
    spec = importlib.util.spec_from_file_location("local_stack", ROOT / "deploy/local/stack.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


stack = load_stack()

# Its first six bits are 62, which URL-safe base64 writes as "-".
DASH_FIRST = uuid.UUID(bytes=b"\xf8" + bytes(15))


def test_an_id_starting_with_a_dash_is_drawn_again() -> None:
    # StorageTool's parser read such an id as an option: "--cluster-id expected one argument".
    assert stack.uuid_to_kafka_id(DASH_FIRST).startswith("-")
    plain = uuid.UUID(int=1)
    draws = iter([DASH_FIRST, DASH_FIRST, plain])

    assert stack.new_cluster_id(lambda: next(draws)) == stack.uuid_to_kafka_id(plain)


@given(st.uuids())
def test_a_cluster_id_is_22_url_safe_characters_never_starting_with_a_dash(
    value: uuid.UUID,
) -> None:
    cluster_id = stack.new_cluster_id(iter([value, uuid.UUID(int=1)]).__next__)

    assert len(cluster_id) == 22
    assert not cluster_id.startswith("-")
    assert set(cluster_id) <= set(string.ascii_letters + string.digits + "-_")


def test_promtool_on_path_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stack.shutil, "which", lambda name, path=None: f"/opt/bin/{name}")
    monkeypatch.setattr(stack.subprocess, "run", None)  # nothing is fetched

    assert stack.promtool() == "/opt/bin/promtool"


def test_promtool_missing_without_apt_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(stack.shutil, "which", lambda name, path=None: None)
    monkeypatch.setattr(stack, "PROMETHEUS_BIN", tmp_path)

    with pytest.raises(stack.StackError, match="apt-get install -y prometheus"):
        stack.promtool()
