"""YAML in and out, read the YAML 1.2 way: `on`, `yes`, `no` are strings, not booleans.

PyYAML follows YAML 1.1, where a notify rule's `on:` key would load as True and an
unquoted date-time as a datetime object. Job files are read with the core schema only:
null, true/false, integers, floats; everything else stays a string as written.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class _Resolver(yaml.resolver.BaseResolver):
    """YAML 1.2's core schema: the implicit types a job file may use, and no others."""


_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Resolver.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$"),
    list("-+.0123456789"),
)


class _Constructor(yaml.constructor.SafeConstructor):
    def construct_yaml_int(self, node):
        value = self.construct_scalar(node)
        if value.startswith("0o"):
            return int(value[2:], 8)
        if value.startswith("0x"):
            return int(value[2:], 16)
        return int(value)


_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)


# libyaml's parser where PyYAML was built with it: ten times faster on a 10,000-job file.
try:
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML without libyaml
    _Parser = None


class _PureLoader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    _Constructor,
    _Resolver,
):
    def __init__(self, stream):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Constructor.__init__(self)
        _Resolver.__init__(self)


if _Parser is not None:

    class Loader(_Parser, _Constructor, _Resolver):
        def __init__(self, stream):
            _Parser.__init__(self, stream)
            _Constructor.__init__(self)
            _Resolver.__init__(self)

else:  # pragma: no cover - PyYAML without libyaml
    Loader = _PureLoader  # type: ignore[misc]

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load_all(text: str) -> list[Any]:
    """Every document of `text` (an empty document is None); yaml.YAMLError if malformed."""
    return list(yaml.load_all(text, Loader=Loader))  # noqa: S506 - a safe constructor


def dump_all(documents: list[Any]) -> str:
    """Documents as block YAML, keys in the order given. The dumper quotes what YAML 1.1
    would misread (`'on'`, `'2030-01-01'`), so other tools read the file the same way."""
    return yaml.dump_all(
        documents,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )
