"""Benchmark: summarise, fit and score a BG/NBD world of 1M–10M customers, winback against lifetimes 0.11.3.

Goal (issue: scoring): at 10M customers (~24.5M transactions) ≥ 15× faster than lifetimes and ≤ ⅓ of its peak
memory. The timed pipeline, the same on both sides, reads the transactions from one Parquet file and then:
transaction summary (daily periods) → BG/NBD fit → Gamma-Gamma fit on repeat customers → P(alive) and expected
purchases in the next 90 days for every customer. Baseline in the same run: lifetimes 0.11.3
(`summary_data_from_transaction_data`, `BetaGeoFitter`, `GammaGammaFitter`, `conditional_probability_alive`,
`conditional_expected_number_of_purchases_up_to_time`) as a user would call it.

The world: customers acquired uniformly over the first 56 weeks of a 78-week observation, BG/NBD purchasing with
CDNOW's parameters in days (r 0.243, α 4.414·7, a 0.793, b 2.426), Gamma-Gamma spend per purchase occasion
(p 6.25, q 3.74, v 15.44), and, as in CDNOW (69,659 transactions on 67,591 customer-days), 3 % of occasions
split into two transactions on the same day — about 2.45 transactions per customer. Generation, the winback run
and the lifetimes run are three child processes; each reports its own peak RSS (getrusage of itself), so one
side's memory never counts against the other, and generation is not timed.

    python bench/btyd.py [--customers 1000000] [--seed 1] [--no-lifetimes] [--keep DIR]

Prints the figures and saves them in bench/results/btyd.json, one entry per number of customers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
START = "2023-01-02"  # a Monday; day 0 of the observation
DAYS = 546  # 78 weeks: days 0 … 545
ACQUISITION_DAYS = 392  # customers arrive uniformly over the first 56 weeks
SPLIT_SHARE = 0.03  # share of purchase occasions recorded as two transactions on one day
HORIZON_DAYS = 90
TRUE = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426, "p": 6.25, "q": 3.74, "v": 15.44}


def observation_end() -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(START) + timedelta(days=DAYS - 1)).isoformat()


# --- child: generate -----------------------------------------------------------------------------------------------


def generate(customers: int, seed: int, out: Path) -> dict[str, float]:
    """Write the world's transactions (customer_id, ts, value) to `out` as Parquet, in time order."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n = customers
    birth = rng.integers(0, ACQUISITION_DAYS, n) + rng.random(n)  # continuous time of the first purchase, days
    horizon = DAYS - birth
    lam = rng.gamma(TRUE["r"], 1 / TRUE["alpha"], n)
    p_drop = rng.beta(TRUE["a"], TRUE["b"], n)
    # BG/NBD: Poisson arrivals on (0, horizon]; the customer drops out right after the K-th repeat purchase,
    # K ~ Geometric(p), so the purchases observed are the first min(K, N) of the N arrivals
    arrivals = rng.poisson(lam * horizon)
    x = np.minimum(rng.geometric(p_drop), arrivals)
    # the first x order statistics of N uniforms: U_(k) = S_k / S_(N+1), S_k a sum of k unit exponentials
    owner = np.repeat(np.arange(n), x)
    cum = np.cumsum(rng.exponential(size=int(x.sum())))
    ends = np.cumsum(x)
    base = np.concatenate([[0.0], cum])[np.repeat(ends - x, x)]
    spacings = cum - base
    s_x = np.zeros(n)
    s_x[x > 0] = spacings[ends[x > 0] - 1]
    total = s_x + rng.gamma(arrivals - x + 1.0)
    repeat_times = birth[owner] + horizon[owner] * spacings / total[owner]
    del cum, base, spacings
    # occasions: first purchase + repeats; spend per occasion ~ Gamma(p, ν), ν ~ Gamma(q, v) per customer
    occ_owner = np.concatenate([np.arange(n), owner])
    occ_time = np.concatenate([birth, repeat_times])
    del owner, repeat_times
    nu = rng.gamma(TRUE["q"], 1 / TRUE["v"], n)
    occ_value = rng.gamma(TRUE["p"], 1 / nu[occ_owner])
    split = rng.random(len(occ_owner)) < SPLIT_SHARE
    share = np.where(split, rng.uniform(0.2, 0.8, len(occ_owner)), 1.0)
    tx_owner = np.concatenate([occ_owner, occ_owner[split]])
    tx_time = np.concatenate([occ_time, occ_time[split]])
    tx_value = np.concatenate([occ_value * share, (occ_value * (1 - share))[split]])
    del occ_owner, occ_time, occ_value
    order = np.argsort(tx_time, kind="stable")
    micros = np.datetime64(START, "us").astype(np.int64) + (tx_time[order] * 86_400e6).astype(np.int64)
    table = pa.table({
        "customer_id": pa.array(tx_owner[order] + 1, pa.int64()),
        "ts": pa.array(micros.astype("datetime64[us]")),
        "value": pa.array(np.round(tx_value[order], 2)),
    })
    pq.write_table(table, out)
    return {"customers": n, "transactions": table.num_rows, "transactions_per_customer": table.num_rows / n,
            "parquet_mb": out.stat().st_size / 2**20}


