"""Strict readers for settings that come from the environment."""

import ipaddress
import os

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    """Read a boolean; refuse anything that is not clearly one."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={raw!r} is not a boolean: use 1/0, true/false, yes/no, on/off")


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_networks(name: str, default: str = "") -> list[str]:
    """A comma-separated list of IP networks (`10.0.0.0/8`) or addresses (`10.1.2.3`)."""
    networks = []
    for item in env_list(name, default):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValueError(
                f"{name}: {item!r} is not an IP network or address (e.g. 10.0.0.0/8, 10.1.2.3)"
            ) from None
    return networks


_RATE_PERIODS = {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}


def env_rate(name: str, default: str) -> str | None:
    """Read a request rate in DRF's format, "100/min" (s, min, hour, day); "" or "off": None."""
    raw = os.environ.get(name, default).strip()
    if raw.lower() in {"", "off"}:
        return None
    count, _, period = raw.partition("/")
    if not (count.isdigit() and int(count) > 0 and period.strip().lower() in _RATE_PERIODS):
        raise ValueError(f"{name}={raw!r} is not a rate: use e.g. 100/min (s, min, hour, day)")
    return f"{int(count)}/{period.strip().lower()}"
