"""One transport per channel behind the seam, and the composition of all of them from settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from winback.domain.errors import ConfigError
from winback.messaging.transports.base import Delivery, Outbound, Transport, open_transport

if TYPE_CHECKING:
    from winback.settings import Settings

__all__ = ["ChannelRouter", "open_transports"]


class ChannelRouter:
    """Hands each message to its channel's transport; results come back in the batch's order."""

    name = "router"

    def __init__(self, transports: Mapping[str, Transport]) -> None:
        self.transports = dict(transports)

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        """Group by channel, deliver each group, reassemble in order."""
        results: list[Delivery | None] = [None] * len(messages)
        groups: dict[str, list[int]] = {}
        for index, message in enumerate(messages):
            groups.setdefault(message.channel, []).append(index)
        for channel, indexes in groups.items():
            transport = self.transports.get(channel)
            if transport is None:
                for index in indexes:
                    results[index] = Delivery("failed", f"no transport for channel {channel}", "no_transport")
                continue
            delivered = transport.deliver([messages[index] for index in indexes])
            if len(delivered) != len(indexes):
                raise RuntimeError(f"{transport.name} returned {len(delivered)} outcomes for {len(indexes)} messages")
            for index, delivery in zip(indexes, delivered, strict=True):
                results[index] = delivery
        return [result for result in results if result is not None]

    def close(self) -> None:
        for transport in self.transports.values():
            transport.close()


def open_transports(settings: Settings) -> Transport:
    """Email from `transport_spec`, SMS from `sms_transport`, webhooks from `webhook_url` and `webhook_secret`."""
    from winback.messaging.egress import EgressPolicy
    from winback.messaging.transports.memory import MemoryTransport

    policy = EgressPolicy(settings.egress_allow)
    transports: dict[str, Transport] = {"email": open_transport(settings.transport_spec)}
    if settings.sms_transport == "memory":
        transports["sms"] = MemoryTransport()
    elif settings.sms_transport:
        from winback.messaging.transports.sms import SmsTransport

        transports["sms"] = SmsTransport(settings.sms_transport, policy=policy)
    if settings.webhook_url:
        if not settings.webhook_secret:
            raise ConfigError("WINBACK_WEBHOOK_URL is set but WINBACK_WEBHOOK_SECRET is not; webhooks are signed")
        if settings.webhook_url == "memory":
            transports["webhook"] = MemoryTransport()
        else:
            from winback.messaging.transports.webhook import WebhookTransport

            transports["webhook"] = WebhookTransport(settings.webhook_url, settings.webhook_secret, policy=policy)
    return ChannelRouter(transports)
