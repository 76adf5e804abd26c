"""The stored profile: deflated with a preset dictionary, byte for byte, in one format."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.state import StateDecodeError
from streams.store.profiles import (
    DEFLATED_WHOLE,
    DEFLATED_WITHOUT_ID,
    pack_profile,
    unpack_profile,
)

PROFILE = orjson.dumps(
    {
        "account_id": "acct-000042",
        "updated_at": "2026-10-19T11:06:40Z",
        "name": "Acme Group",
        "domains": ["acme.example"],
        "industry": "manufacturing",
        "employees": 2400,
        "annual_revenue": 150000000.0,
        "country": "SE",
        "technologies": ["snowflake", "salesforce", "aws"],
        "owner": {"id": "rep-3", "name": "Lee Novak", "email": "lee@example.com", "slack": "@lee"},
        "customer": False,
        "crm": {"stage": "Qualified", "score": 7},
    }
)


ID = "acct-000042"


def test_a_stored_profile_round_trips_byte_for_byte_and_is_smaller() -> None:
    stored = pack_profile(PROFILE, ID)

    assert unpack_profile(stored, ID) == PROFILE
    assert len(stored) < 0.6 * len(PROFILE)


def test_the_account_id_a_profile_starts_with_is_left_out_and_put_back() -> None:
    # The account's field names it: ~10 B less per account.
    stored = pack_profile(PROFILE, ID)
    assert stored[0] == DEFLATED_WITHOUT_ID
    assert unpack_profile(stored, ID) == PROFILE
    whole = PROFILE.replace(b'{"account_id":"acct-000042",', b'{"account_id": "acct-000042",')
    assert pack_profile(whole, ID)[0] == DEFLATED_WHOLE  # not exactly the member
    assert unpack_profile(pack_profile(whole, ID), ID) == whole
    assert len(pack_profile(whole, ID)) > len(stored)
    odd = 'é "\\ \u2028'  # escaped by orjson as a producer using it would
    raw = orjson.dumps({"account_id": odd, "updated_at": "2026-01-01T00:00:00Z"})
    assert pack_profile(raw, odd)[0] == DEFLATED_WITHOUT_ID
    assert unpack_profile(pack_profile(raw, odd), odd) == raw


def test_a_large_or_unusual_profile_round_trips() -> None:
    raw = orjson.dumps({"account_id": "é" * 3000, "updated_at": "x", "blob": list(range(2000))})

    assert unpack_profile(pack_profile(raw, "é" * 3000), "é" * 3000) == raw
    assert unpack_profile(pack_profile(raw, "other"), "other") == raw


@given(st.binary(max_size=5000) | st.text(max_size=2000).map(str.encode), st.text(max_size=20))
def test_any_bytes_round_trip_and_their_stored_form_cut_short_is_refused(
    raw: bytes, account_id: str
) -> None:
    for message in (raw, b'{"account_id":' + orjson.dumps(account_id) + b"," + raw):
        stored = pack_profile(message, account_id)

        assert unpack_profile(stored, account_id) == message
        for cut in range(1, len(stored), max(1, len(stored) // 50)):  # ~50 cuts, evenly spread
            with pytest.raises(StateDecodeError, match="corrupt stored profile: truncated"):
                unpack_profile(stored[:cut], account_id)


@pytest.mark.parametrize(
    ("stored", "named"),
    [
        (b"\x03" + pack_profile(PROFILE, ID)[1:], "byte 0x03"),
        (PROFILE, "byte 0x7b"),  # plain JSON: no format this version writes
        (b"\xef\xbb\xbf{}", "byte 0xef"),  # a BOM
        (b"", "empty"),
    ],
)
def test_a_stored_profile_of_an_unknown_format_is_refused_naming_it(
    stored: bytes, named: str
) -> None:
    # A later version's format must stop this one: read as no profile, it would score without.
    with pytest.raises(StateDecodeError, match=f"unknown stored-profile format.*{named}"):
        unpack_profile(stored, ID)


@pytest.mark.parametrize(
    "damaged",
    [
        pack_profile(PROFILE, ID)[:-6],
        b"\x01\xff\xfe\xfd",
        b"\x01",
        b"\x02" + pack_profile(b'"no object"', ID)[1:],
    ],
    ids=["truncated", "garbage", "empty", "no object"],
)
def test_a_corrupt_stored_profile_is_a_state_decode_error(damaged: bytes) -> None:
    with pytest.raises(StateDecodeError, match="corrupt stored profile"):
        unpack_profile(damaged, ID)
