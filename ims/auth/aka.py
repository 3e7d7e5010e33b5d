"""UMTS/EPS AKA: authentication vectors, the USIM check and resynchronisation.

3GPP TS 33.102 §6.3 (UMTS AKA, Release 17) and TS 33.401 §6.1 (EPS AKA):

* network side (HSS/AuC): :func:`generate_vector` builds the quintet
  RAND, XRES, CK, IK, AUTN (§6.3.2) with AUTN = SQN xor AK || AMF || MAC-A;
  :func:`generate_eutran_vector` builds the E-UTRAN vector RAND, XRES,
  AUTN, KASME (TS 33.401 §6.1.1, Annex A.2) with the AMF separation bit set;
  :func:`resync` verifies AUTS and recovers SQN_MS (§6.3.5).
* USIM/ISIM side (the emulated UE): :func:`usim_check` is §6.3.3 — recover
  SQN, verify MAC-A (MAC failure), verify freshness (synchronisation
  failure, answered with AUTS = SQN_MS xor AK* || MAC-S), and on success
  return RES, CK and IK.

SQN is passed as an ``int`` (0 .. 2^48-1) or as its 6 octets; the SEQ/IND
bookkeeping lives in :mod:`ims.auth.sqn`. MACs are compared in constant time.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from ims.auth.kdf import kasme as derive_kasme
from ims.auth.kdf import plmn_id
from ims.auth.milenage import AMF_LEN, RAND_LEN, Milenage, check_length
from ims.auth.sqn import is_acceptable, sqn_from_bytes, sqn_to_bytes

__all__ = [
    "AMF_SEPARATION_BIT",
    "AUTN_LEN",
    "AUTS_LEN",
    "RESYNC_AMF",
    "AuthVector",
    "EutranVector",
    "UsimResult",
    "UsimStatus",
    "build_autn",
    "generate_eutran_vector",
    "generate_vector",
    "make_auts",
    "plmn_id",
    "resync",
    "split_autn",
    "usim_check",
    "with_separation_bit",
]

AUTN_LEN = 16
AUTS_LEN = 14

#: TS 33.102 Annex H / TS 33.401 §6.1.1: "bit 0" of AMF, its most significant bit.
AMF_SEPARATION_BIT = 0x80

#: TS 33.102 §6.3.3: MAC-S is computed with a dummy AMF of all zeros.
RESYNC_AMF = b"\x00\x00"


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _sqn_octets(sqn: int | bytes) -> bytes:
    if isinstance(sqn, int):
        return sqn_to_bytes(sqn)
    return check_length("SQN", sqn, 6)


@dataclass(frozen=True, slots=True)
class AuthVector:
    """A UMTS authentication vector (quintet), TS 33.102 §6.3.2.

    Attributes:
        rand: RAND, 16 octets.
        xres: XRES = f2(RAND), 8 octets.
        autn: AUTN = SQN xor AK || AMF || MAC-A, 16 octets.
        ck: CK = f3(RAND), 16 octets.
        ik: IK = f4(RAND), 16 octets.
        ak: AK = f5(RAND), 6 octets (kept for KASME and for logging SQN).
    """

    rand: bytes
    xres: bytes
    autn: bytes
    ck: bytes
    ik: bytes
    ak: bytes


@dataclass(frozen=True, slots=True)
class EutranVector:
    """An E-UTRAN authentication vector, TS 33.401 §6.1.1.

    Attributes:
        rand: RAND, 16 octets.
        xres: XRES, 8 octets.
        autn: AUTN, 16 octets, with the AMF separation bit set.
        kasme: KASME, 32 octets (TS 33.401 Annex A.2).
    """

    rand: bytes
    xres: bytes
    autn: bytes
    kasme: bytes


def build_autn(sqn_xor_ak: bytes, amf: bytes, mac_a: bytes) -> bytes:
    """AUTN = SQN xor AK || AMF || MAC-A (TS 33.102 §6.3.2)."""
    check_length("SQN xor AK", sqn_xor_ak, 6)
    check_length("AMF", amf, AMF_LEN)
    check_length("MAC-A", mac_a, 8)
    return sqn_xor_ak + amf + mac_a


def split_autn(autn: bytes) -> tuple[bytes, bytes, bytes]:
    """Split AUTN into ``(SQN xor AK, AMF, MAC-A)`` (TS 33.102 §6.3.2)."""
    check_length("AUTN", autn, AUTN_LEN)
    return autn[:6], autn[6:8], autn[8:]


def with_separation_bit(amf: bytes) -> bytes:
    """AMF with the separation bit set to 1 (TS 33.401 §6.1.1, TS 33.102 Annex H)."""
    check_length("AMF", amf, AMF_LEN)
    return bytes([amf[0] | AMF_SEPARATION_BIT]) + amf[1:]


def generate_vector(k: bytes, opc: bytes, amf: bytes, sqn: int | bytes, rand: bytes) -> AuthVector:
    """Generate a UMTS authentication vector, TS 33.102 §6.3.2.

    Args:
        k: K, 16 octets.
        opc: OPc, 16 octets.
        amf: AMF, 2 octets.
        sqn: SQN, an int below 2^48 or 6 octets.
        rand: RAND, 16 octets (the caller draws it; this function is pure).

    Raises:
        ValueError: naming the parameter whose length or range is wrong.
    """
    milenage = Milenage(k, opc)
    sqn_b = _sqn_octets(sqn)
    mac_a = milenage.f1(rand, sqn_b, amf)
    xres, ck, ik, ak = milenage.f2345(rand)
    autn = build_autn(_xor(sqn_b, ak), amf, mac_a)
    return AuthVector(rand=bytes(rand), xres=xres, autn=autn, ck=ck, ik=ik, ak=ak)


def generate_eutran_vector(
    k: bytes,
    opc: bytes,
    amf: bytes,
    sqn: int | bytes,
    rand: bytes,
    serving_network_id: bytes,
) -> EutranVector:
    """Generate an E-UTRAN authentication vector, TS 33.401 §6.1.1 and Annex A.2.

    The AMF separation bit is forced to 1; KASME = KDF(CK || IK, 0x10,
    SN id, SQN xor AK).

    Args:
        serving_network_id: the PLMN identity of the serving network,
            3 octets (see :func:`plmn_id`).
        k, opc, amf, sqn, rand: as for :func:`generate_vector`.
    """
    vector = generate_vector(k, opc, with_separation_bit(amf), sqn, rand)
    key = derive_kasme(vector.ck, vector.ik, serving_network_id, vector.autn[:6])
    return EutranVector(rand=vector.rand, xres=vector.xres, autn=vector.autn, kasme=key)


def make_auts(k: bytes, opc: bytes, rand: bytes, sqn_ms: int | bytes) -> bytes:
    """AUTS = SQN_MS xor AK* || MAC-S, TS 33.102 §6.3.3 (USIM side).

    AK* = f5*(RAND); MAC-S = f1*(SQN_MS, RAND, AMF) with the dummy AMF 0x0000.
    """
    milenage = Milenage(k, opc)
    sqn_b = _sqn_octets(sqn_ms)
    conc = _xor(sqn_b, milenage.f5_star(rand))
    return conc + milenage.f1_star(rand, sqn_b, RESYNC_AMF)


def resync(k: bytes, opc: bytes, rand: bytes, auts: bytes) -> int | None:
    """Verify AUTS and recover SQN_MS, TS 33.102 §6.3.5 (HE/AuC side).

    Args:
        rand: the RAND of the challenge the USIM rejected.
        auts: AUTS from the USIM, 14 octets.

    Returns:
        SQN_MS, or None when MAC-S does not verify.

    Raises:
        ValueError: when RAND or AUTS have the wrong length.
    """
    check_length("AUTS", auts, AUTS_LEN)
    milenage = Milenage(k, opc)
    sqn_ms = _xor(auts[:6], milenage.f5_star(rand))
    xmac_s = milenage.f1_star(rand, sqn_ms, RESYNC_AMF)
    if not hmac.compare_digest(xmac_s, auts[6:]):
        return None
    return sqn_from_bytes(sqn_ms)


class UsimStatus(enum.Enum):
    """Outcome of the USIM's check of a challenge (TS 33.102 §6.3.3)."""

    SUCCESS = "success"
    #: XMAC differs from MAC-A: "user authentication reject, MAC failure".
    MAC_FAILURE = "mac-failure"
    #: SQN not in the correct range: "synchronisation failure", with AUTS.
    SYNC_FAILURE = "sync-failure"
    #: E-UTRAN only, separation bit 0 (TS 33.401 §6.1.1, "non-EPS authentication").
    AMF_FAILURE = "amf-failure"


