"""Commands over the store of record: init, status, ingest, entities, customers, datasets, demo."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from winback.cli.output import JsonOpt, console, emit_json, key_values, progress_bar, rows_table
from winback.domain.entities import ENTITIES
from winback.domain.errors import UserError
from winback.ingest.load import ImportSummary
from winback.jobs import data as jobs
from winback.jobs.workspace import Workspace

customers_app = typer.Typer(help="Look at customers.", no_args_is_help=True)
models_app = typer.Typer(help="Check the churn and value models against what happened.", no_args_is_help=True)
datasets_app = typer.Typer(help="Real and generated data to learn and demonstrate with.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("status")(status)
    app.command("ingest")(ingest)
    app.command("score")(score)
    app.command("entities")(entities)
    app.command("demo")(demo)
    app.add_typer(customers_app, name="customers")
    app.add_typer(datasets_app, name="datasets")
    app.add_typer(models_app, name="models")


def init(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Create the store, or upgrade it to this version's schema (safe to run again)."""
    result = jobs.init_store(ctx.obj)
    if as_json:
        emit_json(result)
        return
    verb = "created" if result["created"] else ("upgraded" if result["upgraded"] else "already up to date")
    console.print(f"store {verb}: {result['database']} (schema {result['schema_version']})")


def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Schema version and how many rows each entity holds."""
    result = jobs.store_status(ctx.obj)
    if as_json:
        emit_json(result)
        return
    console.print(f"store: {result['database']}  schema: {result['schema_version'] or 'not initialised'}")
    if result["counts"]:
        rows_table("rows per entity", ["entity", "rows"], [[k, f"{v:,}"] for k, v in result["counts"].items()])


def _print_summary(summary: ImportSummary) -> None:
    s = summary
    detected = ", ".join(x for x in (s.format, s.encoding, repr(s.delimiter) if s.delimiter else None) if x)
    console.print(f"[bold]{s.entity}[/] from {s.source} ({detected})", highlight=False)
    console.print(f"  rows {s.rows:,}: inserted {s.inserted:,}, updated {s.updated:,}, unchanged {s.unchanged:,}, "
                  f"quarantined {s.quarantined:,}", highlight=False)
    for code, n in s.quarantine_reasons.items():
        console.print(f"    {code}: {n:,}", highlight=False)
    if s.quarantine_file:
        console.print(f"  rejected rows and reasons: {s.quarantine_file}", highlight=False)
    if s.extra_columns:
        console.print(f"  kept in the extras column: {', '.join(s.extra_columns)}", highlight=False)
    if s.ignored_columns:
        console.print(f"  [yellow]not imported[/] (no such column; use --mapping): {', '.join(s.ignored_columns)}",
                      highlight=False)
    if s.consents.get("refused_suppressed"):
        console.print(f"  [yellow]{s.consents['refused_suppressed']} subscribe request(s) refused[/]: the address "
                      "is suppressed and stays so (recorded in consent history)", highlight=False)
    if s.inserted == 0 and s.updated == 0 and s.rows:
        console.print(f"  {s.message}", highlight=False)


def ingest(
    ctx: typer.Context,
    entity: Annotated[str, typer.Argument(help=f"One of: {', '.join(ENTITIES)}.")],
    path: Annotated[Path, typer.Argument(help="A .csv/.tsv, .jsonl or .parquet file.")],
    mapping: Annotated[Path | None, typer.Option(help="YAML/JSON file mapping file headers to columns.")] = None,
    encoding: Annotated[str | None, typer.Option(help="Text encoding, when detection is not enough.")] = None,
    currency: Annotated[str | None, typer.Option(help="Currency of amounts without one (default WINBACK_CURRENCY).")]
    = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a file: valid rows are upserted by id, every rejected row is quarantined with its reason."""
    ws: Workspace = ctx.obj
    with progress_bar(not as_json) as bar:
        task = bar.add_task(f"{entity} rows", total=None) if bar else None
        summary = jobs.ingest(ws, entity, path, mapping=mapping, encoding=encoding, currency=currency,
                              progress=(lambda n: bar.advance(task, n)) if bar and task is not None else None)
    if as_json:
        emit_json(summary.as_dict())
    else:
        _print_summary(summary)


