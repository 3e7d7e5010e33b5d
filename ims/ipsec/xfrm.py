"""P-CSCF IPsec SAs in the Linux kernel over XFRM netlink (3GPP TS 33.203 Release 17, §7).

Theory of operation
-------------------
TS 33.203 §7.1 sets up four transport-mode ESP SAs per registered UE: UE
port-c → P-CSCF port-s, P-CSCF port-s → UE port-c, P-CSCF port-c → UE port-s
and UE port-s → P-CSCF port-c. Each SA gets one policy in the direction it is
used (``out`` where this host sends, ``in`` where it receives). Selectors carry
protocol 0 (any) plus the port pair with masks 0xffff, so one SA and one policy
per direction carry both UDP and TCP, as §7.1 intends.

This module is the only user of pyroute2, which has no XFRM API: the messages
of the Linux uapi (``include/uapi/linux/xfrm.h``) are declared here as
pyroute2 ``nlmsg``/``nla`` classes with explicit pad fields (x86_64 layout):

* ``struct xfrm_usersa_info`` (224 bytes, ``XFRM_MSG_NEWSA``/dump replies),
* ``struct xfrm_userpolicy_info`` (168 bytes, ``XFRM_MSG_NEWPOLICY``),
* ``struct xfrm_usersa_id`` (24 bytes, ``XFRM_MSG_DELSA``),
* ``struct xfrm_userpolicy_id`` (64 bytes, ``XFRM_MSG_DELPOLICY``),
* ``struct xfrm_user_tmpl`` (64 bytes, attribute ``XFRMA_TMPL``),
* ``struct xfrm_algo_auth`` / ``struct xfrm_algo`` (``XFRMA_ALG_AUTH_TRUNC``,
  ``XFRMA_ALG_CRYPT``).

Input is plain data: :class:`SaSpec` and :class:`PolicySpec` grouped in an
:class:`XfrmSpec` per owner (one UE registration). The sec-agree plan of
``pcscf/secagree.py`` maps onto it one to one: each SA of the plan becomes an
:class:`SaSpec` (addresses, ports, SPI, algorithms, ESP keys of TS 33.203
Annex I, reqid) and :func:`policy_for` derives its policy.

Ownership marker: every SA and policy this P-CSCF installs carries a reqid
from a :class:`ReqidRange` (SA ``reqid`` and template ``reqid``). Start-up
cleanup removes exactly the SAs and policies whose reqid lies in that range;
nothing else in the kernel is touched, and there is never a global flush.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol

from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST
from pyroute2.netlink import nla as _nla
from pyroute2.netlink import nlmsg as _nlmsg
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.marshal import Marshal
from pyroute2.netlink.nlsocket import AsyncNetlinkSocket, NetlinkSocket

# include/uapi/linux/netlink.h
NETLINK_XFRM = 6

# include/uapi/linux/xfrm.h: enum { XFRM_MSG_BASE = 0x10, ... }
XFRM_MSG_NEWSA = 0x10
XFRM_MSG_DELSA = 0x11
XFRM_MSG_GETSA = 0x12
XFRM_MSG_NEWPOLICY = 0x13
XFRM_MSG_DELPOLICY = 0x14
XFRM_MSG_GETPOLICY = 0x15

# include/uapi/linux/xfrm.h: enum xfrm_attr_type_t
XFRMA_ALG_CRYPT = 2
XFRMA_TMPL = 5
XFRMA_ALG_AUTH_TRUNC = 20

XFRM_MODE_TRANSPORT = 0
XFRM_POLICY_ALLOW = 0
XFRM_INF = 2**64 - 1
IPPROTO_ESP = 50
ALL_ALGS = 0xFFFFFFFF
PORT_MASK = 0xFFFF

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
_LINUX_TO_AUTH = {linux: name for name, (linux, _) in AUTH_ALGORITHMS.items()}
_LINUX_TO_ENC = {linux: name for name, linux in ENC_ALGORITHMS.items()}


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


# ---------------------------------------------------------------------------
# Message layouts (include/uapi/linux/xfrm.h, x86_64)

_SELECTOR = (  # struct xfrm_selector, 56 bytes
    ("sel_daddr", "16s"), ("sel_saddr", "16s"),
    ("sel_dport", ">H"), ("sel_dport_mask", ">H"),
    ("sel_sport", ">H"), ("sel_sport_mask", ">H"),
    ("sel_family", "H"), ("sel_prefixlen_d", "B"), ("sel_prefixlen_s", "B"),
    ("sel_proto", "B"), ("__sel_pad", "3x"), ("sel_ifindex", "i"), ("sel_user", "I"),
)
_LIFETIME_CFG = tuple((f"lft_{name}", "Q") for name in (  # struct xfrm_lifetime_cfg, 64
    "soft_byte_limit", "hard_byte_limit", "soft_packet_limit", "hard_packet_limit",
    "soft_add_expires_seconds", "hard_add_expires_seconds",
    "soft_use_expires_seconds", "hard_use_expires_seconds"))
_LIFETIME_CUR = tuple((f"cur_{name}", "Q") for name in (  # struct xfrm_lifetime_cur, 32
    "bytes", "packets", "add_time", "use_time"))
_ZERO_ADDRS = {"sel_daddr": b"\0" * 16, "sel_saddr": b"\0" * 16}
_INFINITE = {name: XFRM_INF for name, _ in _LIFETIME_CFG[:4]}


class xfrm_user_tmpl(_nla):  # type: ignore[misc]  # noqa: N801 - uapi name
    """``struct xfrm_user_tmpl`` (64 bytes): the SA a policy requires."""

    fields = (
        ("daddr", "16s"), ("spi", ">I"), ("proto", "B"), ("__id_pad", "3x"),
        ("family", "H"), ("__pad", "2x"), ("saddr", "16s"), ("reqid", "I"),
        ("mode", "B"), ("share", "B"), ("optional", "B"), ("__pad2", "x"),
        ("aalgos", "I"), ("ealgos", "I"), ("calgos", "I"),
    )
    defaults = {"daddr": b"\0" * 16, "saddr": b"\0" * 16}


_XFRMA_MAP = (
    (XFRMA_ALG_CRYPT, "XFRMA_ALG_CRYPT", "cdata"),
    (XFRMA_TMPL, "XFRMA_TMPL", "xfrm_user_tmpl"),
    (XFRMA_ALG_AUTH_TRUNC, "XFRMA_ALG_AUTH_TRUNC", "cdata"),
)


class xfrm_usersa_info(_nlmsg):  # type: ignore[misc]  # noqa: N801 - uapi name
    """``struct xfrm_usersa_info`` (224 bytes): body of NEWSA and of GETSA dump replies."""

    fields = (*_SELECTOR,
              ("id_daddr", "16s"), ("id_spi", ">I"), ("id_proto", "B"), ("__id_pad", "3x"),
              ("saddr", "16s"), *_LIFETIME_CFG, *_LIFETIME_CUR,
              ("stats_replay_window", "I"), ("stats_replay", "I"),
              ("stats_integrity_failed", "I"), ("seq", "I"), ("reqid", "I"),
              ("family", "H"), ("mode", "B"), ("replay_window", "B"), ("flags", "B"),
              ("__pad", "7x"))
    defaults = {**_ZERO_ADDRS, "id_daddr": b"\0" * 16, "saddr": b"\0" * 16, **_INFINITE}
    nla_map = _XFRMA_MAP
    xfrm_user_tmpl = xfrm_user_tmpl


class xfrm_userpolicy_info(_nlmsg):  # type: ignore[misc]  # noqa: N801 - uapi name
    """``struct xfrm_userpolicy_info`` (168 bytes): body of NEWPOLICY and dump replies."""

    fields = (*_SELECTOR, *_LIFETIME_CFG, *_LIFETIME_CUR,
              ("priority", "I"), ("index", "I"), ("dir", "B"), ("action", "B"),
              ("flags", "B"), ("share", "B"), ("__pad", "4x"))
    defaults = {**_ZERO_ADDRS, **_INFINITE}
    nla_map = _XFRMA_MAP
    xfrm_user_tmpl = xfrm_user_tmpl


class xfrm_usersa_id(_nlmsg):  # type: ignore[misc]  # noqa: N801 - uapi name
    """``struct xfrm_usersa_id`` (24 bytes): body of DELSA."""

    fields = (("daddr", "16s"), ("spi", ">I"), ("family", "H"), ("proto", "B"),
              ("__pad", "x"))
    defaults = {"daddr": b"\0" * 16}


class xfrm_userpolicy_id(_nlmsg):  # type: ignore[misc]  # noqa: N801 - uapi name
    """``struct xfrm_userpolicy_id`` (64 bytes): body of DELPOLICY."""

    fields = (*_SELECTOR, ("index", "I"), ("dir", "B"), ("__pad", "3x"))
    defaults = dict(_ZERO_ADDRS)


class _XfrmMarshal(Marshal):  # type: ignore[misc]
    msg_map = {XFRM_MSG_NEWSA: xfrm_usersa_info, XFRM_MSG_NEWPOLICY: xfrm_userpolicy_info}


class _AsyncXfrmSocket(AsyncNetlinkSocket):  # type: ignore[misc]
    marshal_class = _XfrmMarshal


class _XfrmSocket(NetlinkSocket):  # type: ignore[misc]
    """A ``NETLINK_XFRM`` socket, optionally inside a named network namespace."""

    async_class = _AsyncXfrmSocket

    def __init__(self, netns: str | None) -> None:
        super().__init__(family=NETLINK_XFRM, netns=netns)


# ---------------------------------------------------------------------------
# Pure builders


def _addr(text: str) -> tuple[int, bytes, int]:
    """(address family, 16-byte ``xfrm_address_t``, host prefix length) of an address."""
    ip = ipaddress.ip_address(text)
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    return family, ip.packed.ljust(16, b"\0"), ip.max_prefixlen


def _selector(src: str, dst: str, src_port: int, dst_port: int) -> dict[str, Any]:
    """``struct xfrm_selector`` fields: host addresses, any protocol, the port pair."""
    family, saddr, plen = _addr(src)
    _, daddr, _ = _addr(dst)
    return {"sel_daddr": daddr, "sel_saddr": saddr, "sel_dport": dst_port,
            "sel_dport_mask": PORT_MASK, "sel_sport": src_port, "sel_sport_mask": PORT_MASK,
            "sel_family": family, "sel_prefixlen_d": plen, "sel_prefixlen_s": plen,
            "sel_proto": 0}


def _auth_attr(sa: SaSpec) -> bytes:
    """``struct xfrm_algo_auth``: name[64], key bits, truncation bits, key."""
    try:
        name, trunc = AUTH_ALGORITHMS[sa.auth_alg]
    except KeyError:
        raise ValueError(f"{sa.describe()}: unknown integrity algorithm {sa.auth_alg!r}") from None
    return struct.pack("64sII", name.encode(), len(sa.auth_key) * 8, trunc) + sa.auth_key


def _crypt_attr(sa: SaSpec) -> bytes:
    """``struct xfrm_algo``: name[64], key bits, key (null encryption has no key)."""
    try:
        name = ENC_ALGORITHMS[sa.enc_alg]
    except KeyError:
        raise ValueError(f"{sa.describe()}: unknown encryption algorithm {sa.enc_alg!r}") from None
    return struct.pack("64sI", name.encode(), len(sa.enc_key) * 8) + sa.enc_key


def build_newsa(sa: SaSpec) -> Any:
    """The ``XFRM_MSG_NEWSA`` body for ``sa``: transport mode, infinite lifetimes."""
    family, daddr, _ = _addr(sa.dst)
    _, saddr, _ = _addr(sa.src)
    msg = xfrm_usersa_info()
    msg.update(_selector(sa.src, sa.dst, sa.src_port, sa.dst_port))
    msg.update({"id_daddr": daddr, "id_spi": sa.spi, "id_proto": IPPROTO_ESP, "saddr": saddr,
                "reqid": sa.reqid, "family": family, "mode": XFRM_MODE_TRANSPORT})
    msg["attrs"] = [("XFRMA_ALG_AUTH_TRUNC", _auth_attr(sa)), ("XFRMA_ALG_CRYPT", _crypt_attr(sa))]
    return msg


def build_newpolicy(policy: PolicySpec) -> Any:
    """The ``XFRM_MSG_NEWPOLICY`` body: selector, direction, one ESP transport template."""
    family, daddr, _ = _addr(policy.dst)
    _, saddr, _ = _addr(policy.src)
    msg = xfrm_userpolicy_info()
    msg.update(_selector(policy.src, policy.dst, policy.src_port, policy.dst_port))
    msg.update({"priority": policy.priority, "dir": int(policy.direction),
                "action": XFRM_POLICY_ALLOW})
    tmpl = {"daddr": daddr, "spi": 0, "proto": IPPROTO_ESP, "family": family, "saddr": saddr,
            "reqid": policy.reqid, "mode": XFRM_MODE_TRANSPORT, "aalgos": ALL_ALGS,
            "ealgos": ALL_ALGS, "calgos": ALL_ALGS}
    msg["attrs"] = [("XFRMA_TMPL", tmpl)]
    return msg


def build_delsa(dst: str, spi: int) -> Any:
    """The ``XFRM_MSG_DELSA`` body naming one ESP SA by destination and SPI."""
    family, daddr, _ = _addr(dst)
    msg = xfrm_usersa_id()
    msg.update({"daddr": daddr, "spi": spi, "family": family, "proto": IPPROTO_ESP})
    return msg


def build_delpolicy(policy: PolicySpec) -> Any:
    """The ``XFRM_MSG_DELPOLICY`` body naming one policy by selector and direction."""
    msg = xfrm_userpolicy_id()
    msg.update(_selector(policy.src, policy.dst, policy.src_port, policy.dst_port))
    msg["dir"] = int(policy.direction)
    return msg


def encode(msg: Any, msg_type: int) -> bytes:
    """The complete netlink message (header included) as it goes to the kernel."""
    msg["header"]["type"] = msg_type
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK
    msg.encode()
    return bytes(msg.data)


# ---------------------------------------------------------------------------
# Decoding dump replies


def _text_addr(family: int, raw: bytes) -> str:
    size = 4 if family == socket.AF_INET else 16
    return str(ipaddress.ip_address(raw[:size]))


def _alg_name(raw: bytes | None, table: dict[str, str]) -> str:
    if raw is None:
        return ""
    linux = raw[:64].rstrip(b"\0").decode()
    return table.get(linux, linux)


def sa_state(msg: Any) -> SaState:
    """An :class:`SaState` from one decoded ``xfrm_usersa_info`` dump reply."""
    family = msg["family"]
    return SaState(
        src=_text_addr(family, msg["saddr"]), dst=_text_addr(family, msg["id_daddr"]),
        src_port=msg["sel_sport"], dst_port=msg["sel_dport"], spi=msg["id_spi"],
        reqid=msg["reqid"],
        auth_alg=_alg_name(msg.get_attr("XFRMA_ALG_AUTH_TRUNC"), _LINUX_TO_AUTH),
        enc_alg=_alg_name(msg.get_attr("XFRMA_ALG_CRYPT"), _LINUX_TO_ENC),
        cur_packets=msg["cur_packets"], cur_bytes=msg["cur_bytes"],
        add_time=msg["cur_add_time"])


def _policy_spec(msg: Any) -> PolicySpec:
    """A :class:`PolicySpec` from one decoded ``xfrm_userpolicy_info`` dump reply."""
    family = msg["sel_family"]
    tmpl = msg.get_attr("XFRMA_TMPL")
    return PolicySpec(
        src=_text_addr(family, msg["sel_saddr"]), dst=_text_addr(family, msg["sel_daddr"]),
        src_port=msg["sel_sport"], dst_port=msg["sel_dport"],
        direction=Direction(msg["dir"]), reqid=tmpl["reqid"] if tmpl else 0,
        priority=msg["priority"])


# ---------------------------------------------------------------------------
# The port and its kernel adapter


class XfrmPort(Protocol):
    """What the P-CSCF orchestrator needs from the kernel's XFRM database."""

    def apply(self, plan: XfrmSpec) -> None:
        """Install every SA and policy of ``plan``."""

    def remove(self, plan: XfrmSpec | str) -> int:
        """Remove one owner's SAs and policies; return how many were removed."""

    def cleanup_stale(self, marker: ReqidRange) -> int:
        """Remove SAs and policies carrying ``marker``; return how many."""

    def list_sas(self) -> list[SaState]:
        """The SAs in the kernel with their counters."""

    def probe_esp(self) -> bool:
        """Whether the kernel can hold an ESP SA."""


