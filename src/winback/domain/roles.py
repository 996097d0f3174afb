"""Who may do what in the dashboard and the REST API (docs/users.md): the roles and their capabilities."""

from __future__ import annotations

__all__ = ["CAPABILITIES", "ROLES", "allowed"]

ROLES = ("viewer", "account_manager", "marketer", "admin")  # each may do what the ones before it may
CAPABILITIES: dict[str, tuple[str, ...]] = {
    "read": ROLES,
    "tasks": ("account_manager", "marketer", "admin"),  # assign and complete account-manager tasks
    "campaigns": ("marketer", "admin"),  # segments, programmes, coupons, suppressions
    "admin": ("admin",),  # users, settings
}


def allowed(role: str, capability: str) -> bool:
    """True when `role` has `capability` (read, tasks, campaigns, admin); an unknown role has none."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}; one of {', '.join(CAPABILITIES)}")
    return role in CAPABILITIES[capability]
