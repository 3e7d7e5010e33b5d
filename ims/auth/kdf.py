"""The 3GPP key derivation function (TS 33.220 Annex B.2) and KASME (TS 33.401 Annex A.2).

The generic KDF (TS 33.220 Annex B.2.0) is HMAC-SHA-256 keyed with the
derivation key over the string ``S``::

    S = FC || P0 || L0 || P1 || L1 || ... || Pn || Ln

where FC is one octet naming the derivation and each Li is the length of Pi
in octets as a 2-octet big-endian number. KASME (TS 33.401 Annex A.2) uses
key = CK || IK, FC = 0x10, P0 = the serving network identity (the PLMN
identity, 3 octets) and P1 = SQN xor AK (6 octets).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["FC_KASME", "kasme", "kdf", "plmn_id"]

#: TS 33.401 Annex A.2: FC for the derivation of KASME.
FC_KASME = 0x10

#: TS 33.220 Annex B.2.0: each Li is two octets.
_MAX_PARAM_LEN = 0xFFFF


def kdf(key: bytes, fc: int, *params: bytes) -> bytes:
    """The generic 3GPP KDF, TS 33.220 Annex B.2.0 (HMAC-SHA-256).

    Args:
        key: the derivation key.
        fc: the function code, one octet.
        params: P0 .. Pn, each at most 65535 octets.

    Returns:
        The 32-octet derived key.

    Raises:
        ValueError: when FC is not one octet or a parameter is too long.
    """
    if not 0 <= fc <= 0xFF:
        raise ValueError(f"FC must be one octet, got {fc}")
    s = bytearray([fc])
    for index, param in enumerate(params):
        if len(param) > _MAX_PARAM_LEN:
            raise ValueError(f"P{index} is {len(param)} octets, at most {_MAX_PARAM_LEN}")
        s += param + len(param).to_bytes(2, "big")
    return hmac.new(key, bytes(s), hashlib.sha256).digest()


def kasme(ck: bytes, ik: bytes, serving_network_id: bytes, sqn_xor_ak: bytes) -> bytes:
    """KASME = KDF(CK || IK, 0x10, SN id, SQN xor AK), TS 33.401 Annex A.2.

    Args:
        ck: CK, 16 octets.
        ik: IK, 16 octets.
        serving_network_id: the PLMN identity, 3 octets (see :func:`plmn_id`).
        sqn_xor_ak: SQN xor AK, the first 6 octets of AUTN.

    Returns:
        KASME, 32 octets.

    Raises:
        ValueError: naming the parameter whose length is wrong.
    """
    for name, value, size in (
        ("CK", ck, 16),
        ("IK", ik, 16),
        ("serving network identity", serving_network_id, 3),
        ("SQN xor AK", sqn_xor_ak, 6),
    ):
        if len(value) != size:
            raise ValueError(f"{name} must be {size} octets, got {len(value)}")
    return kdf(ck + ik, FC_KASME, serving_network_id, sqn_xor_ak)


def plmn_id(mcc: str, mnc: str) -> bytes:
    """Encode MCC and MNC as the 3-octet PLMN identity.

    The layout is TS 24.301 §9.9.3.32 / TS 24.008 §10.5.1.13, which TS 33.401
    Annex A.2 uses for the serving network identity: octet 1 = MCC digit 2 |
    MCC digit 1, octet 2 = MNC digit 3 | MCC digit 3, octet 3 = MNC digit 2 |
    MNC digit 1 (high nibble | low nibble); a 2-digit MNC has 0xF as digit 3.

    Args:
        mcc: three decimal digits, e.g. ``"001"``.
        mnc: two or three decimal digits, e.g. ``"01"``.

    Raises:
        ValueError: when MCC or MNC are not 3 / 2-3 decimal digits.
    """
    if len(mcc) != 3 or not mcc.isascii() or not mcc.isdigit():
        raise ValueError(f"MCC must be 3 decimal digits, got {mcc!r}")
    if len(mnc) not in (2, 3) or not mnc.isascii() or not mnc.isdigit():
        raise ValueError(f"MNC must be 2 or 3 decimal digits, got {mnc!r}")
    d = [int(c) for c in mcc]
    n = [int(c) for c in mnc]
    mnc3 = n[2] if len(n) == 3 else 0xF
    return bytes([(d[1] << 4) | d[0], (mnc3 << 4) | d[2], (n[1] << 4) | n[0]])
