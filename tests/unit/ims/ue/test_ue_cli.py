"""``ims-cli ue register``: flags, and the printed steps against the in-test registrar."""

from __future__ import annotations

import asyncio

import pytest
from ue_registrar import GRANTED, SERVICE_ROUTE, Registrar
from ue_vectors import DOMAIN, IMPI, IMPU, OP, OPC, SQN, K

from ims.cli import build_parser
from ims.runtime.config import load_config
from ims.ue.cli import config_from_args, register_and_report


def args_for(*extra: str) -> list[str]:
    return ["ue", "register", "--impi", IMPI, "--impu", IMPU, "--k", K.hex(), *extra]


def test_flags_build_the_ue_config_with_config_defaults() -> None:
    config = load_config(None)
    args = build_parser().parse_args(args_for("--op", OP.hex(), "--sqn", f"{SQN:012x}"))
    ue = config_from_args(args, config)
    assert (ue.opc, ue.sqn, ue.amf, ue.transport) == (OPC, SQN, b"\x80\x00", "udp")
    assert ue.pcscf == (config.pcscf.host, config.pcscf.port)
    assert ue.domain == config.core.domain and ue.expires == 600000
    args = build_parser().parse_args(args_for("--opc", OPC.hex(), "--pcscf", "127.0.0.1:5999",
                                              "--transport", "tcp", "--domain", "x.org"))
    ue = config_from_args(args, config)
    assert (ue.pcscf, ue.transport, ue.domain) == (("127.0.0.1", 5999), "tcp", "x.org")


@pytest.mark.parametrize("bad", [("--opc", "abc"), ("--opc", "00" * 15), ("--pcscf", "nohost")])
def test_bad_flags_are_refused(bad: tuple[str, str]) -> None:
    extra = ("--op", OP.hex(), *bad) if bad[0] == "--pcscf" else bad
    with pytest.raises(SystemExit):
        build_parser().parse_args(args_for(*extra))


def test_register_prints_each_step_and_deregisters(capsys: pytest.CaptureFixture[str]) -> None:
    async def body() -> int:
        registrar = Registrar()
        await registrar.stack.start()
        host, port = registrar.address("udp")
        args = build_parser().parse_args(args_for(
            "--opc", OPC.hex(), "--sqn", f"{SQN:012x}", "--pcscf", f"{host}:{port}",
            "--domain", DOMAIN, "--deregister-after", "0"))
        code = await register_and_report(config_from_args(args, load_config(None)), 0.0)
        await registrar.stack.stop()
        return code

    assert asyncio.run(asyncio.wait_for(body(), 10.0)) == 0
    out = capsys.readouterr().out
    assert "-> REGISTER sip:" + DOMAIN + " (CSeq 1, Expires 600000, empty credentials)" in out
    assert "<- 401 Unauthorized: algorithm AKAv1-MD5, RAND=" in out
    assert "AUTN check: OK (SQN 0xff9bb4d0b627)" in out
    assert "RES=" in out
    assert f"expires {GRANTED} s" in out and f"Service-Route: {SERVICE_ROUTE}" in out
    assert "<- 200 OK: deregistered" in out
