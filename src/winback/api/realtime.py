"""The real-time API: orders, events, feedback and subscriptions as they happen, and delivery-provider webhooks.

Records are checked by the file import's `RowValidator` and stored by the file import's loader, so a record
posted here is stored exactly as the same row in a JSONL file would be (apart from `import_id`, which only file
imports set). A request is all or nothing: any invalid record refuses the whole request with 422 and writes
nothing; otherwise every record is upserted by its id in one transaction.

The app provides `request.app.state.engine`, `.settings` (`winback.settings.Settings`) and `.clock()` (aware UTC).
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from winback.api.keys import ApiKey, KeyCache, RateLimiter, verify_key
from winback.api.schemas import WebhookResult, WriteResult, error_responses, record_schema
from winback.domain.entities import ENTITIES, Entity
from winback.domain.errors import ConfigError
from winback.ingest.load import ImportSummary, _Batch, _Loader
from winback.ingest.mapping import HeaderMatch, Mapping
from winback.ingest.sources import RawRow, _cell
from winback.ingest.validate import Record, RowValidator
from winback.messaging.inbound import WebhookRejected, process_provider_events, verify_provider_webhook
from winback.settings import Settings
from winback.store.db import write_transaction

__all__ = ["ENTITY_SCOPES", "MAX_BODY_BYTES", "MAX_RECORDS", "ApiRuntime", "provider_secrets", "record_validator",
           "router", "store_records", "validate_records"]

MAX_BODY_BYTES = 1 << 20
MAX_RECORDS = 1_000
KEY_CACHE_SECONDS = 30.0
ENTITY_SCOPES = {"orders": "orders:write", "events": "events:write", "feedback": "feedback:write",
                 "subscriptions": "subscriptions:write"}
_PROVIDER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

router = APIRouter(prefix="/api/v1", tags=["real-time"])


class ApiError(Exception):
    """A refused request: its status, the problems for the body, and any headers."""

    def __init__(self, status: int, errors: list[dict[str, Any]], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.errors = errors
        self.headers = headers

    @classmethod
    def one(cls, status: int, code: str, problem: str, headers: dict[str, str] | None = None) -> ApiError:
        return cls(status, [_problem(None, None, code, problem)], headers)

    def response(self) -> JSONResponse:
        return JSONResponse({"errors": self.errors}, status_code=self.status, headers=self.headers)


def _problem(index: int | None, field_name: str | None, code: str, problem: str) -> dict[str, Any]:
    return {"index": index, "field": field_name, "code": code, "problem": problem}


# --- per-process state: the key cache and the rate limit --------------------------------------------------------

@dataclass
class ApiRuntime:
    """What the API keeps in memory between requests; one per app (`app.state.realtime_api`)."""

    keys: KeyCache = field(default_factory=lambda: KeyCache(KEY_CACHE_SECONDS))
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(0, 1))

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiRuntime:
        return cls(limiter=RateLimiter(settings.api_rate, settings.api_burst))


_runtime_lock = threading.Lock()


def _runtime(request: Request) -> ApiRuntime:
    state = request.app.state
    runtime = getattr(state, "realtime_api", None)
    if runtime is None:
        with _runtime_lock:
            runtime = getattr(state, "realtime_api", None)
            if runtime is None:
                runtime = state.realtime_api = ApiRuntime.from_settings(state.settings)
    return runtime


# --- authentication, limits, body ---------------------------------------------------------------------------------

def _unauthorized(problem: str) -> ApiError:
    return ApiError.one(401, "unauthorized", problem, {"WWW-Authenticate": "Bearer"})


async def _authorize(request: Request, scope: str) -> ApiKey:
    """The caller's key: 401 without a live key, 403 without the scope, 429 over its rate."""
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise _unauthorized("send an API key: Authorization: Bearer wbk_…")
    runtime = _runtime(request)
    key = runtime.keys.get(presented)
    if key is None:  # only a cache miss pays for the hash and the query, in a worker thread
        state = request.app.state
        key = await run_in_threadpool(verify_key, state.engine, presented, now=state.clock())
        if key is None:
            raise _unauthorized("the API key is unknown, malformed or revoked")
        runtime.keys.put(presented, key)
    if not key.allows(scope):
        raise ApiError.one(403, "forbidden", f"the key {key.key_id} does not have the scope {scope}")
    wait = runtime.limiter.take(key.key_id)
    if wait > 0:
        raise ApiError.one(429, "rate_limited", f"over the rate limit of this key; retry in {wait:.1f} s",
                           {"Retry-After": str(max(1, math.ceil(wait)))})
    return key