@dataclass(frozen=True, slots=True)
class UsimResult:
    """What the USIM answers to (RAND, AUTN), TS 33.102 §6.3.3.

    Attributes:
        status: the outcome.
        sqn: the SQN recovered from AUTN (None on MAC failure).
        amf: AMF from AUTN.
        res: RES = f2(RAND), on success.
        ck: CK = f3(RAND), on success.
        ik: IK = f4(RAND), on success.
        auts: AUTS, on synchronisation failure.
    """

    status: UsimStatus
    sqn: int | None = None
    amf: bytes | None = None
    res: bytes | None = None
    ck: bytes | None = None
    ik: bytes | None = None
    auts: bytes | None = None

    @property
    def ok(self) -> bool:
        """True when the challenge was accepted."""
        return self.status is UsimStatus.SUCCESS


#: A freshness check: given SQN, whether the USIM accepts it.
SqnCheck = Callable[[int], bool]


def _freshness(sqn_check: int | SqnCheck, sqn_ms: int | None) -> tuple[SqnCheck, int]:
    """Normalise the freshness argument of :func:`usim_check`."""
    if isinstance(sqn_check, int):
        highest = sqn_check
        return (lambda sqn: is_acceptable(sqn, highest)), highest
    if sqn_ms is None:
        raise ValueError("sqn_ms is required with a freshness callable (it goes into AUTS)")
    return sqn_check, sqn_ms


