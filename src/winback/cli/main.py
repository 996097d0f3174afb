"""`winback`: entry point, shared options and error handling."""

from __future__ import annotations

import sqlalchemy as sa
import typer
from pydantic import ValidationError

from winback.cli import (
    apikeys,
    bounces,
    coupons,
    dashboard,
    data,
    dkim,
    hygiene,
    messages,
    playbooks,
    programmes,
    report,
    segments,
    serve,
    stats,
    tasks,
    users,
)
from winback.cli.output import fail
from winback.domain.errors import UserError, WinbackError
from winback.jobs.workspace import Workspace
from winback.settings import Settings

app = typer.Typer(
    name="winback",
    help="Find customers who are slipping away, learn why and what they are worth, win them back, "
    "and prove what it earned.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
data.register(app)
programmes.register(app)
segments.register(app)
playbooks.register(app)
dkim.register(app)
messages.register(app)
hygiene.register(app)
bounces.register(app)
coupons.register(app)
tasks.register(app)
apikeys.register(app)
serve.register(app)
report.register(app)
stats.register(app)
users.register(app)
dashboard.register(app)


@app.callback()
def main(ctx: typer.Context) -> None:
    """Settings come from the environment: WINBACK_HOME, WINBACK_DATABASE_URL, WINBACK_CURRENCY."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(f"WINBACK_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        fail(f"bad setting: {problems}")
    ctx.obj = Workspace(settings=settings)
    ctx.call_on_close(ctx.obj.close)


def run() -> None:
    """Console-script entry: user mistakes become one line and exit code 1; bugs keep their traceback."""
    try:
        app(standalone_mode=True)
    except UserError as exc:
        fail(str(exc))
    except WinbackError as exc:
        fail(str(exc), code=3)
    except sa.exc.OperationalError as exc:  # unreachable server, locked or unreadable database file …
        detail = str(exc.orig or exc).strip().splitlines()[0]
        fail(f"cannot use the store: {detail} (check WINBACK_DATABASE_URL and that the database is running)")
    except OSError as exc:  # a data directory or file that cannot be created or written
        fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
    except KeyboardInterrupt:
        fail("interrupted", code=130)


if __name__ == "__main__":  # pragma: no cover
    run()
