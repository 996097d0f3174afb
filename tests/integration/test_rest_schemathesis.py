"""The REST API under generated input (schemathesis, from its own OpenAPI description): no request answers with a
5xx, and no operation answers anything but 401 without credentials. The app is the real admin app with a real
API key acting as admin, on a SQLite and a PostgreSQL store holding a small world."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from starlette.testclient import TestClient

from winback.api.keys import create_key
from winback.api.routes import ROUTERS
from winback.settings import Settings
from winback.store import tables as t
from winback.store.db import create_store_engine
from winback.store.migrate import upgrade
from winback.web.app import OPENAPI_URL, create_admin_app

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
EXAMPLES = 12  # per operation and generation mode: the whole file stays near a minute on two cores
KNOWN = {"customer_id": "c1", "programme_id": "p", "enrolment_id": 1, "task_id": 1, "name": "four-email-winback",
         "channel": "email"}
OURS = {(method.lower(), route.path) for router in ROUTERS for route in router.routes  # type: ignore[attr-defined]
        for method in route.methods}  # type: ignore[attr-defined]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def admin_api(request, tmp_path_factory):
    """The admin app on a store with a few customers, scores, a programme and a task; and an admin API key."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'store.db'}"
        yield from _app(url, tmp_path_factory)
        return
    yield from _app(request.getfixturevalue("module_postgres_url"), tmp_path_factory)


def _app(url: str, tmp_path_factory):
    engine = create_store_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(t.customers.insert(), [
            {"customer_id": f"c{i}", "email": f"c{i}@example.com", "email_key": f"c{i}@example.com",
             "name": f"Customer {i}", "row_hash": "x", "updated_at": NOW} for i in range(5)])
        conn.execute(t.profiles.insert(), [{"customer_id": f"c{i}", "run_id": "r", "as_of": NOW, "stage": "at_risk",
                                            "value_at_risk": 10.0 * i, "p_churn": float("nan")} for i in range(5)])
        conn.execute(t.programmes.insert().values(programme_id="p", version=1, state="running", created_at=NOW,
                                                  updated_at=NOW))
        conn.execute(t.programme_versions.insert().values(
            programme_id="p", version=1, source="programme: p\n", digest="d", created_at=NOW,
            definition={"programme": "p", "audience": "scored()", "steps": [{"task": {"title": "Call"}}]}))
        conn.execute(t.enrolments.insert().values(programme_id="p", version=1, customer_id="c1", cycle=1,
                                                  holdout=False, state="active", entered_at=NOW))
        conn.execute(t.tasks.insert().values(customer_id="c1", title="Call", state="open", created_at=NOW,
                                             due_at=NOW + timedelta(days=1)))
    key = create_key(engine, name="schemathesis", scopes=["role:admin"], now=NOW)
    home = tmp_path_factory.mktemp("home")
    app = create_admin_app(Settings(home=home, database_url=url, postal_address="1 Example Street, Berlin"),
                           engine=engine, clock=lambda: NOW)
    yield app, key
    engine.dispose()


def _operations(app):
    schema = schemathesis.openapi.from_asgi(OPENAPI_URL, app)
    operations = [result.ok() for result in schema.get_all_operations()]
    ours = [op for op in operations if (op.method.lower(), op.path) in OURS]
    assert len(ours) == len(OURS)  # every REST route is in the OpenAPI description
    return ours


def test_generated_requests_never_get_a_server_error(admin_api):
    app, key = admin_api
    failures: list[str] = []
    for operation in _operations(app):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, key, failures)
        known = {name: value for name, value in KNOWN.items() if "{" + name + "}" in operation.path}
        if known:  # the rest of the request generated around things that exist
            _fuzz(operation, GenerationMode.POSITIVE, key, failures, path_parameters=known)
    assert failures == []


def _fuzz(operation, mode: GenerationMode, key: str, failures: list[str], **fixed) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    def run(case) -> None:
        response = case.call(headers={"Authorization": f"Bearer {key}"})
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r}: "
                            f"{response.status_code} {response.text[:200]}")

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid: an operation without parameters or body
        assert mode == GenerationMode.NEGATIVE, f"{operation.method} {operation.path}: no valid request generated"


def test_every_operation_answers_401_without_credentials(admin_api):
    app, _ = admin_api
    operations = _operations(app)
    with TestClient(app) as client:
        for operation in operations:
            path = re.sub(r"\{[^}]+\}", "1", operation.path)
            kwargs = {"json": {}} if operation.method.lower() in ("post", "put", "patch") else {}
            response = client.request(operation.method.upper(), path, **kwargs)
            assert response.status_code == 401, (operation.method, path, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
            wrong = client.request(operation.method.upper(), path, headers={"Authorization": "Bearer wbk_0_x"},
                                   **kwargs)
            assert wrong.status_code == 401, (operation.method, path, wrong.text)


def test_an_admin_key_goes_through_the_admin_app(admin_api):
    app, key = admin_api
    with TestClient(app) as client:
        listed = client.get("/api/v1/customers", params={"limit": 2}, headers={"Authorization": f"Bearer {key}"})
        assert listed.status_code == 200 and [c["customer_id"] for c in listed.json()["items"]] == ["c4", "c3"]
        assert listed.json()["items"][0]["p_churn"] is None  # NaN is not JSON: it comes out as null
        assert listed.headers["cache-control"] == "no-store"
        with app.state.engine.begin() as conn:  # a task of its own: the generated requests may have closed others
            task_id = conn.execute(t.tasks.insert().values(customer_id="c2", title="Call", state="open",
                                                           created_at=NOW)).inserted_primary_key[0]
        task = client.post(f"/api/v1/tasks/{task_id}/done", json={"note": "called"},
                           headers={"Authorization": f"Bearer {key}"})
        assert task.status_code == 200 and task.json()["detail"]["history"][0]["by"] == "schemathesis"
        with app.state.engine.connect() as conn:
            assert conn.scalar(sa.select(t.tasks.c.state).where(t.tasks.c.task_id == task_id)) == "done"
