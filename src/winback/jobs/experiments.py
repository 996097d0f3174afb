"""Deciding the A/B tests of send steps with `auto_winner`: run with each exit sweep of the worker.

For every running programme's send step that has `auto_winner` and no winner yet: each variant's customers (sends
handed over with that variant) and how many of them converted — bought within the goal window after the send
(`metric: conversion`) or clicked, by a person, in that message (`metric: click`). The mixture sequential test of
`winback.measurement.experiments` (valid however often it is looked at) picks a variant only when it beats every
other at `alpha` with at least `min_per_arm` customers each; the winner is stored in `experiment_winners`, an alert
says so, and the engine sends it to everyone who reaches the step from then on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from winback.campaigns.definition import AutoWinner, Programme
from winback.campaigns.scheduler import running_programmes
from winback.domain.entities import EXCLUDED_ORDER_STATUSES
from winback.store import tables as t
from winback.store.db import write_transaction

__all__ = ["Decided", "decide_winners"]


@dataclass(frozen=True)
class Decided:
    programme: str
    step: str
    variant: str
    p_value: float
    arms: dict[str, tuple[int, int]]  # variant → (converted, customers)


def decide_winners(engine: sa.Engine, *, now: datetime) -> list[Decided]:
    """Decide every open auto-winner test that the data now settle; returns the decisions made."""
    decided: list[Decided] = []
    with write_transaction(engine) as conn:
        open_tests = [(programme, step, step_id, step.send.auto_winner)
                      for _row, programme in running_programmes(conn)
                      for step_id, step in zip(programme.step_ids, programme.steps, strict=True)
                      if step.send is not None and step.send.auto_winner is not None]
        if not open_tests:
            return decided
        # Imported only when a test exists: the worker runs this with every sweep, and scipy costs a second.
        from winback.measurement.experiments import auto_winner, pair_key, pairwise_tests

        done = set(conn.execute(sa.select(t.experiment_winners.c.programme_id, t.experiment_winners.c.step)).all())
        for programme, step, step_id, rule in open_tests:
            if (programme.programme, step_id) in done:
                continue
            arms = _arms(conn, programme, step_id, rule, now=now)
            for name in (v.name for v in step.send.variants):
                arms.setdefault(name, (0, 0))
            winner = auto_winner(arms, alpha=rule.alpha, min_per_arm=rule.min_per_arm)
            if winner is None:
                continue
            pairs = pairwise_tests(arms, alpha=rule.alpha)
            p_value = max(pairs[pair_key(winner, other)].p_value for other in arms if other != winner)
            decided.append(Decided(programme.programme, step_id, winner, p_value, arms))
            _record(conn, decided[-1], rule, now=now)
    return decided


def _arms(conn: sa.Connection, programme: Programme, step_id: str, rule: AutoWinner, *,
          now: datetime) -> dict[str, tuple[int, int]]:
    g = t.ledger.c
    sends = conn.execute(sa.select(g.enrolment_id, g.customer_id, g.variant, g.updated_at).where(
        g.programme_id == programme.programme, g.step == step_id, g.kind == "send", g.state == "sent",
        g.variant.is_not(None))).all()
    if not sends:
        return {}
    if rule.metric == "click":
        w = t.engagements.c
        clicked = set(conn.execute(sa.select(w.enrolment_id).distinct().where(
            w.step == step_id, w.kind == "click", w.machine.is_(False),
            w.enrolment_id.in_(sa.select(g.enrolment_id).where(
                g.programme_id == programme.programme, g.step == step_id, g.kind == "send")))).scalars())
        converted = {s.enrolment_id for s in sends if s.enrolment_id in clicked}
    else:
        o = t.orders.c
        window = programme.goal.within
        first = min(s.updated_at for s in sends)
        bought: dict[str, list[datetime]] = defaultdict(list)
        for customer_id, at in conn.execute(sa.select(o.customer_id, o.ordered_at).where(
                o.ordered_at >= first, o.ordered_at <= now, o.status.not_in(EXCLUDED_ORDER_STATUSES),
                o.customer_id.in_(sa.select(g.customer_id).where(
                    g.programme_id == programme.programme, g.step == step_id, g.kind == "send")))):
            bought[customer_id].append(at)
        converted = {s.enrolment_id for s in sends
                     if any(s.updated_at <= at <= s.updated_at + window for at in bought.get(s.customer_id, ()))}
    arms: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in sends:
        arms[s.variant][1] += 1
        arms[s.variant][0] += s.enrolment_id in converted
    return {name: (x, n) for name, (x, n) in arms.items()}


def _record(conn: sa.Connection, d: Decided, rule: AutoWinner, *, now: datetime) -> None:
    detail = {"metric": rule.metric, "alpha": rule.alpha, "min_per_arm": rule.min_per_arm,
              "arms": {k: {"converted": x, "customers": n} for k, (x, n) in sorted(d.arms.items())}}
    conn.execute(t.experiment_winners.insert().values(programme_id=d.programme, step=d.step, variant=d.variant,
                                                      decided_at=now, p_value=d.p_value, detail=detail))
    rates = ", ".join(f"{k} {x}/{n}" for k, (x, n) in sorted(d.arms.items()))
    conn.execute(t.alerts.insert().values(
        kind="experiment_winner", scope=d.programme, created_at=now, detail={**detail, "step": d.step},
        message=f"programme {d.programme}, step {d.step}: variant {d.variant!r} won ({rule.metric}: {rates}; "
                f"always-valid p {d.p_value:.3g}); every later customer of the step gets it"))
