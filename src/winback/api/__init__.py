"""The real-time API: keys and the HTTP endpoints that write orders, events, feedback and subscriptions."""
