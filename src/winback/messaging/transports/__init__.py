"""Transports behind one seam; `open_transport` picks one from a `WINBACK_TRANSPORT` spec."""

from winback.messaging.transports.base import Delivery, Outbound, Transport, open_transport

__all__ = ["Delivery", "Outbound", "Transport", "open_transport"]