# --- children: the two pipelines -----------------------------------------------------------------------------------


def run_winback(parquet: Path, source: str, memory_limit: str | None) -> dict[str, object]:
    import numpy as np
    import pyarrow.parquet as pq

    from winback.scoring import BetaGeoModel, GammaGammaModel, summary_from_transactions

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    if source == "parquet":  # DuckDB reads the file as it aggregates
        summary = summary_from_transactions(parquet, customer_id_col="customer_id", datetime_col="ts",
                                            monetary_value_col="value", observation_period_end=observation_end(),
                                            freq="D", memory_limit=memory_limit)
    else:  # the whole file in memory as an Arrow table first
        table = pq.read_table(parquet)
        seconds["read"] = _lap(t0)
        summary = summary_from_transactions(table, customer_id_col="customer_id", datetime_col="ts",
                                            monetary_value_col="value", observation_period_end=observation_end(),
                                            freq="D", memory_limit=memory_limit)
        del table
    seconds["read_and_summary"] = _lap(t0)
    t = time.perf_counter()
    bg = BetaGeoModel().fit(summary)
    seconds["bg_nbd_fit"] = _lap(t)
    t = time.perf_counter()
    gg = GammaGammaModel().fit(summary)
    seconds["gamma_gamma_fit"] = _lap(t)
    t = time.perf_counter()
    p_alive = bg.probability_alive(summary)
    expected = bg.expected_purchases(summary, HORIZON_DAYS)
    seconds["predict"] = _lap(t)
    seconds["total"] = _lap(t0)
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "customers": len(summary), "source": source,
            "duckdb_memory_limit": memory_limit, "bg_nbd": bg.params_, "gamma_gamma": gg.params_,
            "mean_p_alive": float(np.mean(p_alive)), "mean_expected_purchases": float(np.mean(expected)),
            "mean_frequency": float(summary["frequency"].mean())}


def run_lifetimes(parquet: Path) -> dict[str, object]:
    import warnings

    warnings.simplefilter("ignore")  # lifetimes and autograd are noisy under pandas 3; this is a child process
    import numpy as np
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    df = pd.read_parquet(parquet)
    seconds["read"] = _lap(t0)
    summary = summary_data_from_transaction_data(df, "customer_id", "ts", monetary_value_col="value",
                                                 observation_period_end=observation_end(), freq="D")
    del df
    seconds["read_and_summary"] = _lap(t0)
    t = time.perf_counter()
    bgf = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    seconds["bg_nbd_fit"] = _lap(t)
    t = time.perf_counter()
    returning = summary[summary["frequency"] > 0]
    ggf = GammaGammaFitter().fit(returning["frequency"], returning["monetary_value"])
    seconds["gamma_gamma_fit"] = _lap(t)
    t = time.perf_counter()
    p_alive = bgf.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])
    expected = bgf.conditional_expected_number_of_purchases_up_to_time(HORIZON_DAYS, summary["frequency"],
                                                                       summary["recency"], summary["T"])
    seconds["predict"] = _lap(t)
    seconds["total"] = _lap(t0)
    return {"seconds": seconds, "peak_rss_mb": _peak_rss_mb(), "customers": len(summary),
            "bg_nbd": {k: float(v) for k, v in bgf.params_.items()},
            "gamma_gamma": {k: float(v) for k, v in ggf.params_.items()},
            "mean_p_alive": float(np.mean(p_alive)), "mean_expected_purchases": float(np.mean(expected)),
            "mean_frequency": float(summary["frequency"].mean())}


def _lap(t0: float) -> float:
    return round(time.perf_counter() - t0, 3)


def _peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux reports KiB


# --- parent --------------------------------------------------------------------------------------------------------


