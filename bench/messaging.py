"""Benchmark: personalised, DKIM-signed email rendered and delivered over SMTP — the production pieces end to end.

Pieces: `TemplateLibrary` (shipped `winback/whats-new`, half the customers in English, half in Chinese),
`build_contexts` over a SQLite store of `--customers` customers (each with orders, items and a profile),
`TemplateComposer` with a real `DkimSigner` (RSA-2048 from `generate_key`) and signed link tokens, preflight on,
and `SmtpTransport` (pool 8) into the count-only aiosmtpd peer of the integration tests in its own process
(`tests/integration/smtp_peer.py`; its count of accepted messages is checked).

Measured, each on its own:
- contexts: `build_contexts` in batches of 500 (the engine's batch) — contexts/s;
- stages: per-message cost of the link tokens, render (Jinja), the text part (the shipped .txt), CSS inline, click and
  open tracking (links through the tracking service, the pixel), MIME, DKIM, preflight;
- compose: `compose_batch` on precomputed contexts (the store's contexts, reused cyclically: message n goes to
  customer n % customers, with its own enrolment id, tokens and Message-ID) — messages/s; with WINBACK_SHOP_URL
  and WINBACK_PRODUCT_URL set, so the button and the product names are tracked links;
- baseline_compose_text_derived: the same with the text part derived from the HTML by inscriptis (what a template
  without a written .txt costs, and what every shipped template cost before they had one);
- send: `SmtpTransport.deliver` of already composed messages — messages/s;
- pipeline, one process: compose a batch, deliver it, repeat;
- pipeline, pool: `--workers` processes compose (each builds its own library, signer and links; drafts go in,
  `Outbound`s come back) while the main process delivers, up to 2×workers batches in flight — messages/s and the
  main process's RSS over `--messages` messages (peak of the first vs last quarter; workers' RSS sampled too), and
  the CPU time per message of each process (sender, compose workers, the SMTP peer) over the run: on a machine
  with C cores, the pipeline cannot beat C / (their sum) messages per second.
The contexts are precomputed for compose, send and both pipelines (their cost is the `contexts` line).

    python bench/messaging.py [--messages 200000] [--single 20000] [--compose 10000] [--customers 2000] [--workers 2]

Prints the figures and writes them to bench/results/messaging.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "bench"))

from smtp import RssSampler  # noqa: E402
from smtp_peer import start_peer  # noqa: E402

from winback.messaging.compose import Draft, Recipient  # noqa: E402
from winback.messaging.composer import TemplateComposer  # noqa: E402
from winback.messaging.context import build_contexts  # noqa: E402
from winback.messaging.dkim import DkimSigner, generate_key, load_key  # noqa: E402
from winback.messaging.links import track_links  # noqa: E402
from winback.messaging.mime import MessageParts, build_message  # noqa: E402
from winback.messaging.preflight import preflight  # noqa: E402
from winback.messaging.templates import TemplateLibrary, html_to_text, lang_of  # noqa: E402
from winback.messaging.transports.smtp import SmtpTransport, parse_smtp_spec  # noqa: E402
from winback.store import tables as t  # noqa: E402
from winback.tracking.tokens import LinkBuilder, TokenSigner, environment_id, link_key  # noqa: E402

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
SENDER = "Tea House <news@shop.example>"
ADDRESS = "Tea House, 1 Harbour Road, Leith EH6 6LX"
PUBLIC_URL = "https://t.shop.example"
SHOP_URL = "https://shop.example/"
PRODUCT_URL = "https://shop.example/p/{sku}"
TEMPLATE = "winback/whats-new"
BATCH = 500
PEER_OPTIONS: tuple[str, ...] = ("--uvloop",)  # `--peer-loop asyncio` empties it
AUDIT = {"row_hash": "h", "updated_at": NOW}


def make_store(path: Path, customers: int, seed: int = 7) -> sa.Engine:
    """A store of `customers` customers with 60 products, 1–5 orders each (with items) and a profile."""
    rng = random.Random(seed)
    engine = sa.create_engine(f"sqlite:///{path}")
    t.metadata.create_all(engine)
    cats = ["tea", "teaware", "gifts", "snacks"]
    products = [{"sku": f"p{i}", "name": f"Product {i} {'绿茶' if i % 3 == 0 else 'Oolong'}", "category": cats[i % 4],
                 "price": Decimal(5 + i % 40), "launched_at": NOW - timedelta(days=rng.randint(1, 700)), **AUDIT}
                for i in range(60)]
    cust, orders, items, profiles = [], [], [], []
    for c in range(customers):
        cid = f"c{c}"
        cust.append({"customer_id": cid, "email": f"{cid}@d{c % 50}.example", "email_key": f"{cid}@d{c % 50}.example",
                     "name": f"Ann Lee {c}" if c % 2 == 0 else f"王芳{c}", "locale": "en-GB" if c % 2 == 0 else "zh-CN",
                     "attributes": {"tier": "gold", "points": c % 500}, **AUDIT})
        for k in range(rng.randint(1, 5)):
            oid = f"o{c}.{k}"
            chosen = rng.sample(products, rng.randint(1, 3))
            at = NOW - timedelta(days=rng.randint(30, 600))
            orders.append({"order_id": oid, "customer_id": cid, "ordered_at": at,
                           "amount": sum(p["price"] for p in chosen), "currency": "GBP", "status": "completed",
                           **AUDIT})
            items += [{"order_id": oid, "sku": p["sku"], "quantity": 1, "unit_price": p["price"], **AUDIT}
                      for p in chosen]
        profiles.append({"customer_id": cid, "run_id": "r1", "as_of": NOW, "churn_reason": "price",
                         "dormancy_type": "lapsed"})
    with engine.begin() as conn:
        for table, rows in ((t.products, products), (t.customers, cust), (t.orders, orders),
                            (t.order_items, items), (t.profiles, profiles)):
            conn.execute(table.insert(), rows)
    return engine


def drafts(start: int, count: int, customers: int) -> list[Draft]:
    out = []
    for n in range(start, start + count):
        c = n % customers
        out.append(Draft(enrolment_id=n, programme_id="winback", step="whats-new", channel="email",
                         to=f"c{c}@d{c % 50}.example", template=TEMPLATE,
                         subject={"en": "{{ first_name }}, see what's new", "zh": "{{ first_name }}，看看新品"},
                         variant=None, recipient=Recipient(customer_id=f"c{c}", name=None, locale=None), sent_at=NOW))
    return out


def derived_text_dir(workdir: Path) -> Path:
    """A templates directory holding the shipped HTML of TEMPLATE without its .txt parts: the text part is then
    derived from the HTML (inscriptis), as for any user template without a written text part — the baseline."""
    from importlib import resources

    root = workdir / "templates-derived"
    (root / "winback").mkdir(parents=True, exist_ok=True)
    shipped = resources.files("winback.messaging") / "templates" / "winback"
    for name in ("whats-new.html", "whats-new.zh.html"):
        (root / "winback" / name).write_text((shipped / name).read_text(encoding="utf-8"), encoding="utf-8")
    return root


def make_composer(home: Path, contexts: dict[str, dict[str, Any]], templates: Path | None = None) -> TemplateComposer:
    links = LinkBuilder(TokenSigner({"k1": b"0123456789abcdef0123456789abcdef"}, "k1", environment_id(PUBLIC_URL)),
                        PUBLIC_URL)
    signer = DkimSigner("shop.example", [load_key(home, "bench")])
    return TemplateComposer(TemplateLibrary(templates), links, sender=SENDER, postal_address=ADDRESS, dkim=signer,
                            contexts=lambda ids, now: {i: contexts[i] for i in ids if i in contexts},
                            shop_url=SHOP_URL, product_url=PRODUCT_URL)


def compose_all(composer: TemplateComposer, batch: Sequence[Draft]) -> list[Any]:
    out = composer.compose_batch(batch)
    bad = [r for r in out if isinstance(r, Exception)]
    if bad:
        raise RuntimeError(f"{len(bad)} messages failed to compose: {bad[0]}")
    return out


def measure_contexts(engine: sa.Engine, customers: int) -> dict[str, Any]:
    ids = [f"c{c}" for c in range(customers)]
    contexts: dict[str, dict[str, Any]] = {}
    start = time.perf_counter()
    with engine.connect() as conn:
        from winback.messaging.context import fit_recommender

        model = fit_recommender(conn)
        fitted = time.perf_counter()
        for i in range(0, len(ids), BATCH):
            contexts.update(build_contexts(conn, ids[i:i + BATCH], now=NOW, currency_default="GBP", recommender=model))
    end = time.perf_counter()
    return {"contexts": contexts, "fit_recommender_s": round(fitted - start, 3),
            "contexts_per_s": round(customers / (end - fitted))}


def measure_stages(composer: TemplateComposer, contexts: dict[str, dict[str, Any]], count: int) -> dict[str, float]:
    """Per-message microseconds of each stage, run the way `TemplateComposer._email` and `TemplateLibrary.render`
    run them (the text part: the shipped .txt template when there is one, else derived from the HTML)."""
    lib: TemplateLibrary = composer.library  # type: ignore[assignment]
    stages = ("tokens", "render", "text_part", "css_inline", "link_tracking", "mime", "dkim", "preflight")
    totals = dict.fromkeys(stages, 0.0)
    derived = 0
    for d in drafts(0, count, len(contexts)):
        base = contexts[d.recipient.customer_id]
        cid, eid = d.recipient.customer_id, d.enrolment_id
        clock = time.perf_counter()
        token = composer.links.unsubscribe_token(cid, eid, d.step)
        ctx = {**base, "unsubscribe_url": f"{PUBLIC_URL}/u/{token}",
               "preferences_url": composer.links.preferences_url(cid),
               "view_in_browser_url": composer.links.view_url(customer_id=cid, enrolment_id=eid, step=d.step),
               "postal_address": ADDRESS, "sender_name": "Tea House", "coupon": None, "shop_url": SHOP_URL}
        for name in ("whats_new", "recommendations", "purchase_history"):  # product names link to their pages
            ctx[name] = [composer._product_link(item) for item in base.get(name) or []]
        lap = time.perf_counter()
        totals["tokens"] += lap - clock
        locale = base.get("locale")
        lang = lang_of(locale)
        html_t, text_t = lib._templates(TEMPLATE, lang)
        values = {**ctx, "locale": locale, "lang": lang}
        subject = lib._run(lib._subject(d.subject[lang]), values, what="subject")
        raw = lib._run(html_t, values, what=TEMPLATE)
        clock, lap = lap, time.perf_counter()
        totals["render"] += lap - clock
        if text_t is not None:
            text = lib._run(text_t, values, what=TEMPLATE)
        else:
            text, derived = html_to_text(raw), derived + 1
        clock, lap = lap, time.perf_counter()
        totals["text_part"] += lap - clock
        html = lib._inliner.inline(raw)
        clock, lap = lap, time.perf_counter()
        totals["css_inline"] += lap - clock

        def click(url: str, cid: str = cid, eid: int = eid) -> tuple[str, str]:
            k = link_key(url)
            return k, composer.links.click_url(customer_id=cid, enrolment_id=eid, step="s", link_key=k, sent_at=NOW)

        tracked = track_links(html, text, click=click, keep=(PUBLIC_URL + "/",),
                              pixel=composer.links.open_url(customer_id=cid, enrolment_id=eid, step="s", sent_at=NOW))
        clock, lap = lap, time.perf_counter()
        totals["link_tracking"] += lap - clock
        msg = build_message(MessageParts(
            from_name="Tea House", from_addr="news@shop.example", to_name=None, to_addr=d.to, subject=subject,
            date=NOW, message_id=f"<wb.{d.enrolment_id}.s@shop.example>", text=tracked.text, html=tracked.html,
            unsubscribe_url=ctx["unsubscribe_url"], unsubscribe_mailto="mailto:unsubscribe@shop.example",
            list_id="winback.shop.example", feedback_id="winback:whats-new:a:winback", extra=[]))
        clock, lap = lap, time.perf_counter()
        totals["mime"] += lap - clock
        signed = composer.dkim.sign(msg, timestamp=int(NOW.timestamp()))  # type: ignore[union-attr]
        clock, lap = lap, time.perf_counter()
        totals["dkim"] += lap - clock
        preflight(signed, marketing=True, signing_domain="shop.example", postal_address=ADDRESS)
        clock, lap = lap, time.perf_counter()
        totals["preflight"] += lap - clock
    out: dict[str, Any] = {f"{k}_us": round(v / count * 1e6) for k, v in totals.items()}
    out["total_us"] = round(sum(totals.values()) / count * 1e6)
    out["message_bytes"] = len(signed)
    out["links_tracked"] = len(tracked.links)
    out["text_part"] = "derived from the HTML" if derived else "rendered from the .txt template"
    return out


def measure_compose(composer: TemplateComposer, customers: int, count: int) -> tuple[dict[str, Any], list[Any]]:
    messages: list[Any] = []
    start = time.perf_counter()
    for i in range(0, count, BATCH):
        messages += compose_all(composer, drafts(i, min(BATCH, count - i), customers))
    seconds = time.perf_counter() - start
    return {"messages": count, "seconds": round(seconds, 2), "messages_per_s": round(count / seconds)}, messages


def _transport(port: int) -> SmtpTransport:
    return SmtpTransport(parse_smtp_spec(f"smtp://127.0.0.1:{port}?tls=none&pool=8&per_domain=8&timeout=30"))


def _deliver(transport: SmtpTransport, batch: Sequence[Any], statuses: dict[str, int]) -> None:
    for delivery in transport.deliver(batch):
        statuses[delivery.status] = statuses.get(delivery.status, 0) + 1


def measure_send(messages: list[Any], workdir: Path) -> dict[str, Any]:
    peer = start_peer(workdir / "send", "--count-only", *PEER_OPTIONS)
    statuses: dict[str, int] = {}
    with _transport(peer.port) as transport:
        start = time.perf_counter()
        for i in range(0, len(messages), BATCH):
            _deliver(transport, messages[i:i + BATCH], statuses)
        seconds = time.perf_counter() - start
    return {"messages": len(messages), "seconds": round(seconds, 2), "messages_per_s": round(len(messages) / seconds),
            "statuses": statuses, "peer_accepted": int(peer.stop().split()[-1])}


def measure_single(composer: TemplateComposer, customers: int, count: int, workdir: Path) -> dict[str, Any]:
    peer = start_peer(workdir / "single", "--count-only", *PEER_OPTIONS)
    statuses: dict[str, int] = {}
    with RssSampler() as sampler, _transport(peer.port) as transport:
        start = time.perf_counter()
        for i in range(0, count, BATCH):
            _deliver(transport, compose_all(composer, drafts(i, min(BATCH, count - i), customers)), statuses)
        end = time.perf_counter()
    return {"messages": count, "seconds": round(end - start, 2), "messages_per_s": round(count / (end - start)),
            "statuses": statuses, "peer_accepted": int(peer.stop().split()[-1]), **sampler.summary(start, end)}


_WORKER: dict[str, Any] = {}


def _init_worker(home: str, contexts: dict[str, dict[str, Any]], templates: str | None) -> None:
    _WORKER["composer"] = make_composer(Path(home), contexts, Path(templates) if templates else None)


def _compose_chunk(batch: list[Draft]) -> tuple[list[Any], int]:
    out = compose_all(_WORKER["composer"], batch)
    return out, RssSampler.rss()


def measure_pool(home: Path, contexts: dict[str, dict[str, Any]], count: int, workers: int,
                 workdir: Path, templates: Path | None) -> dict[str, Any]:
    peer = start_peer(workdir / "pool", "--count-only", *PEER_OPTIONS)
    statuses: dict[str, int] = {}
    worker_rss: list[tuple[float, int]] = []
    customers = len(contexts)
    initargs = (str(home), contexts, str(templates) if templates else None)
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=initargs) as pool:
        for _ in range(workers):
            pool.submit(time.sleep, 0.2).result()  # every worker up before the clock starts
        processes = {"sender (main)": psutil.Process(), "smtp peer": psutil.Process(peer.process.pid),
                     **{f"compose worker {n + 1}": psutil.Process(pid)
                        for n, pid in enumerate(sorted(pool._processes))}}  # type: ignore[attr-defined]
        cpu_before = {name: _cpu(p) for name, p in processes.items()}
        with RssSampler() as sampler, _transport(peer.port) as transport:
            start = time.perf_counter()
            pending = []
            offsets = iter(range(0, count, BATCH))
            for _ in range(2 * workers):
                i = next(offsets, None)
                if i is not None:
                    pending.append(pool.submit(_compose_chunk, drafts(i, min(BATCH, count - i), customers)))
            while pending:
                messages, rss = pending.pop(0).result()
                worker_rss.append((time.perf_counter(), rss))
                i = next(offsets, None)
                if i is not None:
                    pending.append(pool.submit(_compose_chunk, drafts(i, min(BATCH, count - i), customers)))
                _deliver(transport, messages, statuses)
            end = time.perf_counter()
        cpu_us = {name: round((_cpu(p) - cpu_before[name]) / count * 1e6) for name, p in processes.items()}
    quarter = (end - start) / 4
    first = [r for at, r in worker_rss if at <= start + quarter] or [worker_rss[0][1]]
    last = [r for at, r in worker_rss if at >= end - quarter] or [worker_rss[-1][1]]
    return {"messages": count, "workers": workers, "seconds": round(end - start, 2),
            "messages_per_s": round(count / (end - start)), "statuses": statuses,
            "peer_accepted": int(peer.stop().split()[-1]), **sampler.summary(start, end),
            "worker_rss_first_quarter_mb": round(max(first) / 2**20, 1),
            "worker_rss_last_quarter_mb": round(max(last) / 2**20, 1),
            "cpu_us_per_message": {**cpu_us, "all": sum(cpu_us.values())},
            "load_average_1min_after": round(os.getloadavg()[0], 2)}


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000, help="messages through the pool pipeline")
    parser.add_argument("--single", type=int, default=20_000, help="messages through the one-process pipeline")
    parser.add_argument("--compose", type=int, default=10_000, help="messages for compose-alone and send-alone")
    parser.add_argument("--stages", type=int, default=2_000, help="messages for the per-stage breakdown")
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "messaging.json")
    args = parser.parse_args()
    results: dict[str, Any] = {"python": platform.python_version(), "cpus": os.cpu_count(),
                               "template": TEMPLATE, "dkim": "rsa-sha256, 2048-bit key", "smtp_pool": 8,
                               "batch": BATCH, "args": {k: str(v) for k, v in vars(args).items()}}

    def report(name: str, value: Any) -> None:
        results[name] = value
        print(f"{name}: {json.dumps(value)}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        generate_key(workdir, "bench")
        engine = make_store(workdir / "store.db", args.customers)
        measured = measure_contexts(engine, args.customers)
        contexts = measured.pop("contexts")
        engine.dispose()
        report("contexts", {"customers": args.customers, **measured})
        composer = make_composer(workdir, contexts)
        compose_all(composer, drafts(0, 50, args.customers))  # templates compiled before timing
        report("stages_us_per_message", measure_stages(composer, contexts, args.stages))
        compose, messages = measure_compose(composer, args.customers, args.compose)
        report("compose", compose)
        derived = make_composer(workdir, contexts, derived_text_dir(workdir))
        compose_all(derived, drafts(0, 50, args.customers))
        report("baseline_compose_text_derived", measure_compose(derived, args.customers, args.compose)[0])
        report("send", measure_send(messages, workdir))
        del messages
        report("pipeline_single_process", measure_single(composer, args.customers, args.single, workdir))
        report("pipeline_pool", measure_pool(workdir, contexts, args.messages, args.workers, workdir, None))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