def entities(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the column reference as Markdown.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The columns each entity accepts on import."""
    from winback.domain.docs import entities_markdown, entities_table

    if as_json:
        emit_json(entities_table())
    elif markdown:
        console.print(entities_markdown(), markup=False, highlight=False, soft_wrap=True)
    else:
        for name, cols in entities_table().items():
            rows_table(name, ["column", "kind", "required", "aliases"],
                       [[c["name"], c["kind"], "yes" if c["required"] else "", ", ".join(c["aliases"])] for c in cols])


@customers_app.command("show")
def customers_show(
    ctx: typer.Context, customer_id: Annotated[str, typer.Argument(help="The customer's id.")], as_json: JsonOpt = False
) -> None:
    """One customer with counts, totals and recent history."""
    view = jobs.show_customer(ctx.obj, customer_id)
    if as_json:
        emit_json(view)
        return
    key_values(f"customer {customer_id}", view["customer"])
    if view["profile"]:
        p = view["profile"]
        key_values("scores", {k: p.get(k) for k in (
            "as_of", "stage", "stage_since", "rfm_score", "rfm_segment", "p_alive", "p_churn", "clv", "value_at_risk",
            "value_tier", "churn_reason", "dormancy_type")})
        for line in (p.get("explanation") or {}).get("signals", []):
            console.print(f"  signal: {line}", highlight=False)
    key_values("counts", {**view["counts"], **view["totals"]})
    if view["recent"]["orders"]:
        rows_table("recent orders", ["order_id", "ordered_at", "amount", "currency", "status"],
                   [[o["order_id"], o["ordered_at"], o["amount"], o["currency"], o["status"]]
                    for o in view["recent"]["orders"]])


def _load_progress(bar: Any) -> Any:
    tasks: dict[str, Any] = {}

    def advance(entity: str, n: int) -> None:
        if entity not in tasks:
            tasks[entity] = bar.add_task(f"{entity} rows", total=None)
        bar.advance(tasks[entity], n)

    return advance if bar else None


def _summaries(title: str, results: dict[str, ImportSummary]) -> None:
    rows_table(title, ["entity", "rows", "inserted", "updated", "unchanged", "quarantined"],
               [[e, f"{s.rows:,}", f"{s.inserted:,}", f"{s.updated:,}", f"{s.unchanged:,}", f"{s.quarantined:,}"]
                for e, s in results.items()])


@datasets_app.command("load")
def datasets_load(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="`cdnow` (the real CDNOW purchases), or a folder of <entity>.csv files.")],
    as_json: JsonOpt = False,
) -> None:
    """Load a dataset into the store (through the same validation as `winback ingest`)."""
    ws: Workspace = ctx.obj
    with progress_bar(not as_json) as bar:
        if name == "cdnow":
            results = jobs.load_cdnow(ws, progress=_load_progress(bar))
        else:
            results = jobs.load_directory(ws, Path(name), progress=_load_progress(bar))
    if as_json:
        emit_json({entity: s.as_dict() for entity, s in results.items()})
    else:
        _summaries(f"loaded {name}", results)


@datasets_app.command("generate")
def datasets_generate(
    ctx: typer.Context,
    customers: Annotated[int, typer.Option(help="How many customers.")] = 2_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same world.")] = 7,
    out: Annotated[Path | None, typer.Option(help="Folder to write to (default: under WINBACK_HOME).")] = None,
    load: Annotated[bool, typer.Option("--load/--no-load", help="Also load the world into the store.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a realistic, seeded world (customers, orders, activity, feedback …) with its ground truth apart."""
    ws: Workspace = ctx.obj
    result = jobs.generate(ws, customers=customers, seed=seed, out=out)
    if load:
        with progress_bar(not as_json) as bar:
            loaded = jobs.load_directory(ws, Path(result["directory"]), progress=_load_progress(bar))
        result["loaded"] = {e: s.as_dict() for e, s in loaded.items()}
    if as_json:
        emit_json(result)
        return
    rows_table(f"world written to {result['directory']}", ["file", "rows"],
               [[k, f"{v:,}"] for k, v in result["rows"].items()])
    console.print(f"ground truth (kept apart from the data): {result['truth']}", highlight=False)
    if load:
        _summaries("loaded", loaded)


def demo(
    ctx: typer.Context,
    customers: Annotated[int, typer.Option(help="Customers in the generated world.")] = 2_000,
    seed: Annotated[int, typer.Option(help="Seed of the generated world.")] = 7,
    as_json: JsonOpt = False,
) -> None:
    """The main job on the embedded store: load CDNOW and a generated world, score it, plan and run a playbook."""
    from winback.jobs.demo import run_demo

    ws: Workspace = ctx.obj
    with progress_bar(not as_json) as bar:
        result = run_demo(ws, customers=customers, seed=seed, progress=_load_progress(bar),
                          say=None if as_json else (lambda m: console.print(m, soft_wrap=True, highlight=False)))
    if as_json:
        emit_json(result)


def _parse_as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--as-of {text!r} is not a date: write it like 2026-09-30 or 2026-09-30T12:00:00+08:00") \
            from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def score(
    ctx: typer.Context,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Score as of this date (default: now).")] = None,
    rules: Annotated[str | None, typer.Option(help="Stage rules: a preset (retail, subscription, b2b) or a YAML file.")]
    = None,
    as_json: JsonOpt = False,
) -> None:
    """Score every customer: lifecycle stage, RFM, signals, dormancy type; stores profiles and their history."""
    from winback.jobs.scoring import score as run_score

    result = run_score(ctx.obj, as_of=_parse_as_of(as_of), rules=rules)
    if as_json:
        emit_json(result)
        return
    console.print(f"scored {result['customers']:,} customers as of {result['as_of']} ({result['rules']} rules); "
                  f"{result['stage_changes']:,} stage changes", highlight=False)
    for title, key in (("stage", "stages"), ("RFM segment", "segments"), ("dormancy type", "dormancy_types"),
                       ("churn reason", "reasons")):
        if result.get(key):
            rows_table(f"by {title}", [title, "customers"], [[k, f"{v:,}"] for k, v in result[key].items()])


