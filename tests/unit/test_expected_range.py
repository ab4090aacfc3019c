import pytest

from executors.expected_range import ExpectedRange, parse_expected_range


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("200-299", "200-299"),
        ("204", "204"),
        (204, "204"),
        ("200,204,300-399", "200,204,300-399"),
        (" 200 , 204, 300 - 399 ", "200,204,300-399"),
        ([200, "300-399", 204], "200,204,300-399"),
        ("300-399,200", "200,300-399"),
        ("200-250,251-299", "200-299"),
        ("200-299,250-320", "200-320"),
        ("204,204", "204"),
        ("100-599", "100-599"),
    ],
)
def test_it_parses_and_normalizes(value, text):
    assert str(parse_expected_range(value)) == text


def test_equal_sets_compare_equal():
    assert parse_expected_range("200-250,251-299") == parse_expected_range("200-299")


def test_membership_is_inclusive_at_both_ends():
    expected = parse_expected_range("200-300")
    assert 200 in expected
    assert 300 in expected
    assert 250 in expected
    assert 199 not in expected
    assert 301 not in expected


def test_membership_of_a_list():
    expected = parse_expected_range("200,204,300-399")
    assert [code in expected for code in (200, 201, 204, 302, 404)] == [
        True,
        False,
        True,
        True,
        False,
    ]


def test_non_integers_are_never_members():
    expected = parse_expected_range("100-599")
    assert "200" not in expected
    assert True not in expected
    assert None not in expected


def test_it_passes_an_existing_range_through():
    expected = parse_expected_range("204")
    assert parse_expected_range(expected) is expected


def test_the_range_is_immutable():
    expected = parse_expected_range("204")
    with pytest.raises(AttributeError):
        expected.ranges = ((200, 299),)
    assert isinstance(expected, ExpectedRange)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("99", "outside 100-599"),
        ("600", "outside 100-599"),
        (1000, "outside 100-599"),
        ("200-600", "outside 100-599"),
        ("300-200", "backwards"),
        ("", "empty"),
        ("  ", "empty"),
        ([], "empty"),
        ("abc", "'abc' is not a status code or range"),
        ("200-", "'200-' is not a status code or range"),
        ("2xx", "'2xx' is not a status code or range"),
        ("200,,204", "empty entry"),
        ("200-299-399", "is not a status code or range"),
        (True, "is not a status code or range"),
        (200.0, "is not a status code or range"),
        ([200, 2.5], "is not a status code or range"),
        ([[200]], "is not a status code or range"),
        (None, "is not a status code or range"),
        ("٢٠٠", "is not a status code or range"),
    ],
)
def test_it_rejects_bad_values_clearly(value, message):
    with pytest.raises(ValueError, match=message):
        parse_expected_range(value)
