"""The XFRM netlink messages of the Linux uapi (``include/uapi/linux/xfrm.h``, x86_64).

pyroute2 has no XFRM API: the structures are declared here as pyroute2
``nlmsg``/``nla`` classes with explicit pad fields:

* ``struct xfrm_usersa_info`` (224 bytes, ``XFRM_MSG_NEWSA``/dump replies),
* ``struct xfrm_userpolicy_info`` (168 bytes, ``XFRM_MSG_NEWPOLICY``),
* ``struct xfrm_usersa_id`` (24 bytes, ``XFRM_MSG_DELSA``),
* ``struct xfrm_userpolicy_id`` (64 bytes, ``XFRM_MSG_DELPOLICY``),
* ``struct xfrm_user_tmpl`` (64 bytes, attribute ``XFRMA_TMPL``),
* ``struct xfrm_algo_auth`` / ``struct xfrm_algo`` (``XFRMA_ALG_AUTH_TRUNC``,
  ``XFRMA_ALG_CRYPT``).

Pure builders turn :mod:`ims.ipsec.sa` values into messages and dump
replies back into them; the socket classes are what
:class:`ims.ipsec.xfrm.NetlinkXfrm` sends them on. With :mod:`ims.ipsec.xfrm`,
the project's only pyroute2 user.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Any

from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST
from pyroute2.netlink import nla as _nla
from pyroute2.netlink import nlmsg as _nlmsg
from pyroute2.netlink.marshal import Marshal
from pyroute2.netlink.nlsocket import AsyncNetlinkSocket, NetlinkSocket

from ims.ipsec.sa import (
    AUTH_ALGORITHMS,
    ENC_ALGORITHMS,
    Direction,
    PolicySpec,
    SaSpec,
    SaState,
)

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
_LINUX_TO_AUTH = {linux: name for name, (linux, _) in AUTH_ALGORITHMS.items()}
_LINUX_TO_ENC = {linux: name for name, linux in ENC_ALGORITHMS.items()}

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
