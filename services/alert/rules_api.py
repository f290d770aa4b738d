"""REST CRUD of alert rules: PostgreSQL is the store, ``alert.rules.v1`` carries every change.

Endpoints (JSON bodies are the public rule objects of ``schemas/alert.py``):

- ``GET /rules``, ``GET /rules/{id}``: read scope;
- ``POST /rules`` (201, 409 when the id exists), ``PUT /rules/{id}`` (create or replace),
  ``DELETE /rules/{id}`` (204): write scope;
- ``POST /rules/validate``: read scope; 200 or 422 with the reasons, stores nothing;
- ``GET /rules/builtin``: the rules the service ships (a stored rule with the same id replaces one).

Keys come from ``PERPWATCH_ALERT_API_KEYS`` (``key:read,key:write``; write implies read), sent as
``X-API-Key`` or ``Authorization: Bearer``: none or unknown -> 401, read-only on a write -> 403.

A rule is validated like the service validates it (the contract, then the metric against the
topics the service reads) and a bad one gets 422 with the reasons, never stored. A good one is
written and its change published to the compacted topic in one database transaction: when the
publish fails the row is rolled back (503), so the table and the topic never disagree; the
running service applies the change without a restart.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import psycopg
from aiokafka import AIOKafkaProducer
from fastapi import Depends, FastAPI, Header, HTTPException, Response
from fastapi.responses import JSONResponse
from psycopg.types.json import Jsonb
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.alert import AlertRule, AlertRuleChange, AlertRuleFile
from schemas.topics import TOPICS_BY_NAME
from services.alert.core.builtin import BUILTIN_RULES
from services.alert.core.catalog import MetricCatalog, registered_catalog
from services.alert.core.rules import RuleError, compile_rule
from services.alert.service import AlertSettings, input_topics
from services.runtime.settings import Settings

log = logging.getLogger(__name__)

RULES_TOPIC = "alert.rules.v1"
Scope = Literal["read", "write"]


class RulesApiSettings(BaseSettings):
    """``PERPWATCH_ALERT_API_*``."""

    model_config = SettingsConfigDict(env_prefix="PERPWATCH_ALERT_API_", extra="ignore", frozen=True)

    keys: str = Field(default="", description="API keys and scopes: `key:read,key:write`.")
    host: str = Field(default="0.0.0.0", description="Address the REST server binds.")
    port: int = Field(default=8091, ge=0, le=65535, description="Port of the REST server.")


def parse_keys(text: str) -> dict[str, Scope]:
    keys: dict[str, Scope] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        key, _, scope = entry.rpartition(":")
        if not key or scope not in ("read", "write"):
            raise ValueError(f"api key entry {entry!r} is not key:read or key:write")
        keys[key] = "write" if scope == "write" else "read"
    return keys


class RuleStore:
    """The table and the topic, written together."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._settings.kafka_bootstrap, enable_idempotence=True, acks="all"
                )
                await producer.start()
                self._producer = producer
            return self._producer

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    def _connect(self) -> Any:
        return psycopg.AsyncConnection.connect(self._settings.database_url)

    async def all(self) -> list[AlertRule]:
        async with await self._connect() as conn:
            rows = await (await conn.execute("SELECT rule FROM alert_rules ORDER BY id")).fetchall()
        return [AlertRule.model_validate(row[0]) for row in rows]

    async def get(self, rule_id: str) -> AlertRule | None:
        async with await self._connect() as conn:
            row = await (
                await conn.execute("SELECT rule FROM alert_rules WHERE id = %s", (rule_id,))
            ).fetchone()
        return AlertRule.model_validate(row[0]) if row else None

    async def put(self, rule: AlertRule, *, who: str, create_only: bool = False) -> bool:
        """Store and publish; returns whether it was created. Raises KeyError (exists, create_only)."""
        async with await self._connect() as conn, conn.transaction():
            row = await (
                await conn.execute("SELECT version FROM alert_rules WHERE id = %s FOR UPDATE", (rule.id,))
            ).fetchone()
            if row is not None and create_only:
                raise KeyError(rule.id)
            version = 1 if row is None else int(row[0]) + 1
            document = Jsonb(rule.model_dump(mode="json"))
            await conn.execute(
                "INSERT INTO alert_rules (id, rule, enabled, version, updated_by) VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (id) DO UPDATE SET rule = EXCLUDED.rule, enabled = EXCLUDED.enabled,"
                " version = EXCLUDED.version, updated_at = now(), updated_by = EXCLUDED.updated_by",
                (rule.id, document, rule.enabled, version, who),
            )
            await self._publish(
                AlertRuleChange(rule_id=rule.id, rule=rule, version=version, changed_at=_now())
            )
        return row is None

    async def delete(self, rule_id: str) -> bool:
        async with await self._connect() as conn, conn.transaction():
            row = await (
                await conn.execute("DELETE FROM alert_rules WHERE id = %s RETURNING version", (rule_id,))
            ).fetchone()
            if row is None:
                return False
            await self._publish(
                AlertRuleChange(rule_id=rule_id, rule=None, version=int(row[0]) + 1, changed_at=_now())
            )
        return True

    async def _publish(self, change: AlertRuleChange) -> None:
        producer = await self.producer()
        await producer.send_and_wait(
            self._settings.topic_name(RULES_TOPIC), change.model_dump_json().encode(), key=change.key.encode()
        )


