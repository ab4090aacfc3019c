"""The operators' view of notifications: channels (never their secrets), rules, the outbox
and every delivery attempt.

Channels and rules are made through the API, which validates them (addresses, the egress
policy, whose channel a rule names); here a channel's name may change and the rest is
read-only. Notifications and attempts are records: read-only. Each list shows what the
API would show its user (notifications/access.py: is_staff alone sees only one's own).
"""

from django.contrib import admin

from .access import sees_all_jobs
from .models import Channel, Delivery, Notification, Rule


class OwnedAdmin(admin.ModelAdmin):
    owner_path = "owner"  # where the owner is, from the model

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


@admin.register(Channel)
class ChannelAdmin(OwnedAdmin):
    list_display = ["name", "kind", "url", "has_secret", "owner", "created_at"]
    list_filter = ["kind"]
    search_fields = ["id", "name", "url", "owner__username"]
    list_select_related = ["owner"]
    # The secret is never shown, not even to those who may change the channel.
    exclude = ["secret"]
    readonly_fields = ["id", "owner", "kind", "url", "to", "has_secret", "created_at", "updated_at"]

    @admin.display(boolean=True, description="secret")
    def has_secret(self, channel: Channel) -> bool:
        return bool(channel.secret)


@admin.register(Rule)
class RuleAdmin(RecordAdmin):
    list_display = ["__str__", "channel", "job", "product", "group", "every_failure", "owner"]
    list_filter = ["every_failure"]
    search_fields = ["id", "channel__name", "job__name", "product", "group", "owner__username"]
    list_select_related = ["channel", "job", "owner"]
    readonly_fields = [f.name for f in Rule._meta.fields]


@admin.register(Notification)
class NotificationAdmin(RecordAdmin):
    owner_path = "channel__owner"
    list_display = [
        "id",
        "event",
        "channel",
        "job",
        "status",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "short_error",
        "created_at",
    ]
    list_filter = ["status", "event"]
    search_fields = ["id", "channel__name", "job__id", "job__name", "last_error"]
    list_select_related = ["channel", "job"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Notification._meta.fields]

    @admin.display(description="last error")
    def short_error(self, notification: Notification) -> str:
        return notification.last_error[:120]


@admin.register(Delivery)
class DeliveryAdmin(RecordAdmin):
    owner_path = "channel__owner"
    list_display = [
        "__str__",
        "channel",
        "attempt",
        "at",
        "delivered",
        "status_code",
        "duration_ms",
        "short_error",
    ]
    list_filter = ["delivered"]
    search_fields = ["notification__id", "channel__name", "error"]
    list_select_related = ["channel"]
    date_hierarchy = "at"
    readonly_fields = [f.name for f in Delivery._meta.fields]

    @admin.display(description="error")
    def short_error(self, delivery: Delivery) -> str:
        return delivery.error[:120]
