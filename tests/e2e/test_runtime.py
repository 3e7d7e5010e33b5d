"""The process runtime end to end: ``ims-cli run`` starts four real processes on
loopback; they answer OPTIONS (SIP) and CER/DWR (Diameter), report through
``ims-cli status``, stop cleanly on SIGTERM and refuse to limp on."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from imscore import (
    FUNCTIONS,
    SIP_FUNCTIONS,
    STOP_WAIT,
    CoreProcess,
    DiameterClient,
    Ports,
    pids_of,
    process_gone,
    send_options,
    wait_until,
)

from ims.runtime.config import binds, load_config
from ims.runtime.ports import ACTIVE_SERVICES, check_bind

pytestmark = pytest.mark.e2e

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
VENDOR_3GPP = 10415
APPLICATIONS = {16777216, 16777217, 16777251}


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("function", SIP_FUNCTIONS)
def test_options_to_each_cscf_answered_200(core: CoreProcess, ports: Ports,
                                           function: str, transport: str) -> None:
    response, branch = send_options(ports.sip[function], transport)
    assert (response.status, response.reason) == (200, "OK")
    assert response.get("cseq") == "1 OPTIONS"
    assert f"branch={branch}" in (response.get("via") or "")
    assert "OPTIONS" in response.get_all("allow")


def test_run_prints_where_each_function_listens(core: CoreProcess, ports: Ports) -> None:
    output = core.output()
    for function in SIP_FUNCTIONS:
        port = ports.sip[function]
        assert re.search(rf"{function} +up, pid \d+: sip udp 127\.0\.0\.1:{port}, "
                         rf"sip tcp 127\.0\.0\.1:{port}", output), output
    assert re.search(rf"hss +up, pid \d+: diameter tcp 127\.0\.0\.1:{ports.diameter}", output)
    assert f"status http://127.0.0.1:{ports.mgmt['pcscf']}/status" in output


def test_status_lists_four_processes_up_with_their_counters(core: CoreProcess,
                                                            ports: Ports) -> None:
    before = core.status()
    for transport in ("udp", "tcp"):
        assert send_options(ports.sip["pcscf"], transport)[0].status == 200
    after = core.status()
    assert after["exit"] == 0
    assert [(entry["name"], entry["up"]) for entry in after["processes"]] == [
        (name, True) for name in FUNCTIONS]
    old, new = (next(e for e in doc["processes"] if e["name"] == "pcscf") for doc in (before, after))
    for key in ("sip_requests_received", "sip_responses_local", "sip_messages_in"):
        assert new["counters"][key] - old["counters"][key] == 2, key
    assert new["listening"] == [f"sip udp 127.0.0.1:{ports.sip['pcscf']}",
                                f"sip tcp 127.0.0.1:{ports.sip['pcscf']}"]
    assert new["pid"] != os.getpid() and new["uptime_s"] > 0


def test_status_text_shows_each_function(core: CoreProcess, ports: Ports) -> None:
    done = subprocess.run([sys.executable, "-m", "ims.cli", "status", "--config", str(core.config)],
                          capture_output=True, text=True, timeout=STOP_WAIT, check=False)
    assert done.returncode == 0
    for name in FUNCTIONS:
        assert re.search(rf"^{name} +up +\d+ ", done.stdout, re.MULTILINE), done.stdout
    assert f"diameter tcp 127.0.0.1:{ports.diameter}" in done.stdout


def test_metrics_endpoint_serves_prometheus_text(core: CoreProcess, ports: Ports) -> None:
    send_options(ports.sip["icscf"], "udp")
    with socket.create_connection(("127.0.0.1", ports.mgmt["icscf"]), timeout=10) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200 OK")
    assert re.search(r'^ims_sip_requests_received_total\{function="icscf"\} [1-9]', body,
                     re.MULTILINE), body
    assert "# TYPE ims_uptime_seconds gauge" in body


def test_diameter_cer_and_dwr_to_the_hss(core: CoreProcess, ports: Ports) -> None:
    client = DiameterClient(f"hss.{DOMAIN}", DOMAIN, ports.diameter)
    client.start()
    try:
        cea = client.wait_for("CEA")
        assert cea.result_code == 2001
        assert cea.origin_host == f"hss.{DOMAIN}".encode()
        advertised = {(app.vendor_id, app.auth_application_id)
                      for app in cea.vendor_specific_application_id}
        assert advertised == {(VENDOR_3GPP, app) for app in APPLICATIONS}
        client.app.wait_for_ready(30)
        client.send_dwr()
        assert client.wait_for("DWA").result_code == 2001
        hss = core.process_status("hss")
        assert {"host": "e2e-client.test.example", "realm": "test.example",
                "state": "ready"} in [{key: peer[key] for key in ("host", "realm", "state")}
                                      for peer in hss["diameter_peers"]]
        assert hss["counters"]["diameter_rx_cer"] >= 1
        assert hss["counters"]["diameter_tx_dwa"] >= 1
    finally:
        client.stop()


def test_sigterm_stops_everything_and_frees_every_port(own_core: tuple[CoreProcess, Ports]) -> None:
    process, _ = own_core
    pids = pids_of(process.status())
    assert sorted(pids) == sorted(FUNCTIONS)
    process.signal(signal.SIGTERM)
    assert process.wait_exit() == 0
    for name, pid in pids.items():
        wait_until(lambda pid=pid: process_gone(pid), STOP_WAIT, f"{name} (pid {pid}) gone")
    assert "all functions stopped" in process.output()
    active = [bind for bind in binds(load_config(process.config))
              if bind.service in ACTIVE_SERVICES]
    assert len(active) == 11  # 3 CSCFs x (udp, tcp), HSS Diameter, 4 management ports
    assert [bind.key for bind in active if check_bind(bind) is not None] == []


def test_a_dying_child_stops_the_others(own_core: tuple[CoreProcess, Ports]) -> None:
    process, _ = own_core
    pids = pids_of(process.status())
    os.kill(pids["icscf"], signal.SIGKILL)
    assert process.wait_exit() == 1
    message = process.errors()
    assert f"icscf (pid {pids['icscf']}) was killed by SIGKILL" in message
    for name, pid in pids.items():
        wait_until(lambda pid=pid: process_gone(pid), STOP_WAIT, f"{name} (pid {pid}) gone")


def test_a_taken_port_fails_fast_naming_it(tmp_path: Path) -> None:
    ports = Ports.pick()
    process = CoreProcess(tmp_path, ports.config_text())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", ports.sip["scscf"]))
        process.start()
        code = process.wait_exit()
    assert code == 2
    expected = (f"scscf.port 127.0.0.1:{ports.sip['scscf']}/udp is already in use "
                f"by pid {os.getpid()}")
    assert expected in process.errors()
    assert "up, pid" not in process.output()


def test_bad_config_names_the_key_and_the_file(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[pcscf]\nport = "five"\n')
    done = subprocess.run([sys.executable, "-m", "ims.cli", "run", "--config", str(config)],
                          capture_output=True, text=True, timeout=STOP_WAIT, check=False)
    assert done.returncode == 3
    assert f"{config}: pcscf.port: expected an integer, got string 'five'" in done.stderr


def test_status_reports_down_functions(tmp_path: Path) -> None:
    ports = Ports.pick()
    config = tmp_path / "idle.toml"
    config.write_text(ports.config_text())
    done = subprocess.run([sys.executable, "-m", "ims.cli", "status", "--config", str(config)],
                          capture_output=True, text=True, timeout=STOP_WAIT, check=False)
    assert done.returncode == 1
    for name in FUNCTIONS:
        assert re.search(rf"^{name} +down ", done.stdout, re.MULTILINE), done.stdout


def test_a_single_function_with_its_port_taken_exits_2(tmp_path: Path) -> None:
    ports = Ports.pick()
    config = tmp_path / "ims.toml"
    config.write_text(ports.config_text())
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports.diameter))
        holder.listen()
        done = subprocess.run([sys.executable, "-m", "hss.app", "--config", str(config)],
                              capture_output=True, text=True, timeout=STOP_WAIT, check=False)
    assert done.returncode == 2
    assert (f"cannot start: hss.diameter_port 127.0.0.1:{ports.diameter}/tcp is already in use "
            f"by pid {os.getpid()}") in done.stderr
