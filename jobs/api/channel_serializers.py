"""Input and output shapes of notification channels and their delivery attempts."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from rest_framework import serializers

from executors.http import restricted_policy, validate_uri
from jobs.fields import CachedFieldsMixin, StrictSerializer
from notifications.models import Channel, ChannelKind, Delivery
from notifications.services import KIND_FIELDS

from .links import absolute_link

MAX_ADDRESSES = 10  # an email channel's `to`
_OPTIONAL = ("url", "secret", "to")  # the fields one kind or another takes
_email = EmailValidator()


class ChannelInputSerializer(CachedFieldsMixin, StrictSerializer):
    """The body of POST /channels and PATCH /channels/{id}. The context's `owner` is the
    channel's: its egress policy decides which addresses the channel may name."""

    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    url = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, help_text="webhook, slack: http(s)."
    )
    secret = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="webhook: signs each body (never shown again; blank: no signature).",
    )
    to = serializers.ListField(
        child=serializers.CharField(max_length=254),
        required=False,
        max_length=MAX_ADDRESSES,
        help_text=f"email: 1 to {MAX_ADDRESSES} addresses.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        channel: Channel | None = self.instance
        if channel is not None and attrs.get("kind", channel.kind) != channel.kind:
            raise serializers.ValidationError(
                {"kind": ["A channel's kind cannot change: create another channel."]}
            )
        kind = channel.kind if channel is not None else attrs["kind"]
        takes = KIND_FIELDS[kind]
        errors: dict[str, list[str]] = {}
        for field in _OPTIONAL:
            # A field of another kind is refused when it says something; blank, it is
            # dropped (a form that sends every field empty is not an error).
            if field in attrs and field not in takes:
                if attrs.pop(field):
                    errors[field] = [f"A {kind} channel takes no {field}."]
        new = channel is None
        if "url" in takes and (new or "url" in attrs):
            problem = self._url_error(attrs.get("url", ""))
            if problem:
                errors["url"] = [problem]
        if "to" in takes and (new or "to" in attrs):
            problem = _addresses_error(attrs.get("to", []))
            if problem:
                errors["to"] = [problem]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _url_error(self, url: str) -> str | None:
        if not url:
            return "This kind of channel needs a url."
        try:
            validate_uri(url)
        except serializers.ValidationError as exc:
            return str(exc.detail[0])
        # As HTTP tasks (executors/http.py): an address the owner's jobs may not reach is
        # refused now; a name is judged when a delivery connects.
        refusal = restricted_policy().host_refusal(urlsplit(url).hostname or "")
        if refusal is not None and not self.context["owner"].has_perm("jobs.unrestricted_egress"):
            return f"{refusal[0].upper()}{refusal[1:]}."
        return None

    def create(self, validated_data):  # pragma: no cover - the views call services
        raise NotImplementedError


def _addresses_error(addresses: list[str]) -> str | None:
    if not addresses:
        return f"An email channel needs 1 to {MAX_ADDRESSES} addresses."
    for address in addresses:
        try:
            _email(address)
        except DjangoValidationError:
            return f"{address!r} is not an email address."
    return None


class ChannelSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    """The read form: the secret is never shown, only whether there is one."""

    link = serializers.SerializerMethodField()
    to = serializers.ListField(child=serializers.CharField(), read_only=True)
    has_secret = serializers.SerializerMethodField()

    class Meta:
        model = Channel
        fields = [
            "id",
            "link",
            "name",
            "kind",
            "url",
            "to",
            "has_secret",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_link(self, channel: Channel) -> str:
        return absolute_link(self.context, f"/api/v1/channels/{channel.id}")

    def get_has_secret(self, channel: Channel) -> bool:
        return bool(channel.secret)


class DeliverySerializer(CachedFieldsMixin, serializers.ModelSerializer):
    """One attempt to deliver a notification on a channel."""

    notification = serializers.PrimaryKeyRelatedField(read_only=True)
    event = serializers.CharField(source="notification.event", read_only=True)
    job = serializers.UUIDField(source="notification.job_id", read_only=True, allow_null=True)
    run = serializers.UUIDField(source="notification.run_id", read_only=True, allow_null=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "notification",
            "event",
            "job",
            "run",
            "attempt",
            "at",
            "delivered",
            "status_code",
            "error",
            "duration_ms",
        ]
        read_only_fields = fields


class ChannelTestSerializer(serializers.Serializer):
    """The answer of POST /channels/{id}/test."""

    delivered = serializers.BooleanField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    notification = serializers.UUIDField()
