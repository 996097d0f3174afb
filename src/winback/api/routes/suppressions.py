"""Suppressions: the addresses nothing is sent to. List them, add one by hand, and (admins only) lift one with a
reason that is kept as an alert."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from winback.api.routes.common import (
    CHECKS,
    Admin,
    Campaigns,
    Limit,
    Offset,
    Page,
    Reader,
    WorkspaceDep,
    like_prefix,
    page,
    paged,
    plain,
)
from winback.domain.entities import ENTITIES, SUPPRESSION_BASES
from winback.ingest.parse import CellError, parse_email, parse_phone, phone_key
from winback.ingest.validate import content_hash
from winback.store import tables as t
from winback.store.db import write_transaction

router = APIRouter(prefix="/api/v1/suppressions", tags=["suppressions"], dependencies=CHECKS)

COLUMNS = ("channel", "address", "basis", "source", "at")
Basis = StrEnum("Basis", {b: b for b in SUPPRESSION_BASES})  # type: ignore[misc]


class Channel(StrEnum):
    email = "email"
    sms = "sms"
    phone = "phone"


class SuppressionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel = Channel.email
    address: str = Field(min_length=1, max_length=320, description="An email address, or a phone number for sms.")
    source: str | None = Field(default=None, max_length=200, description="Why, in a few words (kept with it).")


class SuppressionPublic(BaseModel):
    channel: str
    address: str
    basis: str
    source: str | None = None
    at: str | None = None


def address_key(channel: str, address: str) -> tuple[str, str]:
    """The address as stored and its key (as a file import computes them); 422 when it is not valid."""
    try:
        if channel == "email":
            parsed = parse_email(address)
            return parsed.address, parsed.key
        phone = parse_phone(address)
        return phone, phone_key(phone)
    except CellError as exc:
        raise HTTPException(422, detail=f"{channel} address {address!r}: {exc}") from None


@router.get("", response_model=Page, summary="Suppressed addresses")
def list_suppressions(
    ws: WorkspaceDep, _: Reader,
    channel: Channel | None = None, basis: Basis | None = None,
    q: Annotated[str | None, Query(max_length=320, description="Address prefix (case-insensitive).")] = None,
    limit: Limit = 50, offset: Offset = 0,
) -> dict[str, Any]:
    """Newest first; filter by channel, basis and address prefix."""
    s = t.suppressions.c
    stmt = sa.select(*(s[c] for c in COLUMNS)).order_by(sa.nulls_last(s.at.desc()), s.channel, s.address_key)
    if channel is not None:
        stmt = stmt.where(s.channel == channel.value)
    if basis is not None:
        stmt = stmt.where(s.basis == basis.value)
    if q:
        stmt = stmt.where(s.address_key.like(like_prefix(q.strip().lower()), escape="\\"))
    with ws.ready_engine().connect() as conn:
        rows = [dict(r) for r in conn.execute(paged(stmt, limit=limit, offset=offset)).mappings()]
    return page(rows, limit=limit, offset=offset)


@router.post("", status_code=201, response_model=SuppressionPublic, summary="Suppress an address")
def add_suppression(body: SuppressionCreate, ws: WorkspaceDep, who: Campaigns) -> dict[str, Any]:
    """Add one address with basis `manual`; 409 when it is already suppressed (with the basis it has)."""
    address, key = address_key(body.channel.value, body.address)
    now = ws.clock()
    values = {"channel": body.channel.value, "address": address, "basis": "manual",
              "source": (body.source or f"added by {who.name}")[:200], "at": now}
    s = t.suppressions.c
    try:
        with write_transaction(ws.ready_engine()) as conn:
            existing = conn.scalar(sa.select(s.basis).where(s.channel == values["channel"], s.address_key == key))
            if existing is not None:
                raise HTTPException(409, detail=f"{address} is already suppressed on {values['channel']} "
                                                f"(basis {existing})")
            conn.execute(t.suppressions.insert().values(
                **values, address_key=key, row_hash=content_hash(values, ENTITIES["suppressions"].names),
                import_id=None, updated_at=now))
    except sa.exc.IntegrityError:  # added by another request at the same moment
        raise HTTPException(409, detail=f"{address} is already suppressed on {values['channel']}") from None
    return plain(values)


@router.delete("/{channel}/{address}", summary="Lift a suppression (admins)")
def remove_suppression(
    ws: WorkspaceDep, who: Admin, channel: Channel,
    address: Annotated[str, Path(min_length=1, max_length=320)],
    reason: Annotated[str, Query(min_length=3, max_length=500, description="Why it may be sent to again.")],
) -> dict[str, Any]:
    """Sending to the address becomes possible again, so only admins may, with a reason kept as an alert
    (`suppression_removed`)."""
    if not reason.strip():
        raise HTTPException(422, detail="give a reason for lifting the suppression")
    _, key = address_key(channel.value, address)
    now = ws.clock()
    s = t.suppressions.c
    with write_transaction(ws.ready_engine()) as conn:
        row = conn.execute(sa.select(*(s[c] for c in COLUMNS)).where(
            s.channel == channel.value, s.address_key == key)).mappings().first()
        if row is None:
            raise HTTPException(404, detail=f"{address} is not suppressed on {channel.value}")
        conn.execute(t.suppressions.delete().where(s.channel == channel.value, s.address_key == key))
        removed = plain(dict(row))
        conn.execute(t.alerts.insert().values(
            kind="suppression_removed", scope=row["address"][:320],
            message=f"suppression of {row['address']} ({channel.value}, basis {row['basis']}) lifted by "
                    f"{who.name}: {reason.strip()}",
            detail={**removed, "by": who.name, "by_kind": who.kind, "reason": reason.strip()}, created_at=now))
    return {"removed": removed, "by": who.name, "reason": reason.strip()}
