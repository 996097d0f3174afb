"""`winback programs …` and `winback worker`: programmes as code and the engine that runs them."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Annotated, Any

import typer

from winback.cli.output import JsonOpt, console, emit_json, rows_table
from winback.jobs import programmes as jobs

Source = Annotated[str, typer.Argument(help="A programme file (YAML), or the name of a shipped playbook.")]
Name = Annotated[str, typer.Argument(help="The programme's id (its 'programme:' field).")]

programs_app = typer.Typer(help="Win-back programmes as code: validate, plan, start, pause, resume, stop, status.",
                           no_args_is_help=True)


def register(app: typer.Typer) -> None:
    from winback.cli import plan

    plan.register(programs_app)
    app.add_typer(programs_app, name="programs")
    app.command("worker")(worker)


@programs_app.command("validate")
def validate(ctx: typer.Context, source: Source, as_json: JsonOpt = False) -> None:
    """Check a programme file: its schema, segments and step references."""
    result = jobs.validate(ctx.obj, source)
    if as_json:
        emit_json(result)
        return
    console.print(f"[green]valid[/]: {result['programme']} ({len(result['steps'])} steps: "
                  f"{', '.join(result['steps'])})", highlight=False)


@programs_app.command("start")
def start(ctx: typer.Context, source: Source, as_json: JsonOpt = False) -> None:
    """Store the programme (a new version if it changed) and run it; an audience programme enrols now."""
    result = jobs.start(ctx.obj, source)
    if as_json:
        emit_json(result)
        return
    version = f"version {result['version']}" + (" (new)" if result["new_version"] else " (unchanged)")
    console.print(f"{result['programme']}: running, {version}", highlight=False)
    if "enrolled" in result:
        console.print(f"  enrolled {result['enrolled']:,}, held out {result['holdout']:,}", highlight=False)
        for reason, n in result["excluded"].items():
            console.print(f"  not enrolled — {reason}: {n:,}", highlight=False)
    console.print("  steps run when a worker runs: winback worker", highlight=False)


def _state(ctx: typer.Context, name: str, action: str, as_json: bool) -> None:
    result = jobs.set_state(ctx.obj, name, action)
    if as_json:
        emit_json(result)
        return
    extra = f"; {result['ended']:,} enrolment(s) ended" if result.get("ended") else ""
    console.print(f"{name}: {result['previous']} → {result['state']}{extra}", highlight=False)


@programs_app.command("pause")
def pause(ctx: typer.Context, name: Name, as_json: JsonOpt = False) -> None:
    """Stop handing steps over; enrolments keep their place."""
    _state(ctx, name, "pause", as_json)


@programs_app.command("resume")
def resume(ctx: typer.Context, name: Name, as_json: JsonOpt = False) -> None:
    """Continue from the ledger: nothing already sent is sent again."""
    _state(ctx, name, "resume", as_json)


@programs_app.command("stop")
def stop(ctx: typer.Context, name: Name, as_json: JsonOpt = False) -> None:
    """End the programme for good: every active enrolment ends, pending steps are recorded as skipped."""
    _state(ctx, name, "stop", as_json)


@programs_app.command("status")
def status(ctx: typer.Context, name: Annotated[str | None, typer.Argument(help="One programme (default: all).")] = None,
           as_json: JsonOpt = False) -> None:
    """Enrolments and steps by state (sent, failed, skipped with reason, pending), by variant and holdout."""
    result = jobs.status(ctx.obj, name)
    if as_json:
        emit_json(result)
        return
    if not result["programmes"]:
        console.print("no programmes yet: `winback playbooks list`, then `winback programs start NAME`")
    for prog in result["programmes"]:
        reason = f" ({prog['state_reason']})" if prog["state_reason"] else ""
        console.print(f"[bold]{prog['programme']}[/] v{prog['version']}: {prog['state']}{reason}", highlight=False)
        enrol = ", ".join(f"{k} {v:,}" for k, v in sorted(prog["enrolments"].items())) or "none"
        console.print(f"  enrolments: {enrol}; pending steps {prog['pending_steps']:,}", highlight=False)
        if prog["outcomes"]:
            console.print("  outcomes: " + ", ".join(f"{k} {v:,}" for k, v in sorted(prog["outcomes"].items())),
                          highlight=False)
        rows = []
        for step, info in prog["steps"].items():
            states = ", ".join(f"{k} {v:,}" for k, v in sorted(info["states"].items()))
            skipped = ", ".join(f"{k} {v:,}" for k, v in sorted(info["skipped"].items()))
            variants = "; ".join(f"{n}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(s.items()))
                                 for n, s in sorted(info["variants"].items()))
            rows.append([step, info["kind"] or "", states, skipped, variants, f"{info.get('pending', 0):,}",
                         f"{info['possible_duplicates']:,}"])
        if rows:
            rows_table("steps", ["step", "kind", "states", "skipped (why)", "variants", "waiting here",
                                 "possible duplicates"], rows)


def worker(
    ctx: typer.Context,
    until_idle: Annotated[bool, typer.Option("--until-idle", help="Stop when nothing is due.")] = False,
    simulate: Annotated[bool, typer.Option(
        "--simulate", help="Use a simulated clock that jumps to the next due time whenever nothing is due, so weeks "
        "of schedule run in seconds (implies --until-idle: stops when nothing will ever be due).")] = False,
    batch: Annotated[int, typer.Option("--batch", min=1, max=10_000, help="Enrolments claimed at a time.")] = 500,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the retry jitter.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run due steps of every running programme through the transport (WINBACK_TRANSPORT)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    stop = threading.Event()  # SIGTERM: finish the batch in hand, record it, then stop
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    report = jobs.run(ctx.obj, until_idle=until_idle, simulate=simulate, batch_size=batch, seed=seed, stop=stop)
    result = _worker_json(report)
    if as_json:
        emit_json(result)
        return
    s = result["steps"]
    console.print(f"worker: {s['steps']:,} steps in {result['batches']:,} batches, {result['seconds']:.1f} s "
                  f"(clock {result['clock_from']} → {result['clock_to']})", highlight=False)
    console.print(f"  handed over {s['handed_over']:,}: " + ", ".join(f"{k} {v:,}" for k, v in s["outcomes"].items()),
                  highlight=False)
    for name in ("skipped", "deferred", "finished"):
        if s[name]:
            console.print(f"  {name}: " + ", ".join(f"{k} {v:,}" for k, v in s[name].items()), highlight=False)
    if s["possible_duplicates"]:
        console.print(f"  [yellow]{s['possible_duplicates']:,} handed over again after an unrecorded outcome[/]")
    if s["paused"]:
        console.print(f"  [red]paused by the error budget[/]: {', '.join(s['paused'])}")


def _worker_json(report: Any) -> dict[str, Any]:
    s = report.steps
    return {
        "batches": report.batches, "seconds": round(report.seconds, 3),
        "clock_from": report.started.isoformat() if report.started else None,
        "clock_to": report.finished.isoformat() if report.finished else None,
        "enrolled": report.enrolled, "holdout": report.holdout, "woken": report.woken, "exited": report.exited,
        "outages": report.outages,
        "steps": {"claimed": s.claimed, "steps": s.steps, "handed_over": s.handed_over, "outcomes": dict(s.outcomes),
                  "skipped": dict(s.skipped), "deferred": dict(s.deferred), "finished": dict(s.finished),
                  "possible_duplicates": s.possible_duplicates, "stale": s.stale, "released": s.released,
                  "paused": s.paused},
    }