_CREATE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
_ACK = NLM_F_REQUEST | NLM_F_ACK
_DUMP = NLM_F_REQUEST | NLM_F_DUMP
#: TEST-NET-1 (RFC 5737) addresses and a reserved reqid for :meth:`NetlinkXfrm.probe_esp`.
_PROBE = SaSpec("192.0.2.1", "192.0.2.2", 9, 9, 0x0BAD0001, 0xFFFFFFF0,
                "hmac-md5-96", b"\0" * 16)


class NetlinkXfrm:
    """:class:`XfrmPort` over ``NETLINK_XFRM``, in the namespace ``netns`` (or the current one).

    Remembers the :class:`XfrmSpec` it applied per owner, so that
    ``remove(owner)`` deletes exactly that owner's SAs and policies.
    """

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self._applied: dict[str, XfrmSpec] = {}
        self._sock: Any = None

    @contextmanager
    def _session(self) -> Iterator[Any]:
        """One netlink socket per public operation (opening one in a namespace is costly)."""
        if self._sock is not None:
            yield self._sock
            return
        self._sock = _XfrmSocket(self.netns)
        try:
            yield self._sock
        finally:
            self._sock.close()
            self._sock = None

    def _request(self, msg: Any, msg_type: int, flags: int, what: str) -> list[Any]:
        with self._session() as sock:
            try:
                return list(sock.nlm_request(msg, msg_type=msg_type, msg_flags=flags))
            except NetlinkError as exc:
                raise XfrmError(what, exc.code) from exc

    def _dump(self, msg_type: int) -> Iterator[Any]:
        body = xfrm_usersa_id() if msg_type == XFRM_MSG_GETSA else xfrm_userpolicy_id()
        for reply in self._request(body, msg_type, _DUMP, "dump"):
            if reply["header"]["type"] in (XFRM_MSG_NEWSA, XFRM_MSG_NEWPOLICY):
                yield reply

    def apply(self, plan: XfrmSpec) -> None:
        """Install every SA, then every policy, of ``plan`` (TS 33.203 §7.1).

        Raises:
            XfrmError: naming the SA or policy the kernel refused; what this
                call installed before it is removed again.
        """
        done: list[SaSpec | PolicySpec] = []
        with self._session():
            try:
                self._install(plan, done)
            except XfrmError:
                self._undo(done)  # only what this call added: an EEXIST may be another owner's
                raise
        self._applied[plan.owner] = plan

    def _install(self, plan: XfrmSpec, done: list[SaSpec | PolicySpec]) -> None:
        for sa in plan.sas:
            self._request(build_newsa(sa), XFRM_MSG_NEWSA, _CREATE, f"add {sa.describe()}")
            done.append(sa)
        for pol in plan.policies:
            self._request(build_newpolicy(pol), XFRM_MSG_NEWPOLICY, _CREATE,
                          f"add {pol.describe()}")
            done.append(pol)

    def _undo(self, done: list[SaSpec | PolicySpec]) -> None:
        for item in reversed(done):
            if isinstance(item, SaSpec):
                self._delete_sa(item.dst, item.spi)
            else:
                self._delete_policy(item)

    def remove(self, plan: XfrmSpec | str) -> int:
        """Remove one owner's SAs and policies (never a flush); return how many went.

        Args:
            plan: the applied :class:`XfrmSpec`, or its owner key.
        """
        spec = self._applied.pop(plan, None) if isinstance(plan, str) else plan
        if spec is None:
            return 0
        self._applied.pop(spec.owner, None)
        with self._session():
            removed = sum(self._delete_policy(pol) for pol in spec.policies)
            return removed + sum(self._delete_sa(sa.dst, sa.spi) for sa in spec.sas)

    def _delete_sa(self, dst: str, spi: int) -> int:
        try:
            self._request(build_delsa(dst, spi), XFRM_MSG_DELSA, _ACK,
                          f"delete SA spi=0x{spi:08x} dst={dst}")
        except XfrmError as exc:
            if exc.code == errno.ESRCH:
                return 0
            raise
        return 1

    def _delete_policy(self, policy: PolicySpec) -> int:
        try:
            self._request(build_delpolicy(policy), XFRM_MSG_DELPOLICY, _ACK,
                          f"delete {policy.describe()}")
        except XfrmError as exc:
            if exc.code == errno.ENOENT:
                return 0
            raise
        return 1

    def list_policies(self) -> list[PolicySpec]:
        """The policies in the kernel that have a single-host selector and one template."""
        return [_policy_spec(msg) for msg in self._dump(XFRM_MSG_GETPOLICY)]

    def list_sas(self) -> list[SaState]:
        """The ESP SAs in the kernel with their counters (``XFRM_MSG_GETSA`` dump)."""
        return [sa_state(msg) for msg in self._dump(XFRM_MSG_GETSA)]

    def cleanup_stale(self, marker: ReqidRange) -> int:
        """Remove the SAs and policies whose reqid is in ``marker``; foreign ones stay."""
        with self._session():
            stale_pols = [pol for pol in self.list_policies() if pol.reqid in marker]
            stale_sas = [sa for sa in self.list_sas() if sa.reqid in marker]
            removed = sum(self._delete_policy(pol) for pol in stale_pols)
            return removed + sum(self._delete_sa(sa.dst, sa.spi) for sa in stale_sas)

    def probe_esp(self) -> bool:
        """Install and delete a throwaway ESP SA on TEST-NET-1 addresses.

        Returns:
            False when the kernel lacks ESP (``EPROTONOSUPPORT``), True otherwise.
        Raises:
            XfrmError: any other refusal (no ``xfrm_user``, missing algorithm…).
        """
        with self._session():
            try:
                self._request(build_newsa(_PROBE), XFRM_MSG_NEWSA, _CREATE,
                              f"probe {_PROBE.describe()}")
            except XfrmError as exc:
                if exc.code == errno.EPROTONOSUPPORT:
                    return False
                raise
            self._delete_sa(_PROBE.dst, _PROBE.spi)
            return True


