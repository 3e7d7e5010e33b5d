"""MILENAGE authentication and key generation functions (3GPP TS 35.206, Release 17).

The example algorithm set for the 3GPP functions f1, f1*, f2, f3, f4, f5 and
f5* (TS 33.102 §6.3), built on the AES-128 block cipher as the kernel
function E_K (TS 35.206 §3). Shared by the HSS (AuC side) and the emulated
USIM/ISIM.

Theory of operation
-------------------
Every function starts from the same intermediate value (TS 35.206 §4.1)::

    TEMP = E_K(RAND xor OPc)

and produces one 128-bit output block::

    OUT1 = E_K(TEMP xor rot(IN1 xor OPc, r1) xor c1) xor OPc
    OUTn = E_K(rot(TEMP xor OPc, rn) xor cn) xor OPc        (n = 2 .. 5)

with IN1 = SQN || AMF || SQN || AMF. The outputs are cut into::

    f1  = MAC-A = OUT1[0..63]      f1* = MAC-S = OUT1[64..127]
    f5  = AK    = OUT2[0..47]      f2  = RES   = OUT2[64..127]
    f3  = CK    = OUT3             f4  = IK    = OUT4
    f5* = AK    = OUT5[0..47]      (the resynchronisation anonymity key)

All rotations r1..r5 are whole octets, so ``rot`` is an octet rotation
towards the most significant end. Inputs are ``bytes``; lengths are checked
and a wrong length raises ``ValueError`` naming the parameter.
"""

from __future__ import annotations

from Crypto.Cipher import AES

__all__ = [
    "C1",
    "C2",
    "C3",
    "C4",
    "C5",
    "R1",
    "R2",
    "R3",
    "R4",
    "R5",
    "Milenage",
    "compute_opc",
    "f1",
    "f1_star",
    "f2",
    "f3",
    "f4",
    "f5",
    "f5_star",
]

#: Lengths in octets (TS 33.102 §6.3.7 and TS 35.206 §2).
K_LEN = 16
OP_LEN = 16
RAND_LEN = 16
SQN_LEN = 6
AMF_LEN = 2

#: TS 35.206 §4.1: the constants c1..c5 (128 bits) ...
C1 = bytes(16)
C2 = bytes(15) + b"\x01"
C3 = bytes(15) + b"\x02"
C4 = bytes(15) + b"\x04"
C5 = bytes(15) + b"\x08"

#: ... and the rotations r1..r5, in bits.
R1 = 64
R2 = 0
R3 = 32
R4 = 64
R5 = 96


