"""Health, readiness, metrics, docs, URL prefix, request ids and the error renderer."""

from __future__ import annotations

import inspect
from typing import Any

import httpx

from tutorhub_messaging import SERVICE_NAME


async def test_health_names_the_service(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["service"] == SERVICE_NAME
    assert response.json()["status"] == "ok"


async def test_every_route_also_answers_under_the_messaging_api_prefix(client: httpx.AsyncClient) -> None:
    plain = await client.get("/health")
    prefixed = await client.get("/messaging-api/health")
    assert prefixed.status_code == 200
    assert prefixed.json() == plain.json()


async def test_ready_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok"}


async def test_metrics_are_prometheus_text(client: httpx.AsyncClient) -> None:
    await client.get("/health")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "messaging_http_request_seconds_count" in response.text
    assert "messaging_hub_sockets_connected" in response.text


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200
    assert spec.json()["info"]["title"] == "TutorHub messaging"
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/health", headers={"x-request-id": "req-123"})
    assert echoed.headers["x-request-id"] == "req-123"
    generated = await client.get("/health", headers={"x-request-id": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert len(generated.headers["x-request-id"]) == 36


async def test_unknown_route_is_a_404_in_the_error_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nothing-here")
    assert response.status_code == 404
    body = response.json()
    assert body["result"] == "ERR"
    assert body["status"] == 404
    assert body["errCode"] == 404
    assert body["message"] == "errMsg_notFound"
    assert body["date"].endswith("Z")


async def test_declared_oversized_body_is_413_before_parsing(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/conversations", content=b"x" * 2_000_000, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["message"] == "errMsg_payloadTooLarge"


async def test_streamed_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    async def chunks():  # no Content-Length: counted as it arrives
        for _ in range(40):
            yield b"x" * 65_536

    response = await client.post(
        "/v1/conversations", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_openapi_documents_no_422_since_bad_input_is_a_400(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    statuses = {
        status for path in spec["paths"].values() for op in path.values() for status in op["responses"]
    }
    assert "422" not in statuses
    assert "400" in statuses
    assert "HTTPValidationError" not in spec.get("components", {}).get("schemas", {})


async def test_no_route_or_dependency_runs_on_the_thread_pool(app: Any) -> None:
    """FastAPI calls a plain ``def`` endpoint or dependency on its thread pool: a thread hop and a
    fight for the GIL on every request, paid even by requests that are refused at once."""
    from fastapi.dependencies.models import Dependant
    from fastapi.routing import APIRoute

    def sync_calls(dependant: Dependant) -> list[str]:
        found = []
        if dependant.call is not None and not inspect.iscoroutinefunction(dependant.call):
            found.append(getattr(dependant.call, "__qualname__", repr(dependant.call)))
        for sub in dependant.dependencies:
            found.extend(sync_calls(sub))
        return found

    def api_routes(routes: list[Any]) -> list[APIRoute]:
        found: list[APIRoute] = []
        for route in routes:
            if isinstance(route, APIRoute):
                found.append(route)
            elif hasattr(route, "original_router"):  # an included router
                found.extend(api_routes(route.original_router.routes))
        return found

    routes = api_routes(app.api.routes)
    assert len(routes) > 20
    offenders = {f"{route.path}: {call}" for route in routes for call in sync_calls(route.dependant)}
    assert offenders == set()
