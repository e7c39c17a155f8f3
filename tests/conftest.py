"""Session-wide fixtures: one throwaway PostgreSQL server for every test that needs one (each test uses its own
study or database on it), instead of one server per module or test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on loopback (``pg_server``), shared by the session, stopped at its end."""
    from pg_server import INSTALL_HINT, postgres_server

    with postgres_server() as url:
        if url is None:
            pytest.skip(INSTALL_HINT)
        yield url
