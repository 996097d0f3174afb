"""Benchmark: the tracking service (`winback serve`) answering open pixels and clicks over loopback, driven by wrk.

Setup (not timed): a fresh store (SQLite file, or a PostgreSQL schema of its own with `--store postgres`), with
`--messages` synthetic messages whose `--links` links each are recorded in `message_links`; for each message one open
URL and one click URL per link, made by the real `LinkBuilder` (sent a day ago, so no timing rule flags them), plus
`--bad-share` of tokens that do not verify. The paths are shuffled into a file.

Run: `winback serve --workers N` as a child process, then `wrk --latency` with a Lua script that cycles through the
paths (each wrk thread from its own offset) with a browser User-Agent. Afterwards the service is stopped gracefully
(SIGINT) and the store is counted: engagements + tracking_rejects must equal the requests the service answered.
A warm-up of `--warmup` seconds on a tenth of the paths (not measured, but counted) comes first. wrk counts only the
responses it read before its time was up; requests still in flight at that moment were answered by the service but
not counted by wrk, so the store may hold up to `--connections` more rows than wrk's count, per wrk run.

    python bench/tracking.py [--messages 50000] [--links 3] [--workers 2] [--connections 32] [--duration 20]
                             [--warmup 3] [--store sqlite|postgres]

Needs `wrk` (Debian: `apt-get install -y wrk`). Prints the figures and keeps them in bench/results/tracking.json,
one entry per store, workers and connections.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from winback.store.bulk import insert_rows
from winback.store.db import create_store_engine
from winback.store.migrate import upgrade
from winback.store.tables import engagements, message_links, tracking_rejects
from winback.tracking.tokens import LinkBuilder, TokenSigner, environment_id, link_key

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("WINBACK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KEYS = "bench:0123456789abcdef-benchmark-key"
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"

LUA = r"""
local paths = {}
local counter = 0
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  counter = (id * 7919) % #paths
end

function request()
  counter = counter % #paths + 1
  return wrk.format("GET", paths[counter], {["User-Agent"] = "%UA%"})
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("WRK_OUT"), "w")
  local e = summary.errors
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d}, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
  out:close()
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_schema() -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_store_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = sa.engine.make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), schema


