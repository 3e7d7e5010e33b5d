"""The lab example config loads and says what the lab guide says it does."""

from __future__ import annotations

from pathlib import Path

from ims.runtime.config import load_config

LAB = Path(__file__).resolve().parents[4] / "lab" / "ims-lab.toml"


def test_lab_config_separates_ue_facing_and_core_addresses() -> None:
    config = load_config(LAB)
    assert config.pcscf.host == "192.168.50.10"
    assert (config.icscf.host, config.scscf.host) == ("127.0.0.1", "127.0.0.1")


def test_lab_config_lets_the_mme_in_over_s6a() -> None:
    config = load_config(LAB)
    assert config.hss.diameter_host == "192.168.50.10"
    assert "mme.epc.mnc001.mcc001.3gppnetwork.org" in config.hss.allowed_peer_hosts
    assert config.core.epc_realm == "epc.mnc001.mcc001.3gppnetwork.org"
