"""ims.runtime.ports: a taken port is reported with the process holding it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from ims.runtime.config import Bind
from ims.runtime.ports import check_bind, command_line, find_busy, socket_inodes


def bind_for(port: int, transport: str, service: str = "sip") -> Bind:
    return Bind("pcscf", "pcscf.port", service, transport, "127.0.0.1", port, port)


def test_free_port_is_not_busy() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert check_bind(bind_for(port, "tcp")) is None


def test_taken_udp_port_names_key_address_and_holder() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        busy = check_bind(bind_for(port, "udp"))
    assert busy is not None
    assert busy.holder is not None and busy.holder.startswith(f"pid {os.getpid()} (")
    assert busy.message().startswith(
        f"pcscf.port 127.0.0.1:{port}/udp is already in use by pid {os.getpid()} (")


def test_taken_tcp_listener_found() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        busy = find_busy([bind_for(port, "tcp")])
    assert [item.bind.port for item in busy] == [port]


def test_services_not_bound_yet_are_skipped() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert find_busy([bind_for(port, "tcp", service="rest")]) == []


def test_socket_table_parsing(tmp_path: Path) -> None:
    net = tmp_path / "net"
    net.mkdir()
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    (net / "tcp").write_text(
        header
        + "   0: 0100007F:13C4 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1\n"
        + "   1: 0100007F:13C4 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 4343 1\n")
    assert socket_inodes("tcp", 5060, tmp_path) == {"4242"}
    assert socket_inodes("udp", 5060, tmp_path) == set()


def test_command_line_of_a_process(tmp_path: Path) -> None:
    (tmp_path / "12").mkdir()
    (tmp_path / "12" / "cmdline").write_bytes(b"python\0-m\0pcscf.app\0")
    assert command_line("12", tmp_path) == "python -m pcscf.app"
    assert command_line("13", tmp_path) == "?"
