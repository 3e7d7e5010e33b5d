"""TS 35.208 §4.3.1 Test Set 1 (Milenage), as used by the emulated UE tests.

The same values are in tests/vectors/ts35208/; they are inlined here so the
UE tests need no loader. f2 (RES), f3 (CK) and f4 (IK) are the expected
outputs for RAND under K/OPc.
"""

from __future__ import annotations

K = bytes.fromhex("465b5ce8b199b49faa5f0a2ee238a6bc")
RAND = bytes.fromhex("23553cbe9637a89d218ae64dae47bf35")
SQN = 0xFF9BB4D0B607
AMF = bytes.fromhex("b9b9")
OP = bytes.fromhex("cdc202d5123e20f62b6d676ac72cb318")
OPC = bytes.fromhex("cd63cb71954a9f4e48a5994e37a02baf")
RES = bytes.fromhex("a54211d5e3ba50bf")
CK = bytes.fromhex("b40ba9a3c58b2a05bbf0d987b21bf8cb")
IK = bytes.fromhex("f769bcd751044604127672711c6d3441")

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
IMPI = f"001010000000001@{DOMAIN}"
IMPU = f"sip:001010000000001@{DOMAIN}"
