"""Putting order-entry commands on ``venue.commands.v1`` with the contract's JSON."""

import uuid
from dataclasses import dataclass
from typing import Protocol

from schemas.venue import AmendCommand, CancelCommand, SubmitCommand
from services.matching.topics import COMMANDS_TOPIC
from services.runtime.publisher import DeliveryFailed, Publisher
from services.runtime.settings import Settings

OrderCommand = SubmitCommand | CancelCommand | AmendCommand


@dataclass(frozen=True)
class Placement:
    """Where the broker acknowledged a command."""

    command_id: str
    partition: int
    offset: int


def command_json(command: OrderCommand) -> bytes:
    """Exactly what ``perpwatch venue run`` reads: absent optional fields are omitted."""
    return command.model_dump_json(exclude_none=True).encode()


class CommandNotAccepted(Exception):
    """The broker did not acknowledge the command (the gateway answers 503)."""


class CommandPublisher(Protocol):
    async def publish(self, command: OrderCommand) -> Placement: ...


class KafkaCommandPublisher:
    """Keyed by symbol (one symbol, one partition, one engine); acknowledged before the 202."""

    def __init__(self, publisher: Publisher, settings: Settings) -> None:
        self._publisher = publisher
        self._topic = settings.topic_name(COMMANDS_TOPIC)

    async def publish(self, command: OrderCommand) -> Placement:
        command_id = uuid.uuid4().hex
        try:
            metadata = await self._publisher.deliver(
                self._topic,
                command_json(command),
                key=command.key.encode(),
                # The engine refuses unknown fields, so the id travels as a header.
                headers=[("command_id", command_id.encode())],
            )
        except DeliveryFailed as exc:
            raise CommandNotAccepted(str(exc)) from exc
        return Placement(command_id, int(metadata.partition), int(metadata.offset))