def check_length(name: str, value: bytes, size: int) -> bytes:
    """Return ``value`` if it is ``size`` octets long.

    Raises:
        ValueError: naming ``name`` when the length differs.
    """
    if not isinstance(value, bytes | bytearray):
        raise TypeError(f"{name} must be bytes, got {type(value).__name__}")
    if len(value) != size:
        raise ValueError(f"{name} must be {size} octets, got {len(value)}")
    return bytes(value)


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _rot(x: bytes, r: int) -> bytes:
    """TS 35.206 §4.1 rot(x, r): cyclic rotation by r bits towards the MSB."""
    n = (r // 8) % len(x)
    return x[n:] + x[:n]


def _encrypt(k: bytes, block: bytes) -> bytes:
    """The kernel function E_K (TS 35.206 §3): AES-128 on one block."""
    return AES.new(k, AES.MODE_ECB).encrypt(block)


def compute_opc(k: bytes, op: bytes) -> bytes:
    """OPc = OP xor E_K(OP) (TS 35.206 §4.1).

    Args:
        k: the subscriber key K, 16 octets.
        op: the operator variant configuration field OP, 16 octets.

    Returns:
        OPc, 16 octets.
    """
    check_length("K", k, K_LEN)
    check_length("OP", op, OP_LEN)
    return _xor(_encrypt(k, op), op)


class Milenage:
    """The MILENAGE functions for one subscriber (K, OPc), TS 35.206 §4.1.

    The object holds only K and OPc; every method is a pure function of its
    arguments.
    """

    __slots__ = ("_k", "_opc")

    def __init__(self, k: bytes, opc: bytes) -> None:
        self._k = check_length("K", k, K_LEN)
        self._opc = check_length("OPc", opc, OP_LEN)

    @classmethod
    def from_op(cls, k: bytes, op: bytes) -> Milenage:
        """Build from OP instead of OPc (OPc computed per TS 35.206 §4.1)."""
        return cls(k, compute_opc(k, op))

    @property
    def opc(self) -> bytes:
        """OPc, 16 octets."""
        return self._opc

    def _temp(self, rand: bytes) -> bytes:
        check_length("RAND", rand, RAND_LEN)
        return _encrypt(self._k, _xor(rand, self._opc))

    def _out1(self, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
        check_length("SQN", sqn, SQN_LEN)
        check_length("AMF", amf, AMF_LEN)
        in1 = sqn + amf + sqn + amf
        block = _xor(_xor(self._temp(rand), _rot(_xor(in1, self._opc), R1)), C1)
        return _xor(_encrypt(self._k, block), self._opc)

    def _out(self, rand: bytes, r: int, c: bytes) -> bytes:
        block = _xor(_rot(_xor(self._temp(rand), self._opc), r), c)
        return _xor(_encrypt(self._k, block), self._opc)

    def f1(self, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
        """f1: the network authentication code MAC-A (8 octets)."""
        return self._out1(rand, sqn, amf)[:8]

    def f1_star(self, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
        """f1*: the resynchronisation authentication code MAC-S (8 octets)."""
        return self._out1(rand, sqn, amf)[8:]

    def f2(self, rand: bytes) -> bytes:
        """f2: the response RES / XRES (8 octets, OUT2[64..127])."""
        return self._out(rand, R2, C2)[8:]

    def f3(self, rand: bytes) -> bytes:
        """f3: the cipher key CK (16 octets)."""
        return self._out(rand, R3, C3)

    def f4(self, rand: bytes) -> bytes:
        """f4: the integrity key IK (16 octets)."""
        return self._out(rand, R4, C4)

    def f5(self, rand: bytes) -> bytes:
        """f5: the anonymity key AK (6 octets, OUT2[0..47])."""
        return self._out(rand, R2, C2)[:6]

    def f5_star(self, rand: bytes) -> bytes:
        """f5*: the resynchronisation anonymity key AK (6 octets)."""
        return self._out(rand, R5, C5)[:6]

    def f2345(self, rand: bytes) -> tuple[bytes, bytes, bytes, bytes]:
        """RES, CK, IK and AK in one call (OUT2 computed once).

        Returns:
            ``(RES, CK, IK, AK)``.
        """
        out2 = self._out(rand, R2, C2)
        return out2[8:], self.f3(rand), self.f4(rand), out2[:6]


def f1(k: bytes, opc: bytes, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
    """MAC-A = f1_K(SQN || RAND || AMF), TS 35.206 §4.1."""
    return Milenage(k, opc).f1(rand, sqn, amf)


def f1_star(k: bytes, opc: bytes, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
    """MAC-S = f1*_K(SQN_MS || RAND || AMF), TS 35.206 §4.1."""
    return Milenage(k, opc).f1_star(rand, sqn, amf)


def f2(k: bytes, opc: bytes, rand: bytes) -> bytes:
    """RES = f2_K(RAND), TS 35.206 §4.1."""
    return Milenage(k, opc).f2(rand)


def f3(k: bytes, opc: bytes, rand: bytes) -> bytes:
    """CK = f3_K(RAND), TS 35.206 §4.1."""
    return Milenage(k, opc).f3(rand)


def f4(k: bytes, opc: bytes, rand: bytes) -> bytes:
    """IK = f4_K(RAND), TS 35.206 §4.1."""
    return Milenage(k, opc).f4(rand)


def f5(k: bytes, opc: bytes, rand: bytes) -> bytes:
    """AK = f5_K(RAND), TS 35.206 §4.1."""
    return Milenage(k, opc).f5(rand)


def f5_star(k: bytes, opc: bytes, rand: bytes) -> bytes:
    """AK = f5*_K(RAND), the resynchronisation anonymity key, TS 35.206 §4.1."""
    return Milenage(k, opc).f5_star(rand)
