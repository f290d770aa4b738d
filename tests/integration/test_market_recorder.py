"""The market-recorder fills market_trades with each md.trades.v1 trade once, also across a kill -9."""

import asyncio
import signal
from pathlib import Path

from services.cli.reconcile import PAIRS, reconcile
from services.ingest.replay import replay_capture
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from tests.book_builder.streams import committed_offset, wait_for
from tests.integration.helpers import start_service_process, wait_until_ready

TRADES = next(p for p in PAIRS if p.topic == "md.trades.v1")


async def test_market_trades_equal_the_replayed_trades_once_each_across_a_kill(
    settings: Settings, binance_capture: Path, tmp_path: Path
) -> None:
    await ensure_topics(settings)
    stats = await replay_capture(binance_capture, settings)
    trades = stats.events["md.trades.v1"]
    assert trades > 10_000
    group = f"{settings.consumer_group_prefix}.market-recorder"
    log_path = tmp_path / "recorder.log"
    # Small batches, so the kill lands while the backlog is being written.
    env = {"PERPWATCH_SINK_BATCH_ROWS": "100"}
    first, port = start_service_process(["services.cli", "run", "market-recorder"], settings, log_path, env)
    try:
        await wait_until_ready(first, port, log_path)

        async def started() -> bool:
            return await committed_offset(settings, group, "md.trades.v1") > 0

        await wait_for("a first commit", started)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=30)
    killed_at = await committed_offset(settings, group, "md.trades.v1")
    print(f"killed after {killed_at} of {trades} trades were committed")

    second, port = start_service_process(["services.cli", "run", "market-recorder"], settings, log_path, env)
    try:
        await wait_until_ready(second, port, log_path)

        async def consumed() -> bool:
            return await committed_offset(settings, group, "md.trades.v1") >= trades

        await wait_for("the restarted recorder to finish", consumed)
        second.send_signal(signal.SIGTERM)
        await asyncio.to_thread(second.wait, 60)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait(timeout=30)
    assert second.returncode == 0, log_path.read_text()[-3000:]
    [result] = await reconcile(settings, (TRADES,))
    print(result.line())
    assert result.records == trades
    assert result.rows == result.distinct_keys > 10_000
    assert result.equal
