"""The gateway's /readyz checks the database from the start (a wrong password once said ready)."""

import asyncio

import httpx

from services.matching.gateway import Gateway, GatewaySettings
from services.runtime.settings import Settings
from tests.book_builder.streams import wait_for


async def _readyz(gateway: Gateway) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as http:
        return await http.get(f"http://127.0.0.1:{gateway._observability.port}/readyz")


async def _serve_until_ready_or_not(settings: Settings, *, expect_ready: bool) -> str:
    gateway = Gateway(settings, GatewaySettings(api_keys="k:alice", host="127.0.0.1", port=0))
    running = asyncio.create_task(gateway.run())
    try:
        await asyncio.wait_for(gateway.serving.wait(), timeout=30)

        async def settled() -> bool:
            report = (await _readyz(gateway)).json()
            database_checked = "not checked yet" not in report["reason"]
            return database_checked and report["ready"] is expect_ready

        await wait_for("the database check", settled, timeout_s=20)
        response = await _readyz(gateway)
        assert response.status_code == (200 if expect_ready else 503)
        return str(response.json()["reason"])
    finally:
        gateway.request_stop()
        await asyncio.wait_for(running, timeout=30)


async def test_readyz_is_not_ready_with_a_wrong_database_password(settings: Settings) -> None:
    wrong = settings.model_copy(
        update={"database_url": settings.database_url.replace("perpwatch@", "not-the-password@", 1)}
    )
    assert wrong.database_url != settings.database_url
    reason = await _serve_until_ready_or_not(wrong, expect_ready=False)
    assert "database" in reason
    assert "not-the-password" not in reason, "the reason never shows the password"
    await _serve_until_ready_or_not(settings, expect_ready=True)
