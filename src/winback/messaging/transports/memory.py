"""An in-memory transport for tests and benchmarks: keeps what it was given; can be told to fail."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from winback.messaging.transports.base import Delivery, Outbound


class MemoryTransport:
    """Accepts everything unless `respond` says otherwise; `outbox` holds every message handed over."""

    name = "memory"

    def __init__(self, respond: Callable[[Outbound], Delivery] | None = None) -> None:
        self.outbox: list[Outbound] = []
        self._respond = respond

    def deliver(self, messages: Sequence[Outbound]) -> list[Delivery]:
        results = []
        for message in messages:
            result = self._respond(message) if self._respond else Delivery("sent")
            if result.status in ("sent", "unknown"):
                self.outbox.append(message)
            results.append(result)
        return results

    def close(self) -> None:
        pass
