"""`winback users`: the people who use the dashboard and the REST API (add, list, disable, set-role)."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from winback.cli.output import JsonOpt, console, emit_json, rows_table
from winback.domain.errors import UserError
from winback.domain.roles import ROLES

users_app = typer.Typer(help="Dashboard users and their roles (viewer, account_manager, marketer, admin).",
                        no_args_is_help=True)

ROLE_HELP = f"One of {', '.join(ROLES)} (docs/users.md says what each may do)."


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")


def _when(value: object) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M}"


def _read_password(from_stdin: bool) -> str:
    """The new password: the first line of standard input, or typed twice without echo."""
    from winback.web import auth  # FastAPI and argon2: loaded only for these commands

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise UserError("no terminal to type a password on: pipe it in with --password-stdin")
        password = getpass.getpass("Password (at least 12 characters): ")
        if password != getpass.getpass("Repeat the password: "):
            raise UserError("the two passwords differ; nothing was changed")
    return auth.check_password(password)


@users_app.command("add")
def add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The user's email; they log in with it.")],
    role: Annotated[str, typer.Option(help=ROLE_HELP)],
    name: Annotated[str | None, typer.Option(help="The name the dashboard shows (default: the email).")] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input instead of asking.")]
    = False,
    as_json: JsonOpt = False,
) -> None:
    """Add a user (the first one should be an admin); asks for the password twice unless --password-stdin."""
    from winback.web import auth

    ws = ctx.obj
    engine = ws.ready_engine()
    auth.check_role(role)
    email = auth.normalise_email(email)
    password = _read_password(password_stdin)
    user_id = auth.create_user(engine, email=email, password=password, role=role, name=name, now=ws.clock())
    if as_json:
        emit_json(auth.get_user(engine, email).as_dict())
        return
    console.print(f"user {user_id} {email} added with the role {role}; log in at /app/login "
                  "(`winback dashboard` serves it)", highlight=False)


@users_app.command("list")
def list_(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Every user: email, name, role, last login, disabled."""
    from winback.web import auth

    found = auth.list_users(ctx.obj.ready_engine())
    if as_json:
        emit_json([user.as_dict() for user in found])
        return
    if not found:
        console.print("no users (add the first admin with `winback users add EMAIL --role admin`)", highlight=False)
        return
    rows_table("users", ["email", "name", "role", "created", "last login", "disabled"],
               [[u.email, u.name or "", u.role, _when(u.created_at), _when(u.last_login_at), _when(u.disabled_at)]
                for u in found])


@users_app.command("disable")
def disable(ctx: typer.Context, email: Annotated[str, typer.Argument(help="The user's email.")],
            as_json: JsonOpt = False) -> None:
    """Stop a user from logging in and end their sessions now (their history stays)."""
    from winback.web import auth

    ws = ctx.obj
    user = auth.disable_user(ws.ready_engine(), email, now=ws.clock())
    if as_json:
        emit_json(user.as_dict())
        return
    console.print(f"user {user.email} disabled at {_when(user.disabled_at)}; their sessions have ended",
                  highlight=False)


@users_app.command("set-role")
def set_role(ctx: typer.Context, email: Annotated[str, typer.Argument(help="The user's email.")],
             role: Annotated[str, typer.Argument(help=ROLE_HELP)], as_json: JsonOpt = False) -> None:
    """Give a user another role; it applies from their next request."""
    from winback.web import auth

    user = auth.set_role(ctx.obj.ready_engine(), email, role)
    if as_json:
        emit_json(user.as_dict())
        return
    console.print(f"user {user.email} now has the role {user.role}", highlight=False)
