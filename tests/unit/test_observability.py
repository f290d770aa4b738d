"""/metrics, /healthz and /readyz on a real socket."""

import asyncio

from services.runtime.observability import Health, ObservabilityServer


async def get(port: int, path: str) -> tuple[int, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    response = (await reader.read()).decode()
    writer.close()
    status = int(response.split(" ", 2)[1])
    return status, response.split("\r\n\r\n", 1)[1]


async def test_endpoints_report_health_readiness_and_metrics() -> None:
    health = Health()
    server = ObservabilityServer(health, port=0)
    await server.start()
    try:
        assert (await get(server.port, "/healthz"))[0] == 200
        status, body = await get(server.port, "/readyz")
        assert status == 503
        assert "starting" in body
        health.set_ready("starting", True)
        health.set_ready("database", False, "unreachable")
        assert (await get(server.port, "/readyz")) == (503, "database: unreachable\n")
        health.set_ready("database", True)
        assert (await get(server.port, "/readyz"))[0] == 200
        status, body = await get(server.port, "/metrics")
        assert status == 200
        assert "python_info" in body
        assert (await get(server.port, "/nope"))[0] == 404
    finally:
        await server.stop()
