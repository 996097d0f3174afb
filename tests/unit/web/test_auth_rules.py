"""Roles and capabilities, the password policy, argon2id hashing and rehashing, and the small rules of login."""

from __future__ import annotations

import itertools

import pytest
from argon2 import PasswordHasher

from winback.domain.errors import UserError
from winback.web import auth
from winback.web.login import _safe_next

CHEAP = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


@pytest.mark.parametrize(("role", "expected"), [
    ("viewer", {"read"}),
    ("account_manager", {"read", "tasks"}),
    ("marketer", {"read", "tasks", "campaigns"}),
    ("admin", {"read", "tasks", "campaigns", "admin"}),
    ("superuser", set()),
    ("", set()),
])
def test_each_role_has_exactly_its_capabilities(role, expected):
    assert {c for c in auth.CAPABILITIES if auth.allowed(role, c)} == expected


def test_roles_are_ordered_by_what_they_may_do():
    granted = [{c for c in auth.CAPABILITIES if auth.allowed(r, c)} for r in auth.ROLES]
    assert all(a < b for a, b in itertools.pairwise(granted))


def test_an_unknown_capability_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown capability 'campaign'"):
        auth.allowed("admin", "campaign")
    with pytest.raises(ValueError, match="unknown capability"):
        auth.require("campaign")


def test_principal_can_follows_its_role():
    p = auth.Principal(kind="api_key", id="k", name="crm", role="account_manager", language=None, csrf_token=None)
    assert p.can("tasks") and not p.can("campaigns")


def test_check_role_names_the_choices():
    assert auth.check_role("marketer") == "marketer"
    with pytest.raises(UserError, match="choose from viewer, account_manager, marketer, admin"):
        auth.check_role("Admin")


@pytest.mark.parametrize("password", ["", "short", "elevenchars", " " * 12, "x" * (auth.MAX_PASSWORD + 1)])
def test_password_policy_refuses(password):
    with pytest.raises(UserError, match="password"):
        auth.check_password(password)


@pytest.mark.parametrize("password", ["twelve chars", "correct horse battery staple", "密码密码密码密码密码密码"])
def test_password_policy_accepts_twelve_characters_or_more(password):
    assert auth.check_password(password) == password


def test_hash_is_argon2id_with_a_salt_and_verifies():
    first = auth.hash_password("correct horse battery", hasher=CHEAP)
    second = auth.hash_password("correct horse battery", hasher=CHEAP)
    assert first.startswith("$argon2id$") and first != second  # a fresh salt each time
    assert auth.verify_password(first, "correct horse battery", hasher=CHEAP) == (True, None)
    assert auth.verify_password(first, "correct horse batterY", hasher=CHEAP) == (False, None)


def test_default_parameters_are_rfc_9106_low_memory():
    stored = auth.hash_password("correct horse battery")
    assert "$argon2id$v=19$m=65536,t=3,p=4$" in stored


def test_a_weak_password_is_never_hashed():
    with pytest.raises(UserError, match="at least 12"):
        auth.hash_password("too short", hasher=CHEAP)


def test_an_outdated_hash_is_renewed_with_current_parameters():
    stronger = PasswordHasher(time_cost=2, memory_cost=16384, parallelism=1)
    old = auth.hash_password("correct horse battery", hasher=CHEAP)
    matches, new = auth.verify_password(old, "correct horse battery", hasher=stronger)
    assert matches and new is not None and "m=16384,t=2,p=1" in new
    assert auth.verify_password(new, "correct horse battery", hasher=stronger) == (True, None)
    assert auth.verify_password(old, "wrong password!", hasher=stronger) == (False, None)  # no rehash on a miss


def test_garbage_in_the_hash_column_is_a_mismatch_not_a_crash():
    assert auth.verify_password("not a hash", "correct horse battery") == (False, None)


@pytest.mark.parametrize(("scopes", "role"), [
    (None, None),
    ([], None),
    (["orders:write"], None),
    (["role:viewer"], "viewer"),
    (["orders:write", "role:marketer"], "marketer"),
    (["role:viewer", "role:admin", "role:marketer"], "admin"),
    (["role:root"], None),
])
def test_a_key_acts_with_its_highest_role_scope(scopes, role):
    assert auth.key_role(scopes) == role


@pytest.mark.parametrize(("raw", "stored"), [(" Ann@Example.COM ", "ann@example.com"), ("a.b@c.de", "a.b@c.de")])
def test_emails_are_stored_lower_case(raw, stored):
    assert auth.normalise_email(raw) == stored


@pytest.mark.parametrize("raw", ["", "ann", "ann@", "@example.com", "ann @example.com", "ann@localhost"])
def test_bad_emails_are_refused(raw):
    with pytest.raises(UserError, match="not an email address"):
        auth.normalise_email(raw)


@pytest.mark.parametrize(("target", "safe"), [
    (None, "/app/"), ("", "/app/"), ("/app/customers?q=1", "/app/customers?q=1"),
    ("https://evil.example/", "/app/"), ("//evil.example/", "/app/"), ("/\\evil.example", "/app/"),
    ("javascript:alert(1)", "/app/"),
])
def test_only_local_paths_are_followed_after_login(target, safe):
    assert _safe_next(target) == safe
