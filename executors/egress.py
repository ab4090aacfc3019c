"""The egress policy of HTTP tasks: which addresses a job's owner may connect to.

A policy is a list of networks, each allowed or denied. The most specific network holding
an address decides (the longest prefix, as a routing table does); on equal prefixes an
allowed network wins; an address no network holds is allowed. The denied networks are:

- always (`DEFAULT_DENY`): loopback, link-local (cloud metadata at 169.254.169.254),
  other cloud metadata addresses, unspecified, multicast, broadcast;
- with `deny_private` (`PRIVATE`): the private ranges (10/8, 172.16/12, 192.168/16,
  100.64/10 shared address space, fc00::/7 unique local, fec0::/10 site local);
- the operator's own `deny` list.

The operator's `allow` list opens a network inside a denied one (`10.1.2.3` inside a
denied 10/8, or `127.0.0.1` itself), and a `deny` entry closes one inside an allowed one.

An IPv6 address carrying an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated
`::ffff:0:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`) is checked as
that IPv4 address and also as itself: either refusal refuses. Pure: no Django here.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# (network, what it is): denied to restricted owners unless an allow entry opens them.
DEFAULT_DENY: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),  # "this network": 0.0.0.0 reaches the host itself
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),  # holds 169.254.169.254, cloud metadata
    ("100.100.100.200/32", "a cloud metadata address"),  # Alibaba Cloud
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("fe80::/10", "link-local"),
    ("fd00:ec2::254/128", "a cloud metadata address"),  # AWS over IPv6
    ("ff00::/8", "multicast"),
)
PRIVATE: tuple[tuple[str, str], ...] = (
    ("10.0.0.0/8", "private"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("100.64.0.0/10", "private (shared address space)"),
    ("fc00::/7", "private (unique local)"),
    ("fec0::/10", "private (site local)"),
)

_V4_IN_V6 = (  # (prefix >> 32) of the /96 prefixes that carry an IPv4 address
    0xFFFF,  # ::ffff:0:0/96, IPv4-mapped
    0xFFFF0000,  # ::ffff:0:0:0/96, IPv4-translated
    0x0064FF9B << 64,  # 64:ff9b::/96, NAT64
)


# The characters of an IPv4 address in the forms inet_aton reads (octal, hex, short).
_NUMERIC = re.compile(r"[0-9a-fA-FxX.]+")


@dataclass(frozen=True)
class _Rule:
    network: Network
    allow: bool
    what: str  # "loopback", "in EGRESS_DENY", ...
    base: int  # the network address as an integer
    mask: int


def _rule(network: Network, allow: bool, what: str) -> _Rule:
    network = _unmapped(network)
    return _Rule(network, allow, what, int(network.network_address), int(network.netmask))


def _unmapped(network: Network) -> Network:
    """`::ffff:10.0.0.0/104` written in a setting is the IPv4 network 10.0.0.0/8."""
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def parse_networks(name: str, entries: list[str] | tuple[str, ...]) -> tuple[Network, ...]:
    """CIDR networks or single addresses of a setting; ValueError naming the setting."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"{name}: {entry!r} is not an IP network (e.g. 10.0.0.0/8, fd00::/8, 10.1.2.3)"
            ) from None
    return tuple(networks)


class Policy:
    """Which addresses may be connected to; see the module's docstring for the rule."""

    def __init__(
        self,
        *,
        allow: tuple[str, ...] = (),
        deny: tuple[str, ...] = (),
        deny_private: bool = False,
    ) -> None:
        rules = [_rule(ipaddress.ip_network(net), False, what) for net, what in DEFAULT_DENY]
        if deny_private:
            rules += [
                _rule(ipaddress.ip_network(net), False, f"{what} (EGRESS_DENY_PRIVATE)")
                for net, what in PRIVATE
            ]
        rules += [_rule(net, False, "in EGRESS_DENY") for net in parse_networks("deny", deny)]
        rules += [_rule(net, True, "in EGRESS_ALLOW") for net in parse_networks("allow", allow)]
        # First match wins: the longest prefix first, an allowed network before a denied one.
        rules.sort(key=lambda rule: (-rule.network.prefixlen, not rule.allow))
        self._v4 = tuple(rule for rule in rules if rule.network.version == 4)
        self._v6 = tuple(rule for rule in rules if rule.network.version == 6)

    def refusal(self, address: str) -> str | None:
        """Why `address` (an IP address as text) may not be connected to, or None if it may."""
        text = address.split("%", 1)[0]  # fe80::1%eth0: its zone
        try:
            value = int.from_bytes(socket.inet_pton(socket.AF_INET, text))
            rule = _match(self._v4, value)
        except OSError:
            try:
                value = int.from_bytes(socket.inet_pton(socket.AF_INET6, text))
            except OSError:
                return f"egress policy: {address!r} is not an IP address"
            rule = _match(self._v6, value)
            high = value >> 32
            if (rule is None or rule.allow) and (high in _V4_IN_V6 or (high == 0 and value > 1)):
                rule = _match(self._v4, value & 0xFFFFFFFF) or rule
        if rule is None or rule.allow:
            return None
        return (
            f"egress policy: {address} is {rule.what} ({rule.network}), "
            "which this job's owner may not reach"
        )

    def host_refusal(self, host: str) -> str | None:
        """Why a URI's host may not be reached when it is an address written literally (in
        any form, see literal_address), or None: a name is judged when it is resolved."""
        address = literal_address(host)
        return self.refusal(address) if address is not None else None


def _match(rules: tuple[_Rule, ...], value: int) -> _Rule | None:
    for rule in rules:
        if value & rule.mask == rule.base:
            return rule
    return None


@functools.lru_cache(maxsize=8)
def policy(allow: tuple[str, ...], deny: tuple[str, ...], deny_private: bool) -> Policy:
    """The policy of these settings, built once (the networks parsed once)."""
    return Policy(allow=allow, deny=deny, deny_private=deny_private)


def literal_address(host: str) -> str | None:
    """The IP address a URI's host names literally, in any form a resolver reads
    (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`, `[::ffff:127.0.0.1]`), or None
    for a name."""
    host = host.strip().removeprefix("[").removesuffix("]")
    if ":" in host:
        try:
            return str(ipaddress.IPv6Address(host.split("%", 1)[0]))
        except ValueError:
            return None
    if not _NUMERIC.fullmatch(host):
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host))  # the BSD forms libc accepts
    except OSError:
        return None
