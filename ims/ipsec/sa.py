"""XFRM input and output data: one owner's SAs and policies (TS 33.203 §7.1). Pure.

:class:`SaSpec` and :class:`PolicySpec` grouped in an :class:`XfrmSpec` per
owner (one UE registration, or the emulated UE's own set) are what
:mod:`ims.ipsec.netlink` encodes; :class:`SaState` is what a dump reads back.
The algorithm tables map the TS 33.203 Annex H names onto the Linux crypto
names both ends use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import IntEnum

#: TS 33.203 §6.1 / Annex H integrity algorithm → (Linux crypto name, truncation bits).
AUTH_ALGORITHMS: dict[str, tuple[str, int]] = {
    "hmac-md5-96": ("hmac(md5)", 96),
    "hmac-sha-1-96": ("hmac(sha1)", 96),
}
#: TS 33.203 §6.2 encryption algorithm → Linux crypto name (null has no key).
ENC_ALGORITHMS: dict[str, str] = {
    "null": "ecb(cipher_null)",
    "aes-cbc": "cbc(aes)",
    "des-ede3-cbc": "cbc(des3_ede)",
}


class Direction(IntEnum):
    """``XFRM_POLICY_IN`` / ``_OUT`` / ``_FWD`` of ``include/uapi/linux/xfrm.h``."""

    IN = 0
    OUT = 1
    FWD = 2


class XfrmError(Exception):
    """The kernel refused an XFRM request; the message names the SA or policy."""

    def __init__(self, what: str, code: int) -> None:
        super().__init__(f"{what}: {os.strerror(code)} (errno {code})")
        self.what = what
        self.code = code


# ---------------------------------------------------------------------------
# Input data (what the sec-agree plan maps onto)


@dataclass(frozen=True, slots=True)
class SaSpec:
    """One transport-mode ESP SA (TS 33.203 §7.1) as ``struct xfrm_usersa_info`` holds it.

    ``auth_key``/``enc_key`` are IK_esp/CK_esp of TS 33.203 Annex I; ``reqid``
    must lie in this P-CSCF's :class:`ReqidRange`.
    """

    src: str
    dst: str
    src_port: int
    dst_port: int
    spi: int
    reqid: int
    auth_alg: str
    auth_key: bytes
    enc_alg: str = "null"
    enc_key: bytes = b""

    def describe(self) -> str:
        """A one-line name for logs and errors."""
        return (f"SA spi=0x{self.spi:08x} {self.src}:{self.src_port} -> "
                f"{self.dst}:{self.dst_port} reqid={self.reqid}")


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """One policy (``struct xfrm_userpolicy_info`` + one ``xfrm_user_tmpl``) for an SA's flow."""

    src: str
    dst: str
    src_port: int
    dst_port: int
    direction: Direction
    reqid: int
    priority: int = 0

    def describe(self) -> str:
        """A one-line name for logs and errors."""
        return (f"policy {self.direction.name.lower()} {self.src}:{self.src_port} -> "
                f"{self.dst}:{self.dst_port} reqid={self.reqid}")


@dataclass(frozen=True, slots=True)
class XfrmSpec:
    """Everything one owner (one UE registration) has in the kernel: SAs and policies."""

    owner: str
    sas: tuple[SaSpec, ...]
    policies: tuple[PolicySpec, ...]


@dataclass(frozen=True, slots=True)
class ReqidRange:
    """The ownership marker: reqids ``first..last`` (inclusive) belong to this P-CSCF."""

    first: int
    last: int

    def __contains__(self, reqid: object) -> bool:
        return isinstance(reqid, int) and self.first <= reqid <= self.last


@dataclass(frozen=True, slots=True)
class SaState:
    """An SA read back from the kernel (``XFRM_MSG_GETSA`` dump), for ``ims-cli sas``."""

    src: str
    dst: str
    src_port: int
    dst_port: int
    spi: int
    reqid: int
    auth_alg: str
    enc_alg: str
    cur_packets: int
    cur_bytes: int
    add_time: int


def policy_for(sa: SaSpec, direction: Direction) -> PolicySpec:
    """The policy that sends (``OUT``) or admits (``IN``) the flow of ``sa``."""
    return PolicySpec(sa.src, sa.dst, sa.src_port, sa.dst_port, direction, sa.reqid)