def child(stage: str, *args: str) -> dict[str, object]:
    """Run one stage in a fresh interpreter and return the JSON it prints on its last line."""
    proc = subprocess.run([sys.executable, __file__, "--stage", stage, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"stage {stage} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-lifetimes", action="store_true", help="skip the baseline")
    parser.add_argument("--keep", type=Path, help="keep (or reuse) the Parquet file in this folder")
    parser.add_argument("--source", choices=["parquet", "arrow"], default="parquet",
                        help="winback reads the Parquet file through DuckDB (default) or from an Arrow table")
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory limit for the winback summary")
    parser.add_argument("--stage", choices=["generate", "winback", "lifetimes"], help=argparse.SUPPRESS)
    parser.add_argument("--parquet", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.stage == "generate":
        print(json.dumps(generate(args.customers, args.seed, args.parquet)))
        return
    if args.stage == "winback":
        print(json.dumps(run_winback(args.parquet, args.source, args.memory_limit or None)))
        return
    if args.stage == "lifetimes":
        print(json.dumps(run_lifetimes(args.parquet)))
        return

    with tempfile.TemporaryDirectory(prefix="winback-btyd-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        parquet = folder / f"btyd_{args.customers}_{args.seed}.parquet"
        about = parquet.with_suffix(".json")
        if parquet.exists() and about.exists():  # the same world, generated by an earlier run with --keep
            world = {**json.loads(about.read_text()), "reused": str(parquet)}
        else:
            t = time.perf_counter()
            world = child("generate", "--customers", str(args.customers), "--seed", str(args.seed),
                          "--parquet", str(parquet))
            world["generate_seconds"] = _lap(t)
            about.write_text(json.dumps(world))
        print(f"world: {world}", flush=True)
        ours = child("winback", "--parquet", str(parquet), "--source", args.source,
                     "--memory-limit", args.memory_limit)
        print(f"winback: {ours}", flush=True)
        theirs = None if args.no_lifetimes else child("lifetimes", "--parquet", str(parquet))
        if theirs:
            print(f"lifetimes: {theirs}", flush=True)

    result: dict[str, object] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "world": world,
        "true_params": TRUE,
        "winback": ours,
        "lifetimes": theirs,
        "goal": {"speedup_at_10M": 15, "memory_ratio_at_10M": 1 / 3},
    }
    if theirs:
        speedup = theirs["seconds"]["total"] / ours["seconds"]["total"]
        memory = ours["peak_rss_mb"] / theirs["peak_rss_mb"]
        result.update(speedup=round(speedup, 1), memory_ratio=round(memory, 3), agreement=_agreement(ours, theirs))
        if args.customers >= 10_000_000:
            result["meets_goal"] = speedup >= 15 and memory <= 1 / 3
    out_path = HERE / "results" / "btyd.json"
    out_path.parent.mkdir(exist_ok=True)
    runs = json.loads(out_path.read_text()).get("runs", {}) if out_path.exists() else {}
    runs[str(args.customers)] = result  # one entry per world size; the latest run of each size wins
    out_path.write_text(json.dumps({"benchmark": "btyd", "runs": runs}, indent=2) + "\n")
    print(f"{'':>18} {'winback':>10} {'lifetimes':>10}")
    for stage in ("read_and_summary", "bg_nbd_fit", "gamma_gamma_fit", "predict", "total"):
        print(f"{stage + ' s':>18} {ours['seconds'][stage]:>10.2f} "
              f"{theirs['seconds'][stage] if theirs else float('nan'):>10.2f}")
    their_peak = theirs["peak_rss_mb"] if theirs else float("nan")
    print(f"{'peak RSS MB':>18} {ours['peak_rss_mb']:>10.0f} {their_peak:>10.0f}")
    for key in ("speedup", "memory_ratio", "agreement", "meets_goal"):
        if key in result:
            print(f"{key:>18}: {result[key]}")
    print(f"saved to {out_path}")


def _agreement(ours: dict, theirs: dict) -> dict[str, float]:
    """Largest relative difference between the two sides' parameters and mean predictions (same data, same
    models: they should agree to the optimisers' tolerance)."""
    pairs = [(ours[m][k], theirs[m][k]) for m in ("bg_nbd", "gamma_gamma") for k in ours[m]]
    means = [(ours[k], theirs[k]) for k in ("mean_p_alive", "mean_expected_purchases", "mean_frequency")]
    return {"params_max_rel_diff": max(abs(a - b) / abs(b) for a, b in pairs),
            "mean_predictions_max_rel_diff": max(abs(a - b) / abs(b) for a, b in means)}


if __name__ == "__main__":
    main()
