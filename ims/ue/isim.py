"""The emulated UE's ISIM: identities, long-term key and the AKA check.

TS 33.203 §6.1 runs UMTS AKA (TS 33.102 §6.3.3) between the ISIM and the
S-CSCF. :class:`Isim` holds what an ISIM holds (IMPI, IMPU, K, OPc, AMF
and its SQN array) and answers a challenge (RAND, AUTN) with one of the
three outcomes of TS 33.102 §6.3.3:

* success: RES, CK, IK (the SQN array then accepts SQN, §C.2.2);
* MAC failure: the network is not authentic ("user authentication
  reject"), the UE answers as TS 24.229 §5.1.1.5.3 says;
* synchronisation failure: SQN is not fresh, AUTS is returned (§6.3.5).

``trust_network=True`` skips the AUTN check and always answers RES = f2(K,
RAND) with the ISIM's own K: a test UE holding a wrong K then sends a wrong
RES instead of reporting a MAC failure (TS 24.229 §5.4.1.2.3: the S-CSCF
must answer 403).

Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ims.auth.aka import UsimStatus, usim_check
from ims.auth.milenage import Milenage, compute_opc
from ims.auth.sqn import SqnArray

__all__ = ["AkaOutcome", "AkaStatus", "Isim"]


class AkaStatus(enum.Enum):
    """The ISIM's verdict on a challenge (TS 33.102 §6.3.3)."""

    SUCCESS = "success"
    MAC_FAILURE = "mac-failure"
    SYNC_FAILURE = "sync-failure"


@dataclass(frozen=True, slots=True)
class AkaOutcome:
    """The answer to (RAND, AUTN).

    Attributes:
        status: success, MAC failure or synchronisation failure.
        res: RES (success only).
        ck: CK (success only).
        ik: IK (success only).
        auts: AUTS (synchronisation failure only, TS 33.102 §6.3.5).
        sqn: the SQN recovered from AUTN (None on MAC failure or when the
            AUTN check was skipped).
        checked: False when ``trust_network`` skipped the AUTN check.
    """

    status: AkaStatus
    res: bytes | None = None
    ck: bytes | None = None
    ik: bytes | None = None
    auts: bytes | None = None
    sqn: int | None = None
    checked: bool = True


_STATUS = {
    UsimStatus.SUCCESS: AkaStatus.SUCCESS,
    UsimStatus.MAC_FAILURE: AkaStatus.MAC_FAILURE,
    UsimStatus.SYNC_FAILURE: AkaStatus.SYNC_FAILURE,
}


@dataclass(slots=True)
class Isim:
    """An ISIM application (TS 31.103) reduced to what registration needs.

    Attributes:
        impi: the private user identity (``<IMSI>@<domain>``).
        impu: the public user identity registered (``sip:...``).
        k: K, 16 octets.
        opc: OPc, 16 octets.
        amf: AMF, 2 octets (informational: the AMF checked is AUTN's).
        sqn_array: the SEQ_MS per IND slot (TS 33.102 Annex C.2.2).
        trust_network: skip the AUTN check (tests of a wrong RES).
    """

    impi: str
    impu: str
    k: bytes
    opc: bytes
    amf: bytes = b"\x80\x00"
    sqn_array: SqnArray = field(default_factory=SqnArray)
    trust_network: bool = False

    @classmethod
    def from_op(
        cls, impi: str, impu: str, k: bytes, op: bytes, amf: bytes = b"\x80\x00",
        sqn_array: SqnArray | None = None, *, trust_network: bool = False,
    ) -> Isim:
        """An ISIM provisioned with OP: OPc = OP xor E_K(OP) (TS 35.206 §4.1)."""
        return cls(impi, impu, k, compute_opc(k, op), amf, sqn_array or SqnArray(),
                   trust_network)

    @property
    def sqn_ms(self) -> int:
        """The highest SQN accepted so far (what AUTS carries)."""
        return self.sqn_array.highest

    def authenticate(self, rand: bytes, autn: bytes) -> AkaOutcome:
        """Check AUTN and compute RES/CK/IK, TS 33.102 §6.3.3.

        On success the SQN array accepts the SQN, so replaying the same
        challenge gives a synchronisation failure.

        Raises:
            ValueError: RAND or AUTN has the wrong length.
        """
        if self.trust_network:
            res, ck, ik, _ak = Milenage(self.k, self.opc).f2345(rand)
            return AkaOutcome(AkaStatus.SUCCESS, res=res, ck=ck, ik=ik, checked=False)
        result = usim_check(
            self.k, self.opc, rand, autn, self.sqn_array.is_fresh, sqn_ms=self.sqn_array.highest
        )
        status = _STATUS.get(result.status, AkaStatus.MAC_FAILURE)
        if status is AkaStatus.SUCCESS and result.sqn is not None:
            self.sqn_array = self.sqn_array.accept(result.sqn)
        return AkaOutcome(status, result.res, result.ck, result.ik, result.auts, result.sqn)
