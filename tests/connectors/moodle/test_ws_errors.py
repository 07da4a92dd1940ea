"""Moodle's errors (HTTP 200 + ``exception`` body), HTTP failures, retries and health."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from connectors.moodle.config import MoodleConfig
from connectors.moodle.ws import MoodleWSError, classify, form_fields
from hub.errors import AuthError, ConnectorConfigError, PermanentError, RateLimitedError, RetryableError
from tests.connectors.moodle.conftest import connector, sync, ws_config
from tests.fakes.moodle import TOKEN, WS_DIR, FakeMoodle

ERRORS = sorted((WS_DIR / "errors").glob("*.json"))


def recorded(name: str) -> tuple[str, dict]:
    exchange = json.loads((WS_DIR / "errors" / f"{name}.json").read_text())
    return exchange["request"]["wsfunction"], exchange["response"]


@pytest.mark.parametrize("name, expected", [
    ("invalid_token", AuthError),
    ("invalid_token--debug-developer", AuthError),
    ("missing_token", AuthError),
    ("function_not_in_service", ConnectorConfigError),
    ("function_not_in_service--debug-developer", ConnectorConfigError),
    ("function_does_not_exist", ConnectorConfigError),
    ("missing_required_parameter", MoodleWSError),
    ("invalid_parameter_type", MoodleWSError),
    ("unexpected_parameter--debug-developer", MoodleWSError),
    ("invalid_parameter_value_userfield", MoodleWSError),
    ("nonexistent_course", MoodleWSError),
    ("nonexistent_quiz", MoodleWSError),
    ("nonexistent_user_completion", MoodleWSError),
    ("user_not_enrolled_course_completion", MoodleWSError),
    ("write_enrol_unknown_role", MoodleWSError),
])
def test_recorded_error_bodies_are_classified(name, expected):
    function, body = recorded(name)
    error = classify(function, body)
    assert type(error) is expected, f"{name}: {type(error).__name__}: {error}"
    assert body["errorcode"] in str(error)
    if expected is ConnectorConfigError and "not_in_service" in name:
        assert function in str(error) and "external service" in str(error)
    if expected is AuthError:
        assert "token" in str(error) and "expired" in str(error)


def test_every_recorded_error_is_an_error():
    for path in ERRORS:
        exchange = json.loads(path.read_text())
        assert exchange["http_status"] == 200
        error = classify(exchange["request"]["wsfunction"], exchange["response"])
        assert isinstance(error, (AuthError, ConnectorConfigError, PermanentError)), path.name


def test_vanished_records_are_recognised():
    assert classify(*recorded("user_not_enrolled_course_completion")).vanished
    assert classify(*recorded("nonexistent_quiz")).vanished
    assert not classify(*recorded("invalid_parameter_type")).vanished


def test_missing_capability_names_it():
    # Moodle's required_capability_exception (lib/setuplib.php): errorcode nopermissions, the capability's name
    body = {"exception": "required_capability_exception", "errorcode": "nopermissions",
            "message": "Sorry, but you do not currently have permissions to do that (View all grades)."}
    error = classify("gradereport_user_get_grade_items", body)
    assert isinstance(error, ConnectorConfigError)
    assert "capability" in str(error) and "View all grades" in str(error)
    assert "gradereport_user_get_grade_items" in str(error)
    debug = dict(body, debuginfo="moodle/grade:viewall")
    assert "moodle/grade:viewall" in str(classify("gradereport_user_get_grade_items", debug))


def test_form_encoding_is_moodles():
    assert form_fields({"options": {"ids": [3, 4]}, "courseids": [3], "includepreviews": False, "x": None}) == [
        ("options[ids][0]", "3"), ("options[ids][1]", "4"), ("courseids[0]", "3"), ("includepreviews", "0")]


def test_http_settings_and_their_former_names():
    config = MoodleConfig.model_validate({"kind": "moodle", "url": "https://moodle.example.fr", "token": TOKEN})
    assert (config.timeout, config.retries, config.retry_backoff, config.retry_max_wait) == (
        dt.timedelta(seconds=30), 3, dt.timedelta(milliseconds=500), dt.timedelta(seconds=60))
    former = MoodleConfig.model_validate({"kind": "moodle", "url": "https://moodle.example.fr", "token": TOKEN,
                                          "max_retries": 1, "max_retry_wait": "5s"})
    assert (former.retries, former.retry_max_wait) == (1, dt.timedelta(seconds=5))


async def test_invalid_token_is_an_auth_error_and_unhealthy(recorded_fake: FakeMoodle, tmp_path):
    recorded_fake.expired = True  # the fake answers Moodle's recorded invalidtoken body, with HTTP 200
    async with connector(tmp_path, **ws_config(recorded_fake)) as moodle:
        health = await moodle.check()
        with pytest.raises(AuthError) as raised:
            await moodle.pull(None)
    assert not health.ok
    assert "Moodle refused the web-service token" in health.message and "invalidtoken" in health.message
    assert "Manage tokens" in str(raised.value)
    assert TOKEN not in health.message and TOKEN not in str(raised.value)


async def test_function_refused_by_the_service_is_a_config_error(recorded_fake: FakeMoodle, tmp_path):
    recorded_fake.deny.add("core_course_get_contents")
    async with connector(tmp_path, **ws_config(recorded_fake)) as moodle:
        with pytest.raises(ConnectorConfigError) as raised:
            await moodle.pull(None)
    assert "core_course_get_contents" in str(raised.value) and "accessexception" in str(raised.value)


async def test_missing_capability_is_a_config_error(recorded_fake: FakeMoodle, tmp_path):
    recorded_fake.missing_capability["gradereport_user_get_grade_items"] = ("moodle/grade:viewall", "View all grades")
    async with connector(tmp_path, **ws_config(recorded_fake)) as moodle:
        with pytest.raises(ConnectorConfigError) as raised:
            await moodle.pull(None)
    message = str(raised.value)
    assert "lacks a capability" in message and "View all grades" in message
    assert "gradereport_user_get_grade_items" in message


async def test_429_is_retried_after_retry_after(recorded_fake: FakeMoodle, tmp_path):
    recorded_fake.fail_next(429, retry_after=1)
    async with connector(tmp_path, **ws_config(recorded_fake)) as moodle:
        run = await sync(moodle)
    assert len(run.events) == 37
    assert recorded_fake.http_requests == 26  # the 25 calls of a sync, one of them twice
    first_retry = recorded_fake.log[0][0]
    assert first_retry - recorded_fake.failure_times[0] >= 0.95, "the retry came before Retry-After"


async def test_503_is_retried_with_backoff(recorded_fake: FakeMoodle, tmp_path):
    recorded_fake.fail_next(503, times=2)
    async with connector(tmp_path, **ws_config(recorded_fake)) as moodle:
        run = await sync(moodle)
    assert len(run.events) == 37
    gaps = [b - a for a, b in zip(recorded_fake.failure_times, recorded_fake.failure_times[1:])]
    assert gaps and gaps[0] >= 0.2, "no backoff between attempts"


async def test_5xx_that_lasts_is_retryable(recorded_fake: FakeMoodle, tmp_path):
    recorded_fake.fail_always = (503, None)
    async with connector(tmp_path, **ws_config(recorded_fake, retries=1)) as moodle:
        with pytest.raises(RetryableError):
            await moodle.pull(None)
    assert recorded_fake.http_requests == 2  # the call and one retry


async def test_long_retry_after_is_left_to_the_hub(recorded_fake: FakeMoodle, tmp_path):
    recorded_fake.fail_always = (429, "3600")
    async with connector(tmp_path, **ws_config(recorded_fake)) as moodle:
        started = time.monotonic()
        with pytest.raises(RateLimitedError) as raised:
            await moodle.pull(None)
    assert raised.value.retry_after == 3600
    assert recorded_fake.http_requests == 1 and time.monotonic() - started < 2


async def test_answer_that_is_not_json_is_a_config_error(recorded_fake: FakeMoodle, tmp_path):
    recorded_fake.fail_always = (200, None)  # an HTML page with HTTP 200: `url` is not a Moodle root
    async with connector(tmp_path, **ws_config(recorded_fake)) as moodle:
        with pytest.raises(ConnectorConfigError, match="not JSON"):
            await moodle.pull(None)


async def test_unreachable_moodle_is_retryable(tmp_path):
    async with connector(tmp_path, url="http://127.0.0.1:9", token=TOKEN, retries=0, timeout="2s") as moodle:
        with pytest.raises(RetryableError):
            await moodle.pull(None)
        health = await moodle.check()
    assert not health.ok and "web services" in health.message
