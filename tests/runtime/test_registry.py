"""The service registry: every entry loads, and `perpwatch run` knows exactly these names."""

import pytest

from services.registry import SERVICES, SERVICES_BY_NAME, UnknownService, build_processor, spec


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_every_entry_point_loads(service: object) -> None:
    from services.registry import ServiceSpec

    assert isinstance(service, ServiceSpec)
    target = service.load()
    assert callable(target)
    if service.kind == "stream":
        processor = build_processor(service.name)
        assert processor.service == service.name
        assert processor.inputs


def test_names_and_ports_are_unique() -> None:
    assert len(SERVICES_BY_NAME) == len(SERVICES)
    ports = [s.local_metrics_port for s in SERVICES]
    assert len(set(ports)) == len(ports)


def test_an_unknown_service_names_the_known_ones() -> None:
    with pytest.raises(UnknownService) as raised:
        spec("arbitrag")
    assert "book-builder" in str(raised.value)
