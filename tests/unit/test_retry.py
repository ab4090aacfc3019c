from datetime import timedelta

import pytest

from jobs.retry import RetryError, RetryPolicy, parse_retry


def middle():
    return 0.5  # 2*0.5 - 1 == 0: no jitter


def seconds(n):
    return timedelta(seconds=n)


def test_none_means_the_default_policy_without_retries():
    policy = parse_retry(None)
    assert policy == RetryPolicy()
    assert policy.max_attempts == 1
    assert not policy.can_retry(1)


def test_can_retry_until_max_attempts_is_reached():
    policy = RetryPolicy(max_attempts=3)
    assert [policy.can_retry(n) for n in (1, 2, 3, 4)] == [True, True, False, False]


def test_fixed_backoff_waits_the_same_delay_each_time():
    policy = RetryPolicy(backoff="fixed", delay=seconds(7), jitter=0)
    assert [policy.delay_after(n) for n in (1, 2, 5)] == [seconds(7)] * 3


def test_exponential_backoff_doubles_the_delay():
    policy = RetryPolicy(delay=seconds(10), max_delay=timedelta(hours=1))
    assert [policy.delay_after(n, rand=middle) for n in (1, 2, 3, 4)] == [
        seconds(10),
        seconds(20),
        seconds(40),
        seconds(80),
    ]


def test_exponential_backoff_is_capped_at_max_delay():
    policy = RetryPolicy(delay=seconds(10), max_delay=seconds(60), jitter=0)
    assert policy.delay_after(4) == seconds(60)
    assert policy.delay_after(1000) == seconds(60)


def test_jitter_stays_within_its_fraction_of_the_delay():
    policy = RetryPolicy(backoff="fixed", delay=seconds(100), max_delay=seconds(100), jitter=0.1)
    assert policy.delay_after(1, rand=lambda: 0.0) == seconds(90)
    high = policy.delay_after(1, rand=lambda: 0.999999).total_seconds()
    assert high == pytest.approx(110, abs=0.001)
    assert policy.delay_after(1, rand=lambda: 0.75) == seconds(105)


def test_jitter_never_exceeds_max_delay_plus_jitter_nor_goes_negative():
    policy = RetryPolicy(delay=seconds(30), max_delay=seconds(60), jitter=1.0)
    for attempt in range(1, 12):
        assert seconds(0) <= policy.delay_after(attempt, rand=lambda: 0.0)
        assert policy.delay_after(attempt, rand=lambda: 0.999999) <= seconds(120)


def test_delay_after_rejects_attempt_zero():
    with pytest.raises(ValueError):
        RetryPolicy().delay_after(0)


def test_it_parses_a_full_policy():
    policy = parse_retry(
        {"max_attempts": 3, "backoff": "fixed", "delay": "30s", "max_delay": "5m", "jitter": 0}
    )
    assert policy == RetryPolicy(
        max_attempts=3, backoff="fixed", delay=seconds(30), max_delay=timedelta(minutes=5), jitter=0
    )


def test_it_accepts_numbers_of_seconds_for_durations():
    assert parse_retry({"delay": 5}).delay == seconds(5)


def test_a_long_delay_without_max_delay_raises_the_cap():
    policy = parse_retry({"backoff": "fixed", "delay": "30m"})
    assert policy.max_delay == timedelta(minutes=30)
    assert policy.delay_after(1, rand=middle) == timedelta(minutes=30)


def test_to_json_uses_compact_durations():
    assert RetryPolicy(max_attempts=3).to_json() == {
        "max_attempts": 3,
        "backoff": "exponential",
        "delay": "10s",
        "max_delay": "10m",
        "jitter": 0.1,
    }


@pytest.mark.parametrize(
    "policy",
    [
        RetryPolicy(),
        RetryPolicy(max_attempts=5, backoff="fixed", delay=seconds(1.5), jitter=0),
        RetryPolicy(max_attempts=2, delay=timedelta(hours=2), max_delay=timedelta(days=1)),
    ],
)
def test_to_json_and_from_json_round_trip(policy):
    assert RetryPolicy.from_json(policy.to_json()) == policy


def test_from_json_of_none_is_the_default():
    assert RetryPolicy.from_json(None) == RetryPolicy()


@pytest.mark.parametrize(
    ("value", "field", "message"),
    [
        ({"max_attempts": 0}, "max_attempts", "from 1 to 100"),
        ({"max_attempts": 101}, "max_attempts", "from 1 to 100"),
        ({"max_attempts": "3"}, "max_attempts", "whole number"),
        ({"max_attempts": 2.0}, "max_attempts", "whole number"),
        ({"max_attempts": True}, "max_attempts", "whole number"),
        ({"backoff": "linear"}, "backoff", '"fixed" or "exponential"'),
        ({"backoff": None}, "backoff", '"fixed" or "exponential"'),
        ({"delay": "soon"}, "delay", "is not a duration"),
        ({"delay": True}, "delay", "must be a duration"),
        ({"delay": -1}, "delay", "must not be negative"),
        ({"max_delay": [1]}, "max_delay", "must be a duration"),
        ({"delay": "10m", "max_delay": "1m"}, "delay", "must not be longer than max_delay"),
        ({"jitter": 1.5}, "jitter", "from 0 to 1"),
        ({"jitter": -0.1}, "jitter", "from 0 to 1"),
        ({"jitter": "0.1"}, "jitter", "from 0 to 1"),
        ({"jitter": False}, "jitter", "from 0 to 1"),
        ({"retries": 3}, None, "unknown retry key 'retries'"),
        (3, None, "must be an object"),
        ("3x", None, "must be an object"),
    ],
)
def test_it_rejects_bad_policies_naming_the_field(value, field, message):
    with pytest.raises(RetryError, match=message) as caught:
        parse_retry(value)
    assert caught.value.field == field


def test_retry_errors_are_value_errors():
    assert issubclass(RetryError, ValueError)