def _now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings, api: RulesApiSettings | None = None, alert: AlertSettings | None = None
) -> FastAPI:
    api = api or RulesApiSettings()
    alert = alert or AlertSettings()
    keys = parse_keys(api.keys)
    catalog: MetricCatalog = registered_catalog(input_topics(alert.inputs, list(TOPICS_BY_NAME)))
    store = RuleStore(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await store.close()

    app = FastAPI(title="perpwatch alert rules", version="1", lifespan=lifespan)
    app.state.store = store

    def caller(
        x_api_key: Annotated[str | None, Header()] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> tuple[str, Scope]:
        key = x_api_key or (authorization.removeprefix("Bearer ").strip() if authorization else None)
        if not key or key not in keys:
            raise HTTPException(401, "an API key is needed (X-API-Key or Authorization: Bearer)")
        return key, keys[key]

    def writer(who: Annotated[tuple[str, Scope], Depends(caller)]) -> str:
        if who[1] != "write":
            raise HTTPException(403, "this API key may only read rules")
        return who[0][:4] + "..."

    def validated(rule: AlertRule) -> AlertRule:
        try:
            compile_rule(rule, catalog)
        except RuleError as exc:
            raise HTTPException(422, {"rule": rule.id, "reasons": exc.reasons}) from None
        return rule

    @app.get("/rules", dependencies=[Depends(caller)])
    async def list_rules() -> AlertRuleFile:
        return AlertRuleFile(rules=await store.all())

    @app.get("/rules/builtin", dependencies=[Depends(caller)])
    async def builtin() -> AlertRuleFile:
        return AlertRuleFile(rules=list(BUILTIN_RULES))

    @app.post("/rules/validate", dependencies=[Depends(caller)])
    async def validate(rule: AlertRule) -> dict[str, Any]:
        validated(rule)
        return {"valid": True, "rule": rule.id}

    @app.get("/rules/{rule_id}", dependencies=[Depends(caller)])
    async def get_rule(rule_id: str) -> AlertRule:
        rule = await store.get(rule_id)
        if rule is None:
            raise HTTPException(404, f"no rule {rule_id!r}")
        return rule

    @app.post("/rules", status_code=201)
    async def create_rule(rule: AlertRule, who: Annotated[str, Depends(writer)]) -> AlertRule:
        try:
            await _stored(store.put(validated(rule), who=who, create_only=True))
        except KeyError:
            raise HTTPException(409, f"rule {rule.id!r} exists: PUT /rules/{rule.id} replaces it") from None
        return rule

    @app.put("/rules/{rule_id}")
    async def put_rule(rule_id: str, rule: AlertRule, who: Annotated[str, Depends(writer)]) -> JSONResponse:
        if rule.id != rule_id:
            raise HTTPException(
                422, {"rule": rule.id, "reasons": [f"id {rule.id!r} differs from the path {rule_id!r}"]}
            )
        created = await _stored(store.put(validated(rule), who=who))
        return JSONResponse(rule.model_dump(mode="json"), status_code=201 if created else 200)

    @app.delete("/rules/{rule_id}", status_code=204)
    async def delete_rule(rule_id: str, who: Annotated[str, Depends(writer)]) -> Response:
        if not await _stored(store.delete(rule_id)):
            raise HTTPException(404, f"no rule {rule_id!r}")
        return Response(status_code=204)

    return app


async def _stored(write: Any) -> Any:
    """Database and broker failures are 503: nothing was stored (the transaction rolled back)."""
    try:
        return await write
    except (psycopg.OperationalError, OSError) as exc:
        raise HTTPException(503, f"rule store unavailable: {exc}") from None
    except Exception as exc:
        if type(exc).__module__.startswith("aiokafka"):
            raise HTTPException(503, f"rule topic unavailable: {exc}") from None
        raise


def run(settings: Settings) -> None:
    """Entry point of the rules API process (``perpwatch run alert-rules-api``)."""
    import uvicorn

    from services.runtime.logs import configure_logging

    api = RulesApiSettings()
    configure_logging("alert-rules-api", settings.log_level, settings.log_format)
    uvicorn.run(create_app(settings, api), host=api.host, port=api.port, log_config=None)


if __name__ == "__main__":
    from services.runtime.settings import get_settings

    run(get_settings())
