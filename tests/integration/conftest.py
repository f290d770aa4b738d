"""Fixtures of the integration tests besides the shared stack (tests/conftest.py)."""

from tests.integration.private_stack import private_stack

__all__ = ["private_stack"]
