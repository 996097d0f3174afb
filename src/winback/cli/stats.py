"""`winback stats`: check the statistics behind programme reports on simulated data with known effects."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from winback.cli.output import JsonOpt, console, emit_json, fail, key_values

stats_app = typer.Typer(help="Check winback's intervals and sequential tests on simulated programmes.",
                        no_args_is_help=True)

COVERAGE_BOUNDS = (0.93, 0.97)
MAX_PEEKING_FPR = 0.05


def register(app: typer.Typer) -> None:
    app.add_typer(stats_app, name="stats")


def _problems(result: dict[str, float | int]) -> list[str]:
    low, high = COVERAGE_BOUNDS
    problems = []
    if not low <= result["coverage"] <= high:
        problems.append(f"coverage {result['coverage']:.4f} is outside {low}–{high}")
    if result["peeking_false_positive_rate"] > MAX_PEEKING_FPR:
        problems.append(f"peeking false-positive rate {result['peeking_false_positive_rate']:.4f} "
                        f"is above {MAX_PEEKING_FPR}")
    return problems


@stats_app.command("validate")
def validate(
    runs: Annotated[int, typer.Option(min=1, help="Simulated programmes, and A/A and A/B streams.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same figures.")] = 7,
    as_json: JsonOpt = False,
) -> None:
    """Coverage of 95 % intervals and the false-positive rate of the sequential test under peeking.

    Exits 1 when coverage is outside 0.93–0.97 or the peeking false-positive rate is above 0.05.
    """
    started = time.perf_counter()
    from winback.measurement.simulate import validate as run_validation

    result = run_validation(runs=runs, seed=seed)
    elapsed = time.perf_counter() - started
    if as_json:
        emit_json(result)
    else:
        key_values(f"statistics validation ({runs} runs, seed {seed})",
                   {k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in result.items()})
        console.print(f"took {elapsed:.1f} s", highlight=False)
    problems = _problems(result)
    if problems:
        fail("; ".join(problems))
