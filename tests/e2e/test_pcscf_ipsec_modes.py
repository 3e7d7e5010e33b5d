"""P-CSCF IPsec modes on this host kernel (no ESP): required refuses, optional serves plain SIP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from imscore import CoreProcess, Ports

from ims.sip.message import Response, parse_message

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"


def with_ipsec(ports: Ports, mode: str) -> str:
    return ports.config_text().replace("[pcscf]\n", f'[pcscf]\nipsec = "{mode}"\n', 1)


def test_required_without_esp_refuses_to_start(tmp_path: Path) -> None:
    core = CoreProcess(tmp_path, with_ipsec(Ports.pick(), "required"))
    core.start()
    try:
        code = core.wait_exit(60)
    finally:
        core.stop()
    text = core.output() + core.errors()
    assert code != 0
    assert 'ipsec = "required" but the kernel cannot hold ESP SAs' in text


def register_with_require(port: int) -> Response:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        local = sock.getsockname()[1]
        lines = [f"REGISTER sip:{DOMAIN} SIP/2.0",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{local};rport;branch=z9hG4bKsec1",
                 "Max-Forwards: 70", f"From: <sip:alice@{DOMAIN}>;tag=a1",
                 f"To: <sip:alice@{DOMAIN}>", "Call-ID: sec-1@127.0.0.1", "CSeq: 1 REGISTER",
                 f"Contact: <sip:alice@127.0.0.1:{local}>", "Require: sec-agree",
                 "Proxy-Require: sec-agree", "Supported: sec-agree",
                 "Security-Client: ipsec-3gpp;alg=hmac-md5-96;ealg=null;spi-c=3001;"
                 "spi-s=3002;port-c=51000;port-s=51001;prot=esp;mod=trans",
                 "Content-Length: 0", "", ""]
        sock.settimeout(10)
        sock.sendto("\r\n".join(lines).encode(), ("127.0.0.1", port))
        resp = parse_message(sock.recv(65535))
    assert isinstance(resp, Response)
    return resp


def test_optional_without_esp(tmp_path: Path) -> None:
    ports = Ports.pick()
    core = CoreProcess(tmp_path, with_ipsec(ports, "optional"))
    core.start()
    try:
        core.wait_up()
        resp = register_with_require(ports.sip["pcscf"])
        assert resp.status == 420 and resp.get("unsupported") == "sec-agree"
        ipsec = core.process_status("pcscf")["ipsec"]
        assert ipsec["mode"] == "optional" and ipsec["kernel_esp"] is False
        assert ipsec["sa_count"] == 0 and ipsec["ues"] == []
        assert "cannot hold ESP" in ipsec["reason"]
        done = subprocess.run([sys.executable, "-m", "ims.cli", "sas", "--json", "--config",
                               str(core.config)], capture_output=True, text=True, timeout=30,
                              check=False, cwd=tmp_path)
        assert done.returncode == 0
        assert json.loads(done.stdout)["ipsec"]["sa_count"] == 0
        table = subprocess.run([sys.executable, "-m", "ims.cli", "sas", "--config",
                                str(core.config)], capture_output=True, text=True, timeout=30,
                               check=False, cwd=tmp_path)
        assert "kernel ESP False" in table.stdout and "no SAs" in table.stdout
        # the emulated UE asking for IPsec hears why it cannot have it
        ue = subprocess.run([sys.executable, "-m", "ims.cli", "ue", "register", "--config",
                             str(core.config), "--impi", f"001010000000001@{DOMAIN}",
                             "--impu", f"sip:001010000000001@{DOMAIN}",
                             "--k", "465b5ce8b199b49faa5f0a2ee238a6bc",
                             "--opc", "cd63cb71954a9f4e48a5994e37a02baf", "--ipsec",
                             "--pcscf", f"127.0.0.1:{ports.sip['pcscf']}"],
                            capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
        assert ue.returncode == 1
        assert "!! registration failed: 420 Bad Extension" in ue.stdout
        assert "the P-CSCF does not do sec-agree" in ue.stdout
    finally:
        core.stop()
    assert "answered 420" in core.output() + core.errors()