def _too_large() -> ApiError:
    return ApiError.one(413, "too_large", f"the body is larger than {MAX_BODY_BYTES} bytes; send fewer records")


async def _read_body(request: Request) -> bytes:
    """The body, refused as soon as it passes MAX_BODY_BYTES (by its Content-Length, or while it streams)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise _too_large()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _json_list(body: bytes, what: str) -> list[Any]:
    """A JSON object or list from the body, as a list of at most MAX_RECORDS items."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError.one(400, "format", f"the body is not valid JSON: {exc}") from None
    items = [payload] if isinstance(payload, dict) else payload
    if not isinstance(items, list):
        raise ApiError.one(422, "format", f"the body must be one {what} (a JSON object) or a list of them")
    if not items:
        raise ApiError.one(422, "required", f"the list has no {what}s")
    if len(items) > MAX_RECORDS:
        raise ApiError.one(422, "too_many", f"{len(items)} {what}s; send at most {MAX_RECORDS} per request")
    return items


Work = Callable[[Request, ApiKey, bytes], tuple[int, dict[str, Any]]]


async def _serve(request: Request, scope: str, work: Work) -> JSONResponse:
    try:
        key = await _authorize(request, scope)
        body = await _read_body(request)
        status, payload = await run_in_threadpool(work, request, key, body)
    except ApiError as exc:
        return exc.response()
    return JSONResponse(payload, status_code=status)


# --- records --------------------------------------------------------------------------------------------------------

def record_validator(entity: Entity, *, now: Any, default_currency: str) -> RowValidator:
    """The file import's validator for records whose fields are the canonical column names."""
    # No header aliases and no mapping: UTC for times without an offset, `default_currency` for amounts without a
    # currency, as a file import without a mapping file.
    match = HeaderMatch(matched={name: name for name in entity.names}, extras=[], ignored=[])
    return RowValidator(entity, match, Mapping(), now=now, default_currency=default_currency)


def validate_records(entity: Entity, items: list[Any], *,
                     validator: RowValidator) -> tuple[list[Record], list[dict]]:
    """Valid records, and the problems of the others (index, field, code, problem)."""
    records: list[Record] = []
    errors: list[dict[str, Any]] = []
    allowed = set(entity.names)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(_problem(index, None, "format", "a record must be a JSON object"))
            continue
        unknown = [] if entity.extras_into else [name for name in item if name not in allowed]
        errors.extend(_problem(index, name, "unknown_field", f"{name} is not a field of {entity.name}; "
                               f"fields: {', '.join(entity.names)}") for name in unknown)
        # Values become the text a JSONL import would read, so both paths parse (and hash) the same cells.
        result = validator.validate(index, {str(name): _cell(value) for name, value in item.items()})
        if isinstance(result, list):
            errors.extend(_problem(index, p.field, p.code, p.reason) for p in result)
        elif not unknown:
            records.append(result)
    return records, errors


def store_records(engine: sa.Engine, entity: Entity, *, validator: RowValidator, records: list[Record],
                  now: Any, errors: list[dict[str, Any]] | None = None) -> ImportSummary:
    """Upsert valid records in one transaction with the import loader's own steps: repeats within the request,
    references (an unknown customer is refused, as import quarantines it), then the hash-compared upsert.

    `errors` (from validation) are reported together with what these checks find, and nothing is written
    unless both are empty. A write that collides with a concurrent one is tried once more.
    """
    for attempt in (1, 2):
        try:
            return _store_once(engine, entity, validator=validator, records=records, now=now, errors=errors or [])
        except sa.exc.IntegrityError as exc:  # another request inserted one of these ids a moment ago
            if attempt == 2:
                raise ApiError.one(409, "conflict", f"the store refused the records ({_first_line(exc)}); "
                                   "nothing was written, send them again") from None
        except sa.exc.DataError as exc:
            raise ApiError.one(422, "conflict", f"the store refused the records: {_first_line(exc)}") from None
    raise AssertionError("unreachable")


def _store_once(engine: sa.Engine, entity: Entity, *, validator: RowValidator, records: list[Record], now: Any,
                errors: list[dict[str, Any]]) -> ImportSummary:
    # Rows written here carry no import id: only file imports (and their `imports` row) set one.
    summary = ImportSummary(entity=entity.name, source="api", import_id=None,  # type: ignore[arg-type]
                            format="json", encoding=None, delimiter=None, rows=len(records))
    loader = _Loader(engine, entity, validator, summary, now=now, commit_rows=MAX_RECORDS)
    batch = _Batch(size=len(records), records=records, raws={r.row: RawRow(r.row, {}) for r in records})
    with write_transaction(engine) as conn:
        kept = loader._dedupe_in_file(batch, batch.raws)
        kept = loader._check_references(conn, kept, batch, batch.raws)
        found = [_problem(raw.row, p.field, p.code, p.reason.replace("(first at row", "(first at index"))
                 for raw, problems in batch.rejects for p in problems]
        if errors or found:
            raise ApiError(422, sorted(errors + found, key=lambda e: e["index"]))  # stable: a record's own order
        loader._write(conn, kept)
    return summary


