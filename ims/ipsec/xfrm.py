"""IPsec SAs in the Linux kernel over XFRM netlink (3GPP TS 33.203 Release 17, §7).

Theory of operation
-------------------
TS 33.203 §7.1 sets up four transport-mode ESP SAs per registered UE: UE
port-c → P-CSCF port-s, P-CSCF port-s → UE port-c, P-CSCF port-c → UE port-s
and UE port-s → P-CSCF port-c. Each SA gets one policy in the direction it is
used (``out`` where this host sends, ``in`` where it receives). Selectors carry
protocol 0 (any) plus the port pair with masks 0xffff, so one SA and one policy
per direction carry both UDP and TCP, as §7.1 intends.

:class:`XfrmPort` is what the P-CSCF and the emulated UE need from the
kernel; :class:`NetlinkXfrm` implements it with the messages of
:mod:`ims.ipsec.netlink` (pyroute2 has no XFRM API), :class:`FakeXfrm`
records instead (tests on kernels without ESP). Input is plain data from
:mod:`ims.ipsec.sa`: an :class:`XfrmSpec` per owner (one UE registration),
built from a sec-agree plan by :func:`ims.ipsec.spec.kernel_spec`.

Ownership marker: every SA and policy this P-CSCF installs carries a reqid
from a :class:`ReqidRange` (SA ``reqid`` and template ``reqid``). Start-up
cleanup removes exactly the SAs and policies whose reqid lies in that range;
nothing else in the kernel is touched, and there is never a global flush.
"""

from __future__ import annotations

import asyncio
import errno
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST
from pyroute2.netlink.exceptions import NetlinkError

from ims.ipsec.netlink import (
    XFRM_MSG_DELPOLICY,
    XFRM_MSG_DELSA,
    XFRM_MSG_GETPOLICY,
    XFRM_MSG_GETSA,
    XFRM_MSG_NEWPOLICY,
    XFRM_MSG_NEWSA,
    _policy_spec,
    _XfrmSocket,
    build_delpolicy,
    build_delsa,
    build_newpolicy,
    build_newsa,
    sa_state,
    xfrm_userpolicy_id,
    xfrm_usersa_id,
)

# The data types live in ims.ipsec.sa; re-exported: callers import them with the port.
from ims.ipsec.sa import AUTH_ALGORITHMS as AUTH_ALGORITHMS
from ims.ipsec.sa import ENC_ALGORITHMS as ENC_ALGORITHMS
from ims.ipsec.sa import Direction as Direction
from ims.ipsec.sa import PolicySpec as PolicySpec
from ims.ipsec.sa import ReqidRange as ReqidRange
from ims.ipsec.sa import SaSpec as SaSpec
from ims.ipsec.sa import SaState as SaState
from ims.ipsec.sa import XfrmError as XfrmError
from ims.ipsec.sa import XfrmSpec as XfrmSpec
from ims.ipsec.sa import policy_for as policy_for

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


#: The thread netlink work runs in when the caller's thread runs an event loop.
_NETLINK_THREAD = "ims-xfrm-netlink"
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=_NETLINK_THREAD)

P = ParamSpec("P")
R = TypeVar("R")


def _off_event_loop(method: Callable[Concatenate[NetlinkXfrm, P], R]
                    ) -> Callable[Concatenate[NetlinkXfrm, P], R]:
    """Run a public operation in the netlink thread when called from a running event loop.

    pyroute2's synchronous socket drives its own asyncio loop, which cannot
    run in a thread whose loop is already running (the CSCFs' and the UE's).
    The whole operation, nested calls included, moves to one worker thread,
    and the caller waits for it: a few milliseconds per SA set, and the
    kernel is changed before the 401 leaves (TS 33.203 §7.1).
    """
    def run(self: NetlinkXfrm, /, *args: P.args, **kwargs: P.kwargs) -> R:
        in_worker = threading.current_thread().name.startswith(_NETLINK_THREAD)
        if in_worker or not _event_loop_running():
            return method(self, *args, **kwargs)
        return _worker.submit(method, self, *args, **kwargs).result()
    run.__name__, run.__doc__ = method.__name__, method.__doc__
    return run


def _event_loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class NetlinkXfrm:
    """:class:`XfrmPort` over ``NETLINK_XFRM``, in the namespace ``netns`` (or the current one).

    Remembers the :class:`XfrmSpec` it applied per owner, so that
    ``remove(owner)`` deletes exactly that owner's SAs and policies. Safe to
    call from a coroutine or callback (see :func:`_off_event_loop`).
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

    @_off_event_loop
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

    @_off_event_loop
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

    @_off_event_loop
    def list_policies(self) -> list[PolicySpec]:
        """The policies in the kernel that have a single-host selector and one template."""
        return [_policy_spec(msg) for msg in self._dump(XFRM_MSG_GETPOLICY)]

    @_off_event_loop
    def list_sas(self) -> list[SaState]:
        """The ESP SAs in the kernel with their counters (``XFRM_MSG_GETSA`` dump)."""
        return [sa_state(msg) for msg in self._dump(XFRM_MSG_GETSA)]

    @_off_event_loop
    def cleanup_stale(self, marker: ReqidRange) -> int:
        """Remove the SAs and policies whose reqid is in ``marker``; foreign ones stay."""
        with self._session():
            stale_pols = [pol for pol in self.list_policies() if pol.reqid in marker]
            stale_sas = [sa for sa in self.list_sas() if sa.reqid in marker]
            removed = sum(self._delete_policy(pol) for pol in stale_pols)
            return removed + sum(self._delete_sa(sa.dst, sa.spi) for sa in stale_sas)

    @_off_event_loop
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
