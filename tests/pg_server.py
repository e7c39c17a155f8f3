"""A throwaway PostgreSQL server on loopback (Debian's ``initdb`` / ``pg_ctl``), for the tests and
``bench/faults.py``: a real server, its data in a temporary folder, stopped and removed on exit."""

from __future__ import annotations

import contextlib
import glob
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

INSTALL_HINT = "PostgreSQL server not installed (make test installs Debian's postgresql)"


def postgres_bin() -> Path | None:
    """The newest installed server's ``bin`` folder, or None."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return Path(bins[-1]) if bins else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    """Run as the ``postgres`` user when root (initdb refuses root); argument lists, never a shell."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextlib.contextmanager
def postgres_server() -> Iterator[str | None]:
    """A PostgreSQL URL on loopback (``postgresql+psycopg2://...``), or None when the server is not installed."""
    pg_bin = postgres_bin()
    if pg_bin is None:
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="dslnas-pg-"))
    os.chmod(root, 0o777)
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres")
    data, port = root / "data", _free_port()
    try:
        subprocess.run(_as_postgres([str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]),
                       check=True, capture_output=True)
        # pg_ctl hands -o to the server through a shell: quote the socket folder (TMPDIR may hold spaces)
        opts = f"-p {port} -k {shlex.quote(str(root))} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(_as_postgres([str(pg_bin / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"),
                                     "-w", "start"]), check=True, capture_output=True)
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
