"""The venue registry (services/venues/__init__.py): one package per venue, each with every part
of the one interface (``VenueParts``), the template with the same parts, and no venue code
anywhere the registry does not know."""

import ast
import dataclasses
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from schemas.common import ExchangeId
from services.backfill.history import history_for
from services.book_builder.core.rules import BookSpec
from services.instruments.catalog import load_snapshot
from services.venues import (
    VENUES,
    adapter_for,
    book_spec_for,
    dialect_for,
    instruments_resource,
    load_part,
    registered_venues,
    venue_parts,
)
from services.venues.parts import VenueParts, split_reference

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "services" / "venues"
TEMPLATE = PACKAGES / "_template"
PART_FIELDS = [f.name for f in dataclasses.fields(VenueParts)]
REFERENCES = [f.name for f in dataclasses.fields(VenueParts) if f.name not in ("exchange", "instruments")]
OPTIONAL = {f.name for f in dataclasses.fields(VenueParts) if f.default is None}


def test_every_exchange_is_registered_under_its_own_id() -> None:
    assert set(VENUES) == set(ExchangeId)
    assert all(package == exchange.value for exchange, package in VENUES.items())
    assert registered_venues() == sorted(ExchangeId, key=lambda e: e.value)


@pytest.mark.parametrize("venue", registered_venues(), ids=lambda v: v.value)
def test_every_venue_package_has_every_part(venue: ExchangeId) -> None:
    parts = venue_parts(venue)
    assert parts.exchange is venue
    assert _declared_fields(PACKAGES / VENUES[venue] / "__init__.py") == PART_FIELDS
    for name in REFERENCES:
        reference = getattr(parts, name)
        if reference is None:  # an optional part the venue does not have (history)
            assert name in OPTIONAL, (venue.value, name)
            continue
        module, _ = split_reference(reference)
        assert (PACKAGES / VENUES[venue] / f"{module}.py").is_file(), (venue.value, name)
        assert load_part(venue, reference) is not None
    assert adapter_for(venue, load_snapshot()).exchange is venue
    assert adapter_for(venue, load_snapshot()).normalizer.exchange is venue
    assert dialect_for(venue).exchange is venue
    assert isinstance(book_spec_for(venue), BookSpec)
    if parts.history is not None:
        assert history_for(venue, load_snapshot()).exchange is venue
    document = json.loads(instruments_resource(venue).read_text())
    assert document["exchange"] == venue.value
    assert document["instruments"], f"{venue.value}: an empty instrument snapshot"


def test_the_template_declares_the_interface_parts_and_ships_each_file() -> None:
    assert _declared_fields(TEMPLATE / "__init__.py") == PART_FIELDS
    declared = _declared_strings(TEMPLATE / "__init__.py")
    for name in REFERENCES:
        module, _ = split_reference(declared[name])
        assert (TEMPLATE / f"{module}.py").is_file(), name
    assert (TEMPLATE / declared["instruments"]).is_file()
    assert "VENUES" in (TEMPLATE / "README.md").read_text()


@pytest.mark.parametrize("module", ["", ".adapter", ".dialect", ".book", ".history"])
def test_the_template_fails_loudly_until_filled_in(module: str) -> None:
    with pytest.raises(NotImplementedError, match="venue template"):
        importlib.import_module(f"services.venues._template{module}")


def test_no_venue_package_or_venue_module_outside_the_registry() -> None:
    packages = {p.name for p in PACKAGES.iterdir() if (p / "__init__.py").is_file()}
    assert packages == {*VENUES.values(), "_template"}
    framework = {p.name for p in PACKAGES.glob("*.py")}
    assert framework == {"__init__.py", "parts.py"}
    # The places a venue's parts used to be spread over are gone.
    for old in ("services/ingest/venues", "services/simulator/dialects", "services/instruments/snapshots"):
        assert not (ROOT / old).exists(), old
    tests = {p.name for p in (ROOT / "tests" / "venues").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert tests <= set(VENUES.values())
    # No adapter, dialect or book spec is defined anywhere else in services/.
    for path in (ROOT / "services").rglob("*.py"):
        if PACKAGES in path.parents:
            continue
        text = path.read_text()
        for marker in (
            "(AdapterDefaults)",
            "(NormalizerDefaults)",
            "(BaseDialect)",
            "(VenueHistory)",
            "= BookSpec(",
        ):
            assert marker not in text, (
                f"{path.relative_to(ROOT)} defines a venue part outside services/venues"
            )


def test_a_book_spec_loads_neither_the_simulator_nor_any_adapter() -> None:
    """The registry imports only the part asked for: the book builder's spec lookup stays light."""
    code = (
        "import sys\n"
        "from schemas.common import ExchangeId\n"
        "from services.venues import book_spec_for, registered_venues\n"
        "for venue in registered_venues():\n"
        "    book_spec_for(venue)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    ).stdout.split()
    assert not [m for m in loaded if m.startswith(("services.simulator", "services.ingest"))]
    assert not [m for m in loaded if m.endswith((".adapter", ".dialect"))]


def _parts_call(path: Path) -> ast.Call:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["PARTS"]:
            assert isinstance(node.value, ast.Call), path
            return node.value
    raise AssertionError(f"{path} declares no PARTS")


def _declared_fields(path: Path) -> list[str]:
    """The keywords of the ``PARTS = VenueParts(...)`` call, in order (all parts named, none positional)."""
    call = _parts_call(path)
    assert not call.args, f"{path}: name every part"
    return [keyword.arg or "" for keyword in call.keywords]


def _declared_strings(path: Path) -> dict[str, str]:
    call = _parts_call(path)
    return {
        k.arg or "": k.value.value
        for k in call.keywords
        if isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)
    }
