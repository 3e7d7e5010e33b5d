"""ims.runtime.mgmt and ims.runtime.metrics: /status, /metrics, the status client."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from ims.runtime.metrics import AppCollector, build_registry, metric_name, numeric_items
from ims.runtime.mgmt import MgmtServer, StatusUnavailable, fetch_status


def make_server(counters: dict[str, float] | None = None) -> MgmtServer:
    values = counters if counters is not None else {"sip_messages_in": 3}
    collector = AppCollector("pcscf", lambda: values, lambda: {"sip_connections": 2},
                             started=100.0, clock=lambda: 142.5)
    return MgmtServer("127.0.0.1", 0, lambda: {"name": "pcscf", "pid": 7},
                      build_registry(collector))


def test_status_is_json() -> None:
    status, content_type, body = make_server().respond(b"GET /status HTTP/1.1\r\n\r\n")
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body) == {"name": "pcscf", "pid": 7}


def test_metrics_are_prometheus_text() -> None:
    status, content_type, body = make_server().respond(b"GET /metrics HTTP/1.0\r\n\r\n")
    text = body.decode()
    assert status == 200 and content_type.startswith("text/plain")
    assert 'ims_sip_messages_in_total{function="pcscf"} 3.0' in text
    assert 'ims_sip_connections{function="pcscf"} 2.0' in text
    assert 'ims_uptime_seconds{function="pcscf"} 42.5' in text


def test_unknown_path_is_404_and_other_methods_405() -> None:
    server = make_server()
    assert server.respond(b"GET /nope HTTP/1.1\r\n\r\n")[0] == 404
    assert server.respond(b"POST /status HTTP/1.1\r\n\r\n")[0] == 405
    assert server.respond(b"garbage\r\n\r\n")[0] == 400


def test_query_string_ignored() -> None:
    assert make_server().respond(b"GET /status?x=1 HTTP/1.1\r\n\r\n")[0] == 200


def test_metric_names_are_sanitised() -> None:
    assert metric_name("rx:cer-total") == "ims_rx_cer_total"
    assert numeric_items({"a": 1, "b": {"c": 2.5, "d": "x"}, "e": True}) == {"a": 1.0, "b_c": 2.5}


def test_fetch_status_over_a_real_socket() -> None:
    async def scenario() -> dict[str, object]:
        server = make_server()
        await server.start()
        try:
            return await asyncio.to_thread(fetch_status, "127.0.0.1", server.port, 5.0)
        finally:
            await server.stop()

    assert asyncio.run(asyncio.wait_for(scenario(), 30)) == {"name": "pcscf", "pid": 7}


def test_fetch_status_from_nothing_says_why() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StatusUnavailable, match="refused"):
        fetch_status("127.0.0.1", port, 5.0)
