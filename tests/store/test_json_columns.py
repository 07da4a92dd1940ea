"""The events' JSON columns decode exactly as ``json.loads`` decodes them, whichever parser reads
them (hub.store.base: orjson for speed, json for what orjson reads otherwise or refuses)."""

from __future__ import annotations

import json

import pytest

from hub.store.base import event_dict

ROW = {"seq": 1, "id": "e1", "type": "t", "occurred_us": 0, "received_at": "2026-01-01T00:00:00Z",
       "source": "s", "source_id": "1", "learner": None, "action": None, "evidence": None,
       "supersedes": None, "learner_id": None}

SAME_AS_JSON = [
    '{"n": 12345678901234567890123}',          # beyond 64 bits: orjson would give a float
    '{"n": -9223372036854775809}',             # just below int64
    '{"n": 1234567890123456789}',              # 19 digits, within int64
    '{"x": 1E400}',                            # json reads inf
    '{"x": NaN, "y": -Infinity}',              # json's extensions
    '{"a": 1, "a": 2}',                        # duplicate keys: the last wins
    '{"x": 0.1, "y": -0.0, "z": 1e-400, "w": 1.0000000000000002}',
    '{"e": "\\ud83d\\ude00 caf\\u00e9 \\"q\\""}',  # an escaped surrogate pair, escapes
    '{"deep": ' + '[' * 50 + ']' * 50 + '}',
]


@pytest.mark.parametrize("text", SAME_AS_JSON)
def test_a_column_decodes_as_json_decodes_it(text):
    decoded = event_dict({**ROW, "data": text})
    assert "unreadable" not in decoded
    expected = json.loads(text)
    assert json.dumps(decoded["data"], sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert [type(v) for v in decoded["data"].values()] == [type(v) for v in expected.values()]


@pytest.mark.parametrize("text, problem", [
    ('{"x": "\\ud800"}', "unpaired surrogate"),
    ('{"x": 1', "not valid JSON"),
    ('[1, 2]', "not an object"),
    ('{"x": "a\tb"}', "not valid JSON"),  # a raw control character in a string
])
def test_a_column_json_refuses_is_still_unreadable(text, problem):
    assert problem in event_dict({**ROW, "data": text})["unreadable"]
