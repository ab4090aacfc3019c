"""/api/v1/channels and /api/v1/notify-rules: thin views over notifications.services."""

from __future__ import annotations

from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import Throttled
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from notifications import access, selectors, services
from notifications.delivery import TestsBusy
from notifications.models import Channel, Rule

from . import schema
from .channel_serializers import (
    ChannelInputSerializer,
    ChannelSerializer,
    ChannelTestSerializer,
    DeliverySerializer,
)
from .rule_serializers import RuleInputSerializer, RuleSerializer
from .throttles import ChannelTestThrottle
from .views import UUIDLookupMixin

# The view actions that change a channel or a rule, or send on a channel.
CHANGES = frozenset(("partial_update", "destroy", "test"))


class OwnerAccess(BasePermission):
    """Reads are filtered by the queryset; changes are checked by notifications.access."""

    message = "You may not do this."

    def has_object_permission(self, request, view, obj) -> bool:
        if getattr(view, "action", None) not in CHANGES:
            return True
        reason = access.action_denied(request.user, obj)
        if reason:
            self.message = reason  # DRF instantiates permissions per request
            return False
        return True


class OwnedViewSet(
    UUIDLookupMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    permission_classes = [IsAuthenticated, OwnerAccess]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    input_class: type = ChannelInputSerializer

    def input(self, instance=None, *, owner) -> dict:
        """The request's body, validated for `owner` (the object's, or the caller's)."""
        context = {**self.get_serializer_context(), "owner": owner}
        data = self.input_class(
            instance, data=self.request.data, partial=instance is not None, context=context
        )
        data.is_valid(raise_exception=True)
        return data.validated_data

    def created(self, obj) -> Response:
        body = self.get_serializer(obj).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["link"]})


@schema.channels
class ChannelViewSet(OwnedViewSet):
    serializer_class = ChannelSerializer
    input_class = ChannelInputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return Channel.objects.none()
        return selectors.channels_visible_to(self.request.user)

    def get_throttles(self):
        # A test sends a request or an email now: counted at its own rate as well.
        if self.action == "test":
            return [*super().get_throttles(), ChannelTestThrottle()]
        return super().get_throttles()

    def create(self, request, *args, **kwargs):
        channel = services.channel_create(owner=request.user, data=self.input(owner=request.user))
        return self.created(channel)

    def partial_update(self, request, *args, **kwargs):
        channel = self.get_object()
        channel = services.channel_update(
            channel=channel, data=self.input(channel, owner=channel.owner)
        )
        return Response(self.get_serializer(channel).data)

    def destroy(self, request, *args, **kwargs):
        """Delete the channel, its rules, its notifications and their attempts."""
        services.channel_delete(channel=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a test message now; answer whether the receiver took it (429 while this
        server already sends CHANNEL_TESTS_AT_ONCE tests)."""
        channel = self.get_object()
        try:
            answer = services.channel_test(channel=channel)
        except TestsBusy as exc:
            raise Throttled(wait=5, detail=str(exc)) from None
        return Response(ChannelTestSerializer(answer).data)

    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """Each attempt to deliver a notification on the channel, newest first."""
        page = self.paginate_queryset(selectors.deliveries_of(self.get_object()))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


@schema.rules
class RuleViewSet(OwnedViewSet):
    """Rules on all of the caller's jobs, or those of a product and group."""

    serializer_class = RuleSerializer
    input_class = RuleInputSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Rule.objects.none()
        return selectors.rules_visible_to(self.request.user)

    def create(self, request, *args, **kwargs):
        rule = services.rule_create(owner=request.user, data=self.input(owner=request.user))
        return self.created(rule)

    def partial_update(self, request, *args, **kwargs):
        rule = self.get_object()
        rule = services.rule_update(rule=rule, data=self.input(rule, owner=rule.owner))
        return Response(self.get_serializer(rule).data)

    def destroy(self, request, *args, **kwargs):
        services.rule_delete(rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
