"""The operators' view of notifications: channels (never their secrets), rules, the outbox
and every delivery attempt.

Channels and rules are made through the API, which validates them (addresses, the egress
policy, whose channel a rule names); here a channel's name may change and the rest is
read-only. Notifications and attempts are records: read-only, and never deleted here (the
history of what was sent). Each list shows what the API would show its user
(notifications/access.py: is_staff alone sees only one's own). States are badges, times
are to the second with their zone (jobs/display.py).
"""

from datetime import timedelta

from django.contrib import admin

from jobs.display import ADMIN_CSS, badge, name, short, show_duration, time_cell

from .access import sees_all_jobs
from .models import Channel, Delivery, Notification, Rule


class OwnedAdmin(admin.ModelAdmin):
    owner_path = "owner"  # where the owner is, from the model

    class Media:
        css = {"all": [ADMIN_CSS]}

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if sees_all_jobs(request.user):
            return rows
        return rows.filter(**{self.owner_path: request.user})

    def has_add_permission(self, request) -> bool:
        return False  # made through the API, which validates them


class RecordAdmin(OwnedAdmin):
    """What happened: shown, never edited."""

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class HistoryAdmin(RecordAdmin):
    """What was sent: kept, as the API keeps it (only deleting its channel removes it)."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="channel", ordering="channel__name")
    def channel_name(self, record) -> str:
        return name(record.channel.name)


@admin.register(Channel)
class ChannelAdmin(OwnedAdmin):
    list_display = ["name", "kind", "address", "has_secret", "owner", "created"]
    list_filter = ["kind"]
    search_fields = ["id", "name", "url", "owner__username"]
    list_select_related = ["owner"]
    # The secret is never shown, not even to those who may change the channel.
    exclude = ["secret"]
    readonly_fields = ["id", "owner", "kind", "url", "to", "has_secret", "created_at", "updated_at"]

    @admin.display(boolean=True, description="secret")
    def has_secret(self, channel: Channel) -> bool:
        return bool(channel.secret)

    @admin.display(description="url or recipients", ordering="url")
    def address(self, channel: Channel) -> str:
        return short(channel.url or ", ".join(channel.to or []), 48)

    @admin.display(description="created", ordering="created_at")
    def created(self, channel: Channel) -> str:
        return time_cell(channel.created_at)


@admin.register(Rule)
class RuleAdmin(RecordAdmin):
    list_display = ["events", "channel", "job", "product", "group", "every_failure", "owner"]
    list_filter = ["every_failure"]
    search_fields = ["id", "channel__name", "job__name", "product", "group", "owner__username"]
    list_select_related = ["channel", "job", "owner"]
    readonly_fields = [f.name for f in Rule._meta.fields]

    @admin.display(description="on")
    def events(self, rule: Rule) -> str:
        return ", ".join(rule.on)


@admin.register(Notification)
class NotificationAdmin(HistoryAdmin):
    owner_path = "channel__owner"
    list_display = [
        "notification",
        "event",
        "channel_name",
        "job_name",
        "status_badge",
        "attempts",
        "next_attempt",
        "delivered",
        "short_error",
        "created",
    ]
    list_filter = ["status", "event"]
    search_fields = ["id", "channel__name", "job__id", "job__name", "last_error"]
    list_select_related = ["channel", "job"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Notification._meta.fields]

    @admin.display(description="notification", ordering="id")
    def notification(self, notification: Notification) -> str:
        return short(notification.id, 9)

    @admin.display(description="job", ordering="job__name")
    def job_name(self, notification: Notification) -> str:
        return name(notification.job or "-")

    @admin.display(description="status", ordering="status")
    def status_badge(self, notification: Notification) -> str:
        return badge(notification.status)

    @admin.display(description="next attempt", ordering="next_attempt_at")
    def next_attempt(self, notification: Notification) -> str:
        return time_cell(notification.next_attempt_at)

    @admin.display(description="delivered", ordering="delivered_at")
    def delivered(self, notification: Notification) -> str:
        return time_cell(notification.delivered_at)

    @admin.display(description="created", ordering="created_at")
    def created(self, notification: Notification) -> str:
        return time_cell(notification.created_at)

    @admin.display(description="last error")
    def short_error(self, notification: Notification) -> str:
        return short(notification.last_error, 60)


@admin.register(Delivery)
class DeliveryAdmin(HistoryAdmin):
    owner_path = "channel__owner"
    list_display = [
        "notification_id_short",
        "channel_name",
        "attempt",
        "when",
        "outcome",
        "status_code",
        "duration",
        "short_error",
    ]
    list_filter = ["delivered"]
    search_fields = ["notification__id", "channel__name", "error"]
    list_select_related = ["channel"]
    date_hierarchy = "at"
    readonly_fields = [f.name for f in Delivery._meta.fields]

    @admin.display(description="notification", ordering="notification_id")
    def notification_id_short(self, delivery: Delivery) -> str:
        return short(delivery.notification_id, 9)

    @admin.display(description="at", ordering="at")
    def when(self, delivery: Delivery) -> str:
        return time_cell(delivery.at)

    @admin.display(description="outcome", ordering="delivered")
    def outcome(self, delivery: Delivery) -> str:
        return badge("delivered") if delivery.delivered else badge("failed")

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, delivery: Delivery) -> str:
        if delivery.duration_ms is None:
            return "-"
        return show_duration(timedelta(milliseconds=delivery.duration_ms))

    @admin.display(description="error")
    def short_error(self, delivery: Delivery) -> str:
        return short(delivery.error, 60)
