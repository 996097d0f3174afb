"""Tracking: opaque link tokens, the tracking service (opens, clicks, unsubscribe, preferences, exit survey), engagement
quality and the batched recorder."""
