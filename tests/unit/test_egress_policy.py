"""The egress policy (executors/egress.py): which addresses a restricted owner may reach."""

from __future__ import annotations

import pytest

from executors.egress import Policy, literal_address, policy

DEFAULT = Policy()


@pytest.mark.parametrize(
    ("address", "what"),
    [
        ("127.0.0.1", "loopback (127.0.0.0/8)"),
        ("127.255.255.254", "loopback (127.0.0.0/8)"),
        ("::1", "loopback (::1/128)"),
        ("169.254.169.254", "link-local (169.254.0.0/16)"),
        ("169.254.0.1", "link-local (169.254.0.0/16)"),
        ("fe80::1", "link-local (fe80::/10)"),
        ("fe80::1%eth0", "link-local (fe80::/10)"),
        ("fd00:ec2::254", "a cloud metadata address (fd00:ec2::254/128)"),
        ("100.100.100.200", "a cloud metadata address (100.100.100.200/32)"),
        ("0.0.0.0", "unspecified (0.0.0.0/8)"),
        ("0.1.2.3", "unspecified (0.0.0.0/8)"),
        ("::", "unspecified (::/128)"),
        ("224.0.0.1", "multicast (224.0.0.0/4)"),
        ("239.255.255.250", "multicast (224.0.0.0/4)"),
        ("ff02::1", "multicast (ff00::/8)"),
        ("255.255.255.255", "broadcast (255.255.255.255/32)"),
    ],
)
def test_it_denies_the_hosts_own_and_link_networks_by_default(address, what):
    assert DEFAULT.refusal(address) == (
        f"egress policy: {address} is {what}, which this job's owner may not reach"
    )


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("::ffff:127.0.0.1", "127.0.0.0/8"),  # IPv4-mapped
        ("::ffff:7f00:1", "127.0.0.0/8"),  # the same, written in hex
        ("::ffff:169.254.169.254", "169.254.0.0/16"),
        ("::ffff:0.0.0.0", "0.0.0.0/8"),
        ("::ffff:0:127.0.0.1", "127.0.0.0/8"),  # IPv4-translated
        ("::127.0.0.1", "127.0.0.0/8"),  # IPv4-compatible
        ("64:ff9b::127.0.0.1", "127.0.0.0/8"),  # NAT64
        ("64:ff9b::a9fe:a9fe", "169.254.0.0/16"),
    ],
)
def test_an_ipv6_address_carrying_an_ipv4_address_is_checked_as_it(address, network):
    refusal = DEFAULT.refusal(address)
    assert refusal is not None
    assert f"egress policy: {address} is " in refusal
    assert f"({network})" in refusal


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "fd12:3456::1",
        "93.184.216.34",
        "2606:2800:220:1:248:1893:25c8:1946",
        "::ffff:10.0.0.1",
        "64:ff9b::8.8.8.8",
    ],
)
def test_private_ranges_and_the_internet_are_allowed_by_default(address):
    assert DEFAULT.refusal(address) is None


@pytest.mark.parametrize(
    "address",
    ["10.1.2.3", "172.31.255.255", "192.168.1.1", "100.64.0.1", "fd12::1", "::ffff:10.0.0.1"],
)
def test_deny_private_denies_the_private_ranges(address):
    refusal = Policy(deny_private=True).refusal(address)
    assert refusal is not None and "private" in refusal and "EGRESS_DENY_PRIVATE" in refusal
    assert Policy(deny_private=True).refusal("93.184.216.34") is None


def test_an_allow_entry_opens_one_host_inside_a_denied_network():
    one = Policy(allow=("127.0.0.1",), deny_private=True)
    assert one.refusal("127.0.0.1") is None
    assert one.refusal("::ffff:127.0.0.1") is None  # the same address
    assert "loopback" in one.refusal("127.0.0.2")
    opened = Policy(allow=("10.1.0.0/16",), deny_private=True)
    assert opened.refusal("10.1.2.3") is None
    assert "private" in opened.refusal("10.2.0.1")


def test_an_allow_entry_equal_to_a_denied_network_wins():
    assert Policy(allow=("127.0.0.0/8", "::1")).refusal("127.9.9.9") is None
    assert Policy(allow=("127.0.0.0/8", "::1")).refusal("::1") is None


def test_a_deny_entry_closes_a_host_inside_an_allowed_network():
    policy = Policy(allow=("10.0.0.0/8",), deny=("10.0.0.5",), deny_private=True)
    assert policy.refusal("10.0.0.4") is None
    assert policy.refusal("10.0.0.5") == (
        "egress policy: 10.0.0.5 is in EGRESS_DENY (10.0.0.5/32), "
        "which this job's owner may not reach"
    )


def test_a_deny_entry_denies_public_addresses_too():
    policy = Policy(deny=("203.0.113.0/24", "2001:db8::/32"))
    assert "EGRESS_DENY" in policy.refusal("203.0.113.9")
    assert "EGRESS_DENY" in policy.refusal("2001:db8::1")
    assert "EGRESS_DENY" in policy.refusal("::ffff:203.0.113.9")


def test_an_allow_entry_for_the_ipv6_form_of_an_address_never_opens_its_ipv4_network():
    """Allowing ::ffff:0:0/96 (every mapped address) is allowing 0.0.0.0/0: the
    more specific default denials still hold."""
    policy = Policy(allow=("::ffff:0:0/96", "64:ff9b::/96"))
    assert "loopback" in policy.refusal("::ffff:127.0.0.1")
    assert "loopback" in policy.refusal("64:ff9b::7f00:1")
    assert "loopback" in policy.refusal("127.0.0.1")


def test_an_ipv4_entry_written_in_its_mapped_form_is_read_as_ipv4():
    assert "EGRESS_DENY" in Policy(deny=("::ffff:10.0.0.0/104",)).refusal("10.9.9.9")


def test_a_bad_network_names_its_setting():
    with pytest.raises(ValueError, match="allow: 'nonsense' is not an IP network"):
        Policy(allow=("nonsense",))


def test_a_text_that_is_no_address_is_refused_not_raised():
    assert "is not an IP address" in DEFAULT.refusal("example.com")


def test_the_policy_of_the_same_settings_is_built_once():
    assert policy(("10.0.0.0/8",), (), False) is policy(("10.0.0.0/8",), (), False)
    assert policy(("10.0.0.0/8",), (), False) is not policy((), (), False)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),  # one decimal number
        ("0x7f000001", "127.0.0.1"),  # hexadecimal
        ("0x7F.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("127.1", "127.0.0.1"),  # short forms
        ("127.0.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[0:0:0:0:0:ffff:7f00:1]", "::ffff:7f00:1"),
        ("localhost", None),
        ("example.com", None),
        ("127.0.0.1.example.com", None),
        ("1.2.3.4.5", None),
        ("[not-v6]", None),
        ("", None),
    ],
)
def test_a_literal_address_is_read_in_every_form_a_resolver_reads(host, address):
    assert literal_address(host) == address


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1", "[::ffff:127.0.0.1]"])
def test_every_encoded_form_of_loopback_is_denied(host):
    assert "loopback" in DEFAULT.refusal(literal_address(host))