def usim_check(
    k: bytes,
    opc: bytes,
    rand: bytes,
    autn: bytes,
    sqn_check: int | SqnCheck,
    *,
    sqn_ms: int | None = None,
    require_separation_bit: bool = False,
) -> UsimResult:
    """The USIM's verification of a challenge, TS 33.102 §6.3.3.

    Order as in §6.3.3: recover SQN = (SQN xor AK) xor f5(RAND), verify
    MAC-A, then (E-UTRAN) the separation bit, then freshness.

    Args:
        k: K, 16 octets.
        opc: OPc, 16 octets.
        rand: RAND, 16 octets.
        autn: AUTN, 16 octets.
        sqn_check: either SQN_MS, the highest SQN accepted so far (then SQN
            is fresh when :func:`ims.auth.sqn.is_acceptable`), or a callable
            deciding freshness, e.g. :meth:`ims.auth.sqn.SqnArray.is_fresh`.
        sqn_ms: SQN_MS for AUTS; required with a callable (e.g.
            ``SqnArray.highest``).
        require_separation_bit: check the AMF separation bit (E-UTRAN).

    Raises:
        ValueError: on wrong lengths, or a callable without ``sqn_ms``.
    """
    check_length("RAND", rand, RAND_LEN)
    is_fresh, highest = _freshness(sqn_check, sqn_ms)
    conc, amf, mac_a = split_autn(autn)
    milenage = Milenage(k, opc)
    res, ck, ik, ak = milenage.f2345(rand)
    sqn_b = _xor(conc, ak)
    if not hmac.compare_digest(milenage.f1(rand, sqn_b, amf), mac_a):
        return UsimResult(UsimStatus.MAC_FAILURE, amf=amf)
    sqn = sqn_from_bytes(sqn_b)
    if require_separation_bit and not amf[0] & AMF_SEPARATION_BIT:
        return UsimResult(UsimStatus.AMF_FAILURE, sqn=sqn, amf=amf)
    if not is_fresh(sqn):
        auts = make_auts(k, opc, rand, highest)
        return UsimResult(UsimStatus.SYNC_FAILURE, sqn=sqn, amf=amf, auts=auts)
    return UsimResult(UsimStatus.SUCCESS, sqn=sqn, amf=amf, res=res, ck=ck, ik=ik)