def _first_line(exc: sa.exc.DBAPIError) -> str:
    return str(exc.orig or exc).strip().splitlines()[0]


def _write_entity(entity_name: str) -> Work:
    entity = ENTITIES[entity_name]

    def work(request: Request, key: ApiKey, body: bytes) -> tuple[int, dict[str, Any]]:
        state = request.app.state
        now = state.clock()
        items = _json_list(body, "record")
        validator = record_validator(entity, now=now, default_currency=state.settings.currency)
        records, errors = validate_records(entity, items, validator=validator)
        if not records:
            raise ApiError(422, errors)
        summary = store_records(state.engine, entity, validator=validator, records=records, now=now, errors=errors)
        return 200, {"received": len(items), "inserted": summary.inserted, "updated": summary.updated,
                     "unchanged": summary.unchanged}

    return work


def _add_record_route(entity_name: str) -> None:
    scope, work = ENTITY_SCOPES[entity_name], _write_entity(entity_name)
    entity = ENTITIES[entity_name]

    async def endpoint(request: Request) -> JSONResponse:
        return await _serve(request, scope, work)

    endpoint.__name__ = f"post_{entity_name}"
    router.add_api_route(
        f"/{entity_name}", endpoint, methods=["POST"], response_model=WriteResult,
        summary=f"Upsert {entity_name} (one record or a list of up to {MAX_RECORDS})",
        description=f"{entity.description} Needs the scope `{scope}`. All or nothing: any invalid record → 422.",
        responses=error_responses(400, 401, 403, 409, 413, 422, 429),
        openapi_extra={"requestBody": {"required": True,
                                       "content": {"application/json": {"schema": record_schema(entity)}}}},
    )


for _name in ENTITY_SCOPES:
    _add_record_route(_name)


# --- provider webhooks ----------------------------------------------------------------------------------------------

def provider_secrets(settings: Settings) -> dict[str, str]:
    """`provider:secret,provider2:secret2` from WINBACK_PROVIDER_WEBHOOK_SECRETS."""
    found: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (settings.provider_webhook_secrets or "").split(","))):
        provider, sep, secret = part.partition(":")
        if not sep or not _PROVIDER.match(provider.strip()) or not secret.strip():
            raise ConfigError("WINBACK_PROVIDER_WEBHOOK_SECRETS: write provider:secret,provider2:secret "
                              "(provider names: lower-case letters, digits, - and _)")
        found[provider.strip()] = secret.strip()
    return found


def _webhook(provider: str) -> Work:
    def work(request: Request, key: ApiKey, body: bytes) -> tuple[int, dict[str, Any]]:
        state = request.app.state
        if not _PROVIDER.match(provider):
            raise ApiError.one(404, "unknown_provider", "provider names are lower-case letters, digits, - and _")
        try:
            secret = provider_secrets(state.settings).get(provider)
        except ConfigError as exc:
            raise ApiError.one(500, "config", str(exc)) from None
        if secret is None:
            raise ApiError.one(404, "unknown_provider", f"no webhook secret is configured for {provider!r}")
        now = state.clock()
        try:
            verify_provider_webhook(secret, request.headers, body, now)
        except WebhookRejected as exc:
            raise ApiError.one(401, "bad_signature", str(exc)) from None
        events = _json_list(body, "event")
        counts = process_provider_events(state.engine, events, now, provider=provider,
                                         soft_limit=state.settings.soft_bounce_limit)
        # Events that failed are not recorded: a 503 makes the provider send them again (the rest are duplicates).
        return (503 if counts.get("error") else 200), {"received": len(events), **counts}

    return work


@router.post("/webhooks/{provider}", response_model=WebhookResult, responses=error_responses(400, 401, 403, 404, 413,
                                                                                             422, 429, 503),
             summary="Delivery, bounce and complaint events from an email provider (signed)")
async def post_webhook(provider: str, request: Request) -> JSONResponse:
    """Needs the scope `webhooks:write` and a valid X-Winback-Signature; events are applied once each, by id."""
    return await _serve(request, "webhooks:write", _webhook(provider))

