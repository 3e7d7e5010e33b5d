"""ESP keys, kernel algorithm names and the SA plan for IMS IPsec: TS 33.203 §7.1, Annex I.

The S-CSCF hands the P-CSCF the AKA keys IK and CK (128 bits each) in the
``ik``/``ck`` parameters of the 401 (TS 24.229 §5.2.2.1, TS 33.203 §7.1).
Annex I turns them into the ESP keys, for all four SAs of a set alike:

==================  =========================================  =====
algorithm           ESP key                                    bits
==================  =========================================  =====
``hmac-md5-96``     IK_esp = IK                                128
``hmac-sha-1-96``   IK_esp = IK || 32 zero bits                160
``aes-cbc``         CK_esp = CK                                128
``des-ede3-cbc``    CK_esp = CK1 || CK2 || CK1, CK = CK1||CK2  192
``null``            no key                                     0
==================  =========================================  =====

The DES parity bits are left as they come (the kernel ignores them). The
kernel names (``ip xfrm`` / netlink ``XFRMA_ALG_AUTH_TRUNC`` and
``XFRMA_ALG_CRYPT``) come from :mod:`ims.ipsec.sa`.

:class:`XfrmPlan` (re-exported by :mod:`pcscf.secagree`, which builds it) is
the whole contract with the kernel side :mod:`ims.ipsec.xfrm`. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ims.ipsec.sa import AUTH_ALGORITHMS, ENC_ALGORITHMS
from ims.sip.headers.auth import Challenge

AKA_KEY_BYTES = 16


class AkaKeyError(ValueError):
    """IK or CK is missing or not 128 bits of hex (TS 33.102 §6.3.2)."""


@dataclass(frozen=True, slots=True)
class EspAlgorithms:
    """Kernel algorithms and keys of one SA set (TS 33.203 Annex I)."""

    auth_name: str
    """Kernel integrity algorithm: ``hmac(md5)`` or ``hmac(sha1)``."""
    auth_trunc_bits: int
    """ICV truncation: 96 for both TS 33.203 integrity algorithms."""
    auth_key: bytes
    """IK_esp."""
    enc_name: str
    """Kernel cipher: ``cbc(aes)``, ``cbc(des3_ede)`` or ``ecb(cipher_null)``."""
    enc_key: bytes
    """CK_esp (empty for ``null``)."""


def parse_aka_key(text: str | None, what: str = "IK") -> bytes:
    """The 128-bit key of an ``ik``/``ck`` parameter (32 hex digits, TS 24.229 §7.2A.1).

    Raises:
        AkaKeyError: absent or not 16 octets of hex.
    """
    try:
        key = bytes.fromhex(text or "")
    except ValueError as exc:
        raise AkaKeyError(f"{what} is not hex") from exc
    if len(key) != AKA_KEY_BYTES:
        raise AkaKeyError(f"{what} has {len(key)} octets, not {AKA_KEY_BYTES}")
    return key


def keys_from_challenges(found: Sequence[Challenge]) -> tuple[bytes, bytes] | None:
    """IK and CK of the first AKA challenge carrying both (the S-CSCF's 401, TS 24.229 §5.2.2.1).

    None when no challenge carries keys (a plain digest 401).

    Raises:
        AkaKeyError: a key is present but not 128 bits of hex.
    """
    for ch in found:
        if ch.ik is not None and ch.ck is not None:
            return parse_aka_key(ch.ik, "IK"), parse_aka_key(ch.ck, "CK")
    return None


def integrity_key(alg: str, ik: bytes) -> bytes:
    """IK_esp for ``alg`` (TS 33.203 Annex I).

    Raises:
        ValueError: unknown algorithm or IK not 128 bits.
    """
    _check_len(ik, "IK")
    if alg == "hmac-md5-96":
        return ik
    if alg == "hmac-sha-1-96":
        return ik + bytes(4)
    raise ValueError(f"Unknown integrity algorithm {alg!r}")


def encryption_key(ealg: str, ck: bytes) -> bytes:
    """CK_esp for ``ealg`` (TS 33.203 Annex I).

    Raises:
        ValueError: unknown algorithm or CK not 128 bits.
    """
    _check_len(ck, "CK")
    if ealg == "null":
        return b""
    if ealg == "aes-cbc":
        return ck
    if ealg == "des-ede3-cbc":
        ck1, ck2 = ck[:8], ck[8:]
        return ck1 + ck2 + ck1
    raise ValueError(f"Unknown encryption algorithm {ealg!r}")


def esp_algorithms(alg: str, ealg: str, ik: bytes, ck: bytes) -> EspAlgorithms:
    """Kernel names and Annex I keys for the chosen ``alg``/``ealg``.

    Raises:
        ValueError: unknown algorithm or a key not 128 bits.
    """
    if alg not in AUTH_ALGORITHMS or ealg not in ENC_ALGORITHMS:
        raise ValueError(f"Unknown algorithms {alg!r}/{ealg!r}")
    auth_name, trunc = AUTH_ALGORITHMS[alg]
    return EspAlgorithms(auth_name, trunc, integrity_key(alg, ik),
                         ENC_ALGORITHMS[ealg], encryption_key(ealg, ck))


def _check_len(key: bytes, what: str) -> None:
    if len(key) != AKA_KEY_BYTES:
        raise ValueError(f"{what} has {len(key)} octets, not {AKA_KEY_BYTES}")


# -- the plan handed to ims.ipsec.xfrm (TS 33.203 §7.1) ----------------------------
@dataclass(frozen=True, slots=True)
class PlannedSa:
    """One transport-mode ESP SA of a set and the flow its policy selects.

    The selector is (src, dst, src_port, dst_port) with any upper-layer
    protocol, so one SA covers UDP and TCP (TS 33.203 §7.1). The SPI is the
    receiver's: the P-CSCF's on SAs toward it, the UE's on SAs toward the
    UE. Which end sees it as inbound is :func:`ims.ipsec.spec.kernel_spec`'s call.
    """

    src: str
    dst: str
    src_port: int
    dst_port: int
    spi: int
    reqid: int


@dataclass(frozen=True, slots=True)
class XfrmPlan:
    """Everything :mod:`ims.ipsec.xfrm` needs to install or remove one UE's SA set.

    Contract with the kernel side: install the four :attr:`sas` (``mode``
    transport, ``proto`` esp) with :attr:`algorithms` and one policy each
    (inbound where the SA's destination is this end, same selector and reqid);
    removal deletes exactly these SPIs and selectors. Names follow
    TS 33.203 §7.1: ``u`` is the UE, ``p`` the P-CSCF, ``c``/``s`` client/server.
    """

    ue_host: str
    pcscf_host: str
    port_uc: int
    port_us: int
    port_pc: int
    port_ps: int
    spi_uc: int
    spi_us: int
    spi_pc: int
    spi_ps: int
    alg: str
    """TS 33.203 Annex H name of the integrity algorithm."""
    ealg: str
    """TS 33.203 Annex H name of the encryption algorithm."""
    algorithms: EspAlgorithms = field(repr=False)
    """Kernel names and Annex I keys (kept out of repr so keys do not reach logs)."""
    reqid: int
    """First reqid of this plan's block; SA ``i`` of :attr:`sas` has ``reqid + i``."""
    port_index: int
    """Pool index of :attr:`port_ps`/:attr:`port_pc` (:class:`ProtectedPortPool`)."""
    mode: str = "transport"
    proto: str = "esp"

    @property
    def sas(self) -> tuple[PlannedSa, PlannedSa, PlannedSa, PlannedSa]:
        """The four SAs of TS 33.203 §7.1, in this fixed order."""
        u, p, r = self.ue_host, self.pcscf_host, self.reqid
        return (
            PlannedSa(u, p, self.port_uc, self.port_ps, self.spi_ps, r),
            PlannedSa(p, u, self.port_ps, self.port_uc, self.spi_uc, r + 1),
            PlannedSa(p, u, self.port_pc, self.port_us, self.spi_us, r + 2),
            PlannedSa(u, p, self.port_us, self.port_pc, self.spi_pc, r + 3),
        )