@dataclass
class FakeXfrm:
    """Test double of :class:`XfrmPort` for orchestrator unit tests: records, touches no kernel."""

    esp: bool = True
    applied: dict[str, XfrmSpec] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def apply(self, plan: XfrmSpec) -> None:
        """Record ``plan`` as installed."""
        self.calls.append(f"apply {plan.owner}")
        self.applied[plan.owner] = plan

    def remove(self, plan: XfrmSpec | str) -> int:
        """Forget one owner's plan; return how many SAs and policies it had."""
        owner = plan if isinstance(plan, str) else plan.owner
        self.calls.append(f"remove {owner}")
        spec = self.applied.pop(owner, None)
        return 0 if spec is None else len(spec.sas) + len(spec.policies)

    def cleanup_stale(self, marker: ReqidRange) -> int:
        """Forget every plan whose SAs carry ``marker``."""
        stale = [o for o, s in self.applied.items() if any(sa.reqid in marker for sa in s.sas)]
        return sum(self.remove(owner) for owner in stale)

    def list_sas(self) -> list[SaState]:
        """The recorded SAs with zero counters."""
        return [SaState(sa.src, sa.dst, sa.src_port, sa.dst_port, sa.spi, sa.reqid,
                        sa.auth_alg, sa.enc_alg, 0, 0, 0) for sa in _all_sas(self.applied.values())]

    def probe_esp(self) -> bool:
        """The configured answer."""
        return self.esp


def _all_sas(specs: Iterable[XfrmSpec]) -> Iterator[SaSpec]:
    for spec in specs:
        yield from spec.sas
