"""Input and output shapes of notification rules: a job's `notify`, and /notify-rules."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from rest_framework import serializers

from jobs.fields import CachedFieldsMixin, StrictSerializer
from jobs.models import Event
from notifications.models import Channel, Rule

from .links import absolute_link

# A rule without `on` sends these: a job failing every minute sends one message, and one
# more when it works again.
DEFAULT_EVENTS = (Event.FAILURE.value, Event.RECOVERY.value)
MAX_JOB_RULES = 20  # a job's `notify` rules


def _no_repeats(events: list[str]) -> None:
    repeated = sorted({event for event in events if events.count(event) > 1})
    if repeated:
        raise serializers.ValidationError(f"Repeated: {', '.join(repeated)}.")


def events_field() -> serializers.ListField:
    """`on`: the events a rule sends (jobs.states.Event), each once, at least one."""
    return serializers.ListField(
        child=serializers.ChoiceField(
            choices=Event.choices,
            error_messages={
                "invalid_choice": f'"{{input}}" is not an event: use {", ".join(Event.values)}.'
            },
        ),
        allow_empty=False,
        max_length=len(Event.values),
        validators=[_no_repeats],
        required=False,
        default=lambda: list(DEFAULT_EVENTS),
        help_text=f"Events to send, default {list(DEFAULT_EVENTS)}.",
    )


def not_owned(channel_ids: list[UUID], owner_id: int) -> set[UUID]:
    """Those of `channel_ids` that are not channels of `owner_id` (one query); whether
    they are someone else's or nobody's is not told."""
    owned = Channel.objects.filter(owner_id=owner_id, id__in=set(channel_ids))
    return set(channel_ids) - set(owned.values_list("id", flat=True))


class NotifyInputSerializer(CachedFieldsMixin, StrictSerializer):
    """One rule of a job's `notify`: send these events of the job to this channel."""

    channel = serializers.UUIDField(help_text="A channel of the job's owner.")
    on = events_field()
    every_failure = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Send `failure` for every failed fire, not only the first of a streak.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A PATCH of the job is partial, and DRF makes its nested items partial too (no
        # defaults, no required fields): an item of `notify` is a whole rule either way.
        if "channel" not in attrs:
            raise serializers.ValidationError({"channel": ["This field is required."]})
        attrs.setdefault("on", list(DEFAULT_EVENTS))
        attrs.setdefault("every_failure", False)
        return attrs


def notify_field() -> NotifyInputSerializer:
    return NotifyInputSerializer(many=True, required=False, max_length=MAX_JOB_RULES)


def notify_errors(rules: list[dict[str, Any]], owner_id: int) -> dict[int, dict] | None:
    """The errors of a job's `notify` whose channels are not all its owner's, by the
    index of each such rule, as DRF names the items of a list (None: no error)."""
    missing = not_owned([rule["channel"] for rule in rules], owner_id)
    problem = {"channel": ["No channel of the job's owner has this id."]}
    errors = {i: problem for i, rule in enumerate(rules) if rule["channel"] in missing}
    return errors or None


class NotifySerializer(CachedFieldsMixin, serializers.ModelSerializer):
    """The read form of one of a job's rules."""

    channel = serializers.PrimaryKeyRelatedField(read_only=True)
    on = serializers.ListField(child=serializers.ChoiceField(choices=Event.choices), read_only=True)

    class Meta:
        model = Rule
        fields = ["channel", "on", "every_failure"]
        read_only_fields = fields


class RuleInputSerializer(CachedFieldsMixin, StrictSerializer):
    """The body of POST /notify-rules and PATCH /notify-rules/{id}."""

    channel = serializers.UUIDField(help_text="One of your channels.")
    on = events_field()
    every_failure = serializers.BooleanField(required=False, default=False)
    product = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default="", help_text="Blank: any."
    )
    group = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default="", help_text="Blank: any."
    )

    def validate_channel(self, value: UUID) -> UUID:
        owner = self.context["owner"]
        if not_owned([value], owner.id):
            whose = "yours" if owner.id == self.context["request"].user.id else "the rule's owner"
            raise serializers.ValidationError(f"No channel of {whose} has this id.")
        return value

    def create(self, validated_data):  # pragma: no cover - the views call services
        raise NotImplementedError


class RuleSerializer(CachedFieldsMixin, serializers.ModelSerializer):
    link = serializers.SerializerMethodField()
    channel = serializers.PrimaryKeyRelatedField(read_only=True)
    on = serializers.ListField(child=serializers.ChoiceField(choices=Event.choices), read_only=True)

    class Meta:
        model = Rule
        fields = ["id", "link", "channel", "on", "every_failure", "product", "group", "created_at"]
        read_only_fields = fields

    def get_link(self, rule: Rule) -> str:
        return absolute_link(self.context, f"/api/v1/notify-rules/{rule.id}")
