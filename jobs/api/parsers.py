"""Request body parsers that refuse what the service cannot store or walk (see safejson)."""

from __future__ import annotations

import io

from rest_framework import parsers
from rest_framework.exceptions import ParseError, UnsupportedMediaType, ValidationError

from jobs import safejson


class JSONParser(parsers.JSONParser):
    """UTF-8 JSON (RFC 8259), nesting bounded by API_MAX_JSON_DEPTH, no NUL or lone
    surrogate in any key or string: a 400 naming the path of the first bad value."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            return safejson.loads(raw)
        except safejson.BadJSON as exc:
            if not exc.path:
                raise ParseError(exc.message) from None
            raise ValidationError(exc.detail()) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


def check_form(data) -> None:
    """Refuse a form (a QueryDict) holding NUL or a lone surrogate in a name or value."""
    found = safejson.form_problem(data)
    if found is None:
        return
    key, problem = found
    if key is None:
        raise ParseError(f"A form field name: {problem}")
    raise ValidationError({key: [problem]})


# A JSON body sent as a form: what `curl -d '{...}'` without a Content-Type does.
JSON_AS_FORM = (
    "The body looks like JSON but came as {media_type} (what curl -d sends unless told): "
    'send it with the header "Content-Type: application/json".'
)


class FormParser(parsers.FormParser):
    """The browsable API's forms: NUL and lone surrogates refused per field. A body that
    is JSON is a 415 saying so, not a form of one odd field name."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        if raw.lstrip()[:1] in (b"{", b"["):
            raise UnsupportedMediaType(
                media_type,
                detail=JSON_AS_FORM.format(media_type=media_type),
                code="json_sent_as_form",
            )
        data = super().parse(io.BytesIO(raw), media_type, parser_context)
        check_form(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        check_form(result.data)
        return result
