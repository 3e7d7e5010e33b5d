"""Operations views of the P-CSCF's IPsec SAs (TS 33.203 §7): status rows and Wireshark keys.

* :func:`sa_rows` turns the kernel's SAs (:meth:`ims.ipsec.xfrm.XfrmPort.list_sas`)
  into ``/status`` rows grouped per UE, keeping only SAs carrying this
  P-CSCF's reqid marker.
* :func:`esp_sa_lines` writes the ESP keys of installed SA sets in
  Wireshark's ``esp_sa`` UAT format (``epan/dissectors/packet-ipsec.c``:
  Protocol, Src IP, Dest IP, SPI, Encryption, Encryption Key,
  Authentication, Authentication Key), so a capture can be decrypted
  without turning encryption off; :class:`EspKeysFile` keeps that file in
  step with the installed sets.

Pure except :class:`EspKeysFile`, which writes one file.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ims.ipsec.xfrm import ReqidRange, SaSpec, SaState, XfrmSpec

#: TS 33.203 Annex H ``ealg`` → Wireshark's ``esp_encryption_type_vals`` name.
WIRESHARK_ENCRYPTION = {
    "null": "NULL",
    "aes-cbc": "AES-CBC [RFC3602]",
    "des-ede3-cbc": "TripleDES-CBC [RFC2451]",
}
#: TS 33.203 Annex H ``alg`` → Wireshark's ``esp_authentication_type_vals`` name.
WIRESHARK_AUTHENTICATION = {
    "hmac-md5-96": "HMAC-MD5-96 [RFC2403]",
    "hmac-sha-1-96": "HMAC-SHA-1-96 [RFC2404]",
}
ESP_SA_HEADER = "# ESP keys of the P-CSCF's IPsec SAs (Wireshark esp_sa UAT), rewritten on change\n"


def _hex(key: bytes) -> str:
    return f"0x{key.hex()}" if key else ""


def esp_sa_line(sa: SaSpec) -> str:
    """One ``esp_sa`` record: eight quoted, comma-separated fields."""
    family = "IPv6" if ipaddress.ip_address(sa.src).version == 6 else "IPv4"
    fields = (family, sa.src, sa.dst, f"0x{sa.spi:08x}",
              WIRESHARK_ENCRYPTION[sa.enc_alg], _hex(sa.enc_key),
              WIRESHARK_AUTHENTICATION[sa.auth_alg], _hex(sa.auth_key))
    return ",".join(f'"{field}"' for field in fields)


def esp_sa_lines(specs: Iterable[XfrmSpec]) -> list[str]:
    """One line per SA of every spec, in order."""
    return [esp_sa_line(sa) for spec in specs for sa in spec.sas]


class EspKeysFile:
    """The ``[pcscf] esp_keys_file``: rewritten whole (atomically) whenever SAs come or go."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def write(self, specs: Iterable[XfrmSpec]) -> None:
        """Replace the file with the keys of ``specs`` (mode 0600: the keys are secrets).

        Raises:
            OSError: the file cannot be written.
        """
        text = ESP_SA_HEADER + "".join(f"{line}\n" for line in esp_sa_lines(specs))
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        tmp.replace(self.path)


def _ue_of(sa: SaState, ours: frozenset[str]) -> str:
    return sa.dst if _canonical(sa.src) in ours else sa.src


def _canonical(host: str) -> str:
    return str(ipaddress.ip_address(host))


def sa_row(sa: SaState, now_epoch: float) -> dict[str, Any]:
    """One SA as ``/status`` shows it (age None when the kernel gave no add time)."""
    age = round(now_epoch - sa.add_time) if sa.add_time else None
    return {"src": f"{sa.src}:{sa.src_port}", "dst": f"{sa.dst}:{sa.dst_port}",
            "spi": f"0x{sa.spi:08x}", "reqid": sa.reqid, "alg": sa.auth_alg,
            "ealg": sa.enc_alg, "age_s": age, "packets": sa.cur_packets,
            "bytes": sa.cur_bytes}


def sa_rows(sas: Iterable[SaState], marker: ReqidRange, pcscf_hosts: Iterable[str],
            now_epoch: float) -> list[dict[str, Any]]:
    """Our SAs grouped per UE address: ``[{"ue": host, "sas": [row, ...]}]``."""
    ours = frozenset(_canonical(host) for host in pcscf_hosts)
    per_ue: dict[str, list[dict[str, Any]]] = {}
    for sa in sas:
        if sa.reqid in marker:
            per_ue.setdefault(_ue_of(sa, ours), []).append(sa_row(sa, now_epoch))
    return [{"ue": ue, "sas": rows} for ue, rows in sorted(per_ue.items())]
