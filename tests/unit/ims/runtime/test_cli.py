"""ims.cli: status rendering and argument handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from ims.cli import build_parser, dispatch, format_uptime, render_status


def test_uptime_formats() -> None:
    assert [format_uptime(s) for s in (5, 65, 3 * 3600 + 4, 2 * 86400 + 3600, None)] == [
        "5s", "1m05s", "3h00m04s", "2d01h00m", "?"]


def test_render_up_and_down() -> None:
    text = render_status([
        {"name": "hss", "up": True, "pid": 10, "uptime_s": 65.2,
         "listening": ["diameter tcp 127.0.0.1:3868"],
         "diameter_peers": [{"host": "mme.test", "state": "ready"}],
         "counters": {"diameter_rx_cer": 1, "diameter_rx_dwr": 0}, "gauges": {}},
        {"name": "pcscf", "up": False, "mgmt": "http://127.0.0.1:9091", "error": "refused"},
    ])
    assert text.splitlines() == [
        "FUNCTION STATE  PID      UPTIME     LISTENING",
        "hss      up     10       1m05s      diameter tcp 127.0.0.1:3868",
        "    diameter peers: mme.test (ready)",
        "    counters: diameter_rx_cer=1 (1 more at 0)",
        "pcscf    down   -        -          (no answer from http://127.0.0.1:9091/status: refused)",
    ]


def test_render_pcscf_ipsec_line() -> None:
    pcscf = {"name": "pcscf", "up": True, "pid": 11, "uptime_s": 5, "listening": [],
             "ipsec": {"mode": "required", "kernel_esp": True, "reason": "ok", "sa_count": 8,
                       "ues": [{"ue": "10.0.0.1", "sas": []}, {"ue": "10.0.0.2", "sas": []}]}}
    assert render_status([pcscf]).splitlines()[2] == \
        "    ipsec: required, kernel ESP available, 2 UE(s), 8 SAs"
    pcscf["ipsec"] = {"mode": "optional", "kernel_esp": False, "reason": "no esp4",
                      "sa_count": 0, "ues": []}
    assert render_status([pcscf]).splitlines()[2] == \
        "    ipsec: optional, kernel ESP missing, 0 UE(s), 0 SAs (no esp4)"


def test_run_and_status_take_the_shared_flags() -> None:
    args = build_parser().parse_args(["status", "--json", "--config", "x.toml"])
    assert (args.command, args.json, args.config, args.log_level) == ("status", True, "x.toml", None)
    args = build_parser().parse_args(["run", "--log-level", "DEBUG"])
    assert (args.command, args.log_level) == ("run", "debug")


def test_config_error_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[hss]\nrest_port = -1\n")
    assert dispatch(["status", "--config", str(path)]) == 3
    assert f"{path}: hss.rest_port: must be between 1 and 65535, got -1" in capsys.readouterr().err
