"""Reaching a Ray cluster: check that the address answers like a Ray head, then ``ray.init``.

``ray.init(address=...)`` does not give up quickly: pointed at a closed port
or at a server that is not Ray, it retries for minutes. So before it, a
plain socket connects to the address (a few seconds at most) and sends the
HTTP/2 greeting, which the head's GCS port (gRPC) answers with a SETTINGS
frame: a closed port, a silent host or another kind of server is refused in
one line, in well under the 30 s a user should wait.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import socket
import sys
from types import ModuleType
from typing import Iterator

from kvt_models.errors import ClusterError, one_line

INSTALL_HINT = "pip install 'kvt[ray]'"

PROBE_TIMEOUT_S = 5.0  # connecting, then again for the answer: 10 s at worst
# The HTTP/2 client preface, then an empty SETTINGS frame (length 0, type 4, no flags, stream 0).
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
_SETTINGS = 0x4
# Ray keeps a single-machine cluster on the loopback interface when this is 0 (its switch for
# platforms where multi-node clusters are off): a local instance kvt starts for itself needs no
# other interface, and nothing on the network can reach it.
_LOOPBACK_ONLY = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def import_ray() -> ModuleType:
    """The ``ray`` module, or one line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ClusterError(f"--ray needs Ray, which is not installed here: {INSTALL_HINT}") from None
    return ray


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (as :func:`kvt_models.settings.options.ray_address` canonicalises it) -> ``(host, port)``."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def probe(address: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """ClusterError unless a Ray head's GCS answers at ``address`` (``host:port``) within ``timeout`` s."""
    host, port = split_address(address)
    how_to = f"start a head there with: ray start --head --port {port}, or pass the address ray start printed"
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_HTTP2_PREFACE)
            header = _read(sock, 9)
    except TimeoutError:
        raise ClusterError(f"cannot reach a Ray cluster at {address}: no answer within {timeout:g} s; {how_to}") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ClusterError(f"cannot reach a Ray cluster at {address} ({reason.lower()}); {how_to}") from None
    if len(header) < 9 or header[3] != _SETTINGS:
        raise ClusterError(
            f"{address} answers, but not as a Ray cluster's head (its GCS port speaks gRPC); "
            f"pass the port given to ray start --head --port (default 6379)"
        )


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _auto_address() -> str:
    """The cluster ``ray start`` made on this machine, as ``host:port``; one line when there is none."""
    from ray._private.services import canonicalize_bootstrap_address  # how ray.init reads "auto"

    try:
        address = canonicalize_bootstrap_address("auto")
    except Exception as exc:  # noqa: BLE001 - Ray's own words, in one line
        raise ClusterError(f"--ray auto found no Ray cluster on this machine ({one_line(exc)}); start one with: ray start --head") from None
    if not address:
        raise ClusterError("--ray auto found no Ray cluster on this machine; start one with: ray start --head, "
                           "or pass --ray HOST:PORT")
    return address


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _this_machines_token(host: str) -> None:
    """Use this machine's Ray token (``ray start --head`` writes it) for a cluster on this machine.

    Ray 2.60 sends it by itself only to a cluster found with ``auto``; given an
    address, it sends none unless ``RAY_AUTH_MODE=token`` is set (a token is a
    key, not to be handed to any host one types), and the head then refuses the
    driver. A loopback address is this same machine, so kvt does what ``auto``
    does. A remote head's token is the user's to set up (docs/cluster.md).
    """
    if not _is_loopback(host):
        return
    try:
        from ray._private.authentication.authentication_token_setup import maybe_enable_token_auth_if_token_available
    except ImportError:  # pragma: no cover - another Ray 2.x layout: the user sets RAY_AUTH_MODE
        return
    quiet = logging.getLogger("ray._private.authentication.authentication_token_setup")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its "token authentication is enabled" notice: kvt's lines say where runs go
    try:
        maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
    finally:
        quiet.setLevel(level)


@contextlib.contextmanager
def connected(address: str, *, log_to_driver: bool = False) -> Iterator[ModuleType]:
    """Connected to Ray (``local``: a new local instance) for the block; disconnected after it.

    ``log_to_driver=False`` by default: the workers' output (TensorFlow's C++
    log lines among it) stays in each node's Ray logs
    (``/tmp/ray/session_latest/logs``) and never reaches the terminal, or the
    app's screen; kvt relays what matters as events.
    """
    if address == "local" and "ray" not in sys.modules:
        os.environ.setdefault(_LOOPBACK_ONLY, "0")
    ray = import_ray()
    if ray.is_initialized():  # pragma: no cover - a caller that connected itself (a notebook)
        raise ClusterError("Ray is already initialised in this process; call ray.shutdown() first")
    kwargs: dict = {"log_to_driver": log_to_driver, "logging_level": logging.ERROR}
    if address == "local":
        kwargs.update(address="local", include_dashboard=False)
    else:
        target = _auto_address() if address == "auto" else address
        probe(target)
        _this_machines_token(split_address(target)[0])
        kwargs["address"] = target
    try:
        ray.init(**kwargs)
    except Exception as exc:  # noqa: BLE001 - a version mismatch, an auth failure...: Ray's words, one line
        auth = ("" if os.environ.get("RAY_AUTH_MODE") else
                "; if its head uses token authentication (Ray's default), export RAY_AUTH_MODE=token and put the "
                "head's token (ray get-auth-token) in RAY_AUTH_TOKEN or ~/.ray/auth_token")
        if address == "local":
            raise ClusterError(f"could not start a local Ray instance: {one_line(exc, limit=300)}; on a busy machine "
                               "Ray's start can time out: try again, or start one with ray start --head and pass "
                               "--ray auto") from None
        raise ClusterError(f"cannot connect to the Ray cluster at {address}: {one_line(exc, limit=300)}{auth}") from None
    try:
        yield ray
    finally:
        ray.shutdown()