def drop_schema(schema: str) -> None:
    admin = create_store_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def prepare(url: str, *, public_url: str, messages: int, links: int, bad_share: float, seed: int) -> list[str]:
    """Record the links of `messages` messages and return the request paths (opens, clicks, bad tokens)."""
    engine = create_store_engine(url)
    upgrade(engine)
    now = datetime.now(UTC).replace(microsecond=0)
    sent = now - timedelta(days=1)
    keys = dict(part.split(":", 1) for part in KEYS.split(","))
    signer = TokenSigner({k: v.encode() for k, v in keys.items()}, next(iter(keys)), environment_id(public_url))
    builder = LinkBuilder(signer, public_url)
    rows, paths = [], []
    for m in range(1, messages + 1):
        customer = f"C-{m:07d}"
        paths.append(builder.open_url(customer_id=customer, enrolment_id=m, step="s1", sent_at=sent))
        for i in range(links):
            target = f"https://shop.example/p/{m}/{i}?utm_source=winback"
            key = link_key(target)
            rows.append((m, "s1", key, target, customer, "bench", now))
            paths.append(builder.click_url(customer_id=customer, enrolment_id=m, step="s1", link_key=key,
                                           sent_at=sent))
    rng = random.Random(seed)
    bad = int(len(paths) * bad_share)
    paths += [f"{public_url}/c/{rng.randbytes(60).hex()}" for _ in range(bad // 2)]
    paths += [f"{public_url}/o/{rng.randbytes(40).hex()}.gif" for _ in range(bad - bad // 2)]
    rng.shuffle(paths)
    with engine.begin() as conn:
        insert_rows(conn, message_links, ("enrolment_id", "step", "link_key", "url", "customer_id", "programme_id",
                                          "created_at"), rows)
    engine.dispose()
    return [p.removeprefix(public_url) for p in paths]


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Wait until the port accepts connections (a TCP connect only: no request, so no row in the store)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"winback serve exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("winback serve did not start listening")


def run_wrk(*, port: int, script: Path, paths_file: Path, threads: int, connections: int, duration: int,
            out: Path) -> tuple[dict[str, Any], str]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script),
           f"http://127.0.0.1:{port}", "--", str(paths_file)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "WRK_OUT": str(out)}, check=True)
    figures = json.loads(out.read_text())
    found = re.search(r"Non-2xx or 3xx responses: (\d+)", proc.stdout)
    figures["non_2xx_3xx"] = int(found.group(1)) if found else 0
    figures["requests_per_s"] = round(figures["requests"] / (figures["duration_us"] / 1e6), 1)
    return figures, proc.stdout


def count_rows(url: str) -> dict[str, int]:
    engine = create_store_engine(url)
    with engine.connect() as conn:
        counts = {"engagements": conn.scalar(sa.select(sa.func.count()).select_from(engagements)) or 0,
                  "rejects": conn.scalar(sa.select(sa.func.count()).select_from(tracking_rejects)) or 0,
                  "machine": conn.scalar(sa.select(sa.func.count()).select_from(engagements)
                                         .where(engagements.c.machine == sa.true())) or 0}
    engine.dispose()
    return counts


def save(path: Path, label: str, result: dict[str, Any]) -> None:
    """Keep one result per configuration (store, workers, connections) in the results file."""
    try:
        runs = json.loads(path.read_text()).get("runs", {})
    except (OSError, ValueError, AttributeError):
        runs = {}
    runs[label] = result
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"runs": dict(sorted(runs.items()))}, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--links", type=int, default=3)
    parser.add_argument("--bad-share", type=float, default=0.01)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=20, help="seconds of measured load")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before, not measured")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tracking.json")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk (Debian/Ubuntu), then run again", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="winback-bench-tracking-"))
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    schema = None
    if args.store == "postgres":
        url, schema = postgres_schema()
    else:
        url = f"sqlite:///{work / 'winback.db'}"
    try:
        t0 = time.perf_counter()
        paths = prepare(url, public_url=public_url, messages=args.messages, links=args.links,
                        bad_share=args.bad_share, seed=args.seed)
        print(f"prepared {len(paths):,} distinct paths for {args.messages:,} messages in "
              f"{time.perf_counter() - t0:.1f} s")
        # A short warm-up on paths of its own (worker start, first connections, lazy imports), then the measured run
        # on the rest, so the measured run starts with none of its messages' links cached.
        warm = len(paths) // 10
        warm_file, paths_file = work / "warm.txt", work / "paths.txt"
        warm_file.write_text("\n".join(paths[:warm]) + "\n")
        paths_file.write_text("\n".join(paths[warm:]) + "\n")
        script = work / "tracking.lua"
        script.write_text(LUA.replace("%UA%", UA))
        env = {**os.environ, "WINBACK_HOME": str(work), "WINBACK_DATABASE_URL": url, "WINBACK_SECRET_KEYS": KEYS,
               "WINBACK_PUBLIC_URL": public_url}
        serve = subprocess.Popen([sys.executable, "-m", "winback.cli.main", "serve", "--port", str(port),
                                  "--workers", str(args.workers)], env=env, stdout=subprocess.DEVNULL,
                                 stderr=open(work / "serve.log", "wb"))  # noqa: SIM115 - closed with the process
        try:
            wait_listening(port, serve)
            warmup, _ = run_wrk(port=port, script=script, paths_file=warm_file, threads=args.threads,
                                connections=args.connections, duration=args.warmup, out=work / "warm.json")
            load_before = os.getloadavg()[0]
            figures, text = run_wrk(port=port, script=script, paths_file=paths_file, threads=args.threads,
                                    connections=args.connections, duration=args.duration, out=work / "wrk.json")
        finally:
            serve.send_signal(signal.SIGINT)
            code = serve.wait(timeout=60)
        print(text)
        counts = count_rows(url)
        rows = counts["engagements"] + counts["rejects"]
        requests = warmup["requests"] + figures["requests"]
        result = {
            "python": platform.python_version(), "cpus": os.cpu_count(), "store": args.store,
            # other work on the machine competes with the service and wrk for the same cores
            "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
            "args": {k: str(v) for k, v in vars(args).items()},
            "distinct_paths": len(paths), "warmup_requests": warmup["requests"], "wrk": figures,
            "serve_exit_code": code,
            "store_rows": {**counts, "total": rows, "wrk_requests_with_warmup": requests,
                           "minus_wrk_requests": rows - requests,
                           # nothing lost: every counted request has its row; the surplus is what was in flight
                           "all_accounted": 0 <= rows - requests <= 2 * args.connections},
            "goal": {"requests_per_s": 2000, "p99_ms": 50,
                     "met": figures["requests_per_s"] >= 2000 and figures["p99_us"] < 50_000},
        }
        print(f"requests/s {figures['requests_per_s']:,.0f}  p50 {figures['p50_us'] / 1000:.2f} ms  "
              f"p99 {figures['p99_us'] / 1000:.2f} ms  non-2xx/3xx {figures['non_2xx_3xx']:,}  "
              f"socket errors {sum(figures['errors'].values()) - figures['errors']['status']}")
        print(f"wrk requests {requests:,} (warm-up {warmup['requests']:,}); store rows {rows:,} (engagements "
              f"{counts['engagements']:,}, rejects {counts['rejects']:,}); difference {rows - requests:+,} "
              f"(≤ {2 * args.connections} in flight when the two wrk runs stopped)")
        save(args.out, f"{args.store}-workers{args.workers}-c{args.connections}", result)
        return 0
    finally:
        if schema:
            drop_schema(schema)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
