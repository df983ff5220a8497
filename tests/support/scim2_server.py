"""Run the third-party ``scim2-server`` as a real HTTP server for end-to-end tests.

A real subprocess (not a WSGI shim) so the whole stack is exercised: sockets,
keep-alive, timeouts, content types, status codes of an independent implementation.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

_STARTUP_TIMEOUT = 15.0
_STOP_TIMEOUT = 5.0


def _executable() -> str:
    script = Path(sys.executable).with_name("scim2-server")
    if not script.exists():
        raise RuntimeError(f"scim2-server is not installed next to {sys.executable}")
    return str(script)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def scim2_server(
    token: str = "test-token", *, config: dict[str, Any] | None = None
) -> Iterator[str]:
    """Start scim2-server on a free port and yield its base URL (``http://127.0.0.1:P/v2``).

    ``config`` is the ServiceProviderConfig it announces and enforces (its
    ``--service-provider-config``; e.g. ``{"patch": {"supported": False}}`` makes every
    PATCH answer 501); None: the server's default, every feature but cursors.
    """
    with _running(token, dynamic_tenants=False, config=config) as root:
        yield f"{root}/v2"


@contextlib.contextmanager
def scim2_tenants(
    token: str = "test-token", *, config: dict[str, Any] | None = None
) -> Iterator[Callable[[], str]]:
    """Start one scim2-server with dynamic tenants; yield a factory of fresh base URLs.

    Each call returns ``http://127.0.0.1:P/<new tenant>/v2``: an empty, isolated
    server, so many tests share one process (fast) without sharing any state.
    ``config`` as for ``scim2_server``.
    """
    names = itertools.count(1)
    with _running(token, dynamic_tenants=True, config=config) as root:
        yield lambda: f"{root}/tenant{next(names)}/v2"


@contextlib.contextmanager
def _running(
    token: str, *, dynamic_tenants: bool, config: dict[str, Any] | None = None
) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        extra: list[str] = []
        if config is not None:
            path = Path(folder) / "service-provider-config.json"
            path.write_text(json.dumps(config))
            extra = ["--service-provider-config", str(path)]
        with _started(token, dynamic_tenants, extra) as root:
            yield root


@contextlib.contextmanager
def _started(token: str, dynamic_tenants: bool, extra: list[str]) -> Iterator[str]:
    for _ in range(3):  # the free port may be taken between probing and binding
        port = _free_port()
        with tempfile.TemporaryFile() as log:
            command = [_executable(), "--hostname", "127.0.0.1", "--port", str(port)]
            command += ["--bearer-token", token, *extra]
            command += ["--dynamic-tenants"] if dynamic_tenants else []
            process = subprocess.Popen(command, stdout=log, stderr=log)
            try:
                root = f"http://127.0.0.1:{port}"
                probe = f"{root}/ready/v2" if dynamic_tenants else f"{root}/v2"
                if _wait_ready(process, probe, token):
                    yield root
                    return
            finally:
                _stop(process)
            log.seek(0)
            output = log.read().decode(errors="replace")
        if "Address already in use" not in output:
            raise RuntimeError(f"scim2-server did not start:\n{output}")
    raise RuntimeError("scim2-server could not find a free port")


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, token: str) -> bool:
    """Poll ServiceProviderConfig until it answers 200; False if the process died."""
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    headers = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(requests.RequestException):
            answer = requests.get(f"{base_url}/ServiceProviderConfig", headers=headers, timeout=1)
            if answer.status_code == 200:
                return True
        time.sleep(0.05)
    raise RuntimeError(f"scim2-server not ready after {_STARTUP_TIMEOUT} s at {base_url}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
