"""Benchmark: `SmtpTransport` messages/s into an aiosmtpd server on loopback, against a bare aiosmtplib loop.

N pre-built ~6 KB messages (built once, not timed) are delivered to the scripted peer of the integration tests
(`tests/integration/smtp_peer.py --count-only`), which runs in its own process; a fresh peer per run, and its count of
accepted messages is checked against N. winback: `SmtpTransport.deliver` in batches of `--batch` (as the engine hands
them over) with pool sizes 4, 8 and 16 (`per_domain` = pool, the recipients spread over 50 domains). Baseline: the
same bytes sent by a bare aiosmtplib loop — `pool` connections, each looping `sendmail(from, [to], payload)` — with
the same concurrency, in the same process. The sender's RSS is sampled every 50 ms (VmRSS of /proc/self/status);
reported: before the run, the peak over the first and the last quarter of the run, and the peak overall. The
machine's 1-minute load average after each run is recorded too: on a shared machine the peer and the sender compete
for the same cores, so compare winback with the baseline of the same line, not across runs.

    python bench/smtp.py [--messages 20000] [--pools 4,8,16] [--batch 500]

Prints the figures and writes them to bench/results/smtp.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiosmtplib

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from smtp_peer import start_peer  # noqa: E402

from winback.messaging.transports.base import Outbound  # noqa: E402
from winback.messaging.transports.smtp import SmtpTransport, parse_smtp_spec  # noqa: E402

SENDER = "news@shop.example"


def build(count: int) -> list[Outbound]:
    line = "We miss you. Here is 15 % off your next order, valid for two weeks, on everything in the shop.\r\n"
    body = line * 62  # ≈ 6 KB with the headers
    messages = []
    for n in range(count):
        to = f"ok{n}@d{n % 50}.example"
        mid = f"<{n}.winback@shop.example>"
        head = (f"From: Shop <{SENDER}>\r\nTo: {to}\r\nSubject: We miss you\r\nMessage-ID: {mid}\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n\r\n")
        messages.append(Outbound(enrolment_id=n, step="s", programme_id="p", customer_id=str(n), channel="email",
                                 to=to, message_id=mid, payload=(head + body).encode()))
    return messages


class RssSampler:
    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self.rss()))
            self._stop.wait(0.05)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self, start: float, end: float) -> dict[str, float]:
        inside = [(t, r) for t, r in self.samples if start <= t <= end] or self.samples
        quarter = (end - start) / 4
        first = [r for t, r in inside if t <= start + quarter] or [inside[0][1]]
        last = [r for t, r in inside if t >= end - quarter] or [inside[-1][1]]
        mb = 1024 * 1024
        return {"rss_first_quarter_mb": round(max(first) / mb, 1), "rss_last_quarter_mb": round(max(last) / mb, 1),
                "rss_peak_mb": round(max(r for _, r in inside) / mb, 1)}


def run_winback(messages: list[Outbound], *, pool: int, batch: int, workdir: Path) -> dict:
    peer = start_peer(workdir / f"winback-{pool}", "--count-only")
    spec = f"smtp://127.0.0.1:{peer.port}?tls=none&pool={pool}&per_domain={pool}&timeout=30"
    statuses: dict[str, int] = {}
    rss_before = RssSampler.rss()
    with RssSampler() as sampler, SmtpTransport(parse_smtp_spec(spec)) as transport:
        start = time.perf_counter()
        for offset in range(0, len(messages), batch):
            for delivery in transport.deliver(messages[offset:offset + batch]):
                statuses[delivery.status] = statuses.get(delivery.status, 0) + 1
        end = time.perf_counter()
    accepted = int(peer.stop().split()[-1])
    return {"pool": pool, "seconds": round(end - start, 2), "messages_per_s": round(len(messages) / (end - start)),
            "load_average_1min_after": round(os.getloadavg()[0], 2), "statuses": statuses,
            "peer_accepted": accepted, "rss_before_mb": round(rss_before / 2**20, 1),
            **sampler.summary(start, end)}


def run_baseline(messages: list[Outbound], *, pool: int, workdir: Path) -> dict:
    peer = start_peer(workdir / f"baseline-{pool}", "--count-only")
    sent = 0

    async def main() -> None:
        nonlocal sent
        queue = iter(messages)

        async def worker() -> None:
            nonlocal sent
            client = aiosmtplib.SMTP(hostname="127.0.0.1", port=peer.port, start_tls=False, timeout=30)
            await client.connect()
            for message in queue:
                await client.sendmail(SENDER, [message.to], message.payload)
                sent += 1
            await client.quit()

        await asyncio.gather(*(worker() for _ in range(pool)))

    rss_before = RssSampler.rss()
    with RssSampler() as sampler:
        start = time.perf_counter()
        asyncio.run(main())
        end = time.perf_counter()
    accepted = int(peer.stop().split()[-1])
    return {"pool": pool, "seconds": round(end - start, 2), "messages_per_s": round(len(messages) / (end - start)),
            "load_average_1min_after": round(os.getloadavg()[0], 2), "sent": sent,
            "peer_accepted": accepted, "rss_before_mb": round(rss_before / 2**20, 1),
            **sampler.summary(start, end)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--pools", default="4,8,16")
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    messages = build(args.messages)
    size = sum(len(m.payload) for m in messages) / len(messages)
    print(f"{len(messages)} messages, {size / 1024:.1f} KB each on average")
    results = {"machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
               "messages": len(messages), "message_bytes": round(size), "batch": args.batch,
               "winback": [], "baseline_bare_aiosmtplib": []}
    with tempfile.TemporaryDirectory() as tmp:
        for pool in (int(p) for p in args.pools.split(",")):
            ours = run_winback(messages, pool=pool, batch=args.batch, workdir=Path(tmp))
            bare = run_baseline(messages, pool=pool, workdir=Path(tmp))
            results["winback"].append(ours)
            results["baseline_bare_aiosmtplib"].append(bare)
            print(f"pool {pool:>2}: winback {ours['messages_per_s']:>5}/s ({ours['statuses']}, peer accepted "
                  f"{ours['peer_accepted']}, RSS first/last quarter {ours['rss_first_quarter_mb']}/"
                  f"{ours['rss_last_quarter_mb']} MB) · bare aiosmtplib {bare['messages_per_s']:>5}/s "
                  f"(peer accepted {bare['peer_accepted']})")
    out = ROOT / "bench" / "results" / "smtp.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