@datasets_app.command("evaluate")
def datasets_evaluate(
    ctx: typer.Context,
    world: Annotated[Path | None, typer.Argument(help="A generated world's folder (default: the latest).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Score a loaded generated world as of its end and compare reasons and dormancy types with its ground truth."""
    from winback.jobs.evaluate import evaluate_world

    result = evaluate_world(ctx.obj, world)
    if as_json:
        emit_json(result)
        return
    key_values(f"evaluation of {result['world']}", {k: v for k, v in result.items()
                                                     if not isinstance(v, dict) and k != "world"})


@models_app.command("backtest")
def models_backtest(
    ctx: typer.Context,
    as_of: Annotated[str, typer.Option("--as-of", help="Predict as of this date; labels come from after it.")],
    horizon: Annotated[int, typer.Option(help="Days after the as-of date in which a customer who buys is kept.")]
    = 90,
    seed: Annotated[int, typer.Option(help="Random seed of the model and the folds.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Backtest the churn model and the baselines (recency, RFM, BG/NBD): AUC, PR-AUC, Brier, ECE, lift."""
    from winback.jobs.models import run_backtest

    when = _parse_as_of(as_of)
    assert when is not None
    result = run_backtest(ctx.obj, as_of=when, horizon_days=horizon, seed=seed)
    if as_json:
        emit_json(result)
        return
    console.print(f"{result['customers']:,} customers as of {result['as_of']}, horizon {horizon} days, "
                  f"churn rate {result['churn_rate']:.1%} ({result['design']} design)", highlight=False)
    rows_table("models", ["model", "auc", "pr_auc", "brier", "ece", "lift_top_decile", "default"],
               [[m["name"], m["auc"], m["pr_auc"], m["brier"], m["ece"], m["lift_top_decile"],
                 "yes" if m["default"] else ""] for m in result["models"]])
    f = result["forecast"]
    console.print(f"BG/NBD forecast: {f['expected_purchases']:,.0f} purchases expected, {f['actual_purchases']:,} "
                  "happened", highlight=False)
