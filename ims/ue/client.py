"""The emulated UE on real sockets: asyncio glue over :mod:`ims.ue.register` and
:mod:`ims.ue.subscribe` (Open5GS ``tests/common`` style: build, send, handle).

Each :class:`UserEquipment` runs its own :class:`~ims.transport.stack.SipStack`
listening on UDP and TCP at ``local_host`` on one free port (the same for
both, as a handset does: a proxy sends a request larger than the MTU allows
over TCP to the port the UE registered from, RFC 3261 §18.1.1), and
talks to one P-CSCF. Many UEs run concurrently in one process simply as many
instances: every UE has its own ports, contact and transaction tables, so
no demultiplexing by Call-ID is needed and a NOTIFY or MESSAGE reaches the
UE it is addressed to by its contact address, as with real handsets.

The logic lives in the pure modules; this one only sends what
:class:`~ims.ue.register.RegistrationFlow` returns, feeds back the final
response or timeout, answers in-dialog NOTIFYs (collected in
:attr:`UserEquipment.notifies`) and reports each step through ``on_step``
(the CLI prints them).

Originating requests (:meth:`UserEquipment.send_request`) carry the
Service-Route of the registration as preloaded Route (TS 24.229 §5.1.2A.1)
and P-Preferred-Identity (§5.1.2A.1, RFC 3325).

IPsec (``UeConfig.ipsec``, TS 33.203 §7, TS 24.229 §5.1.1.2): the UE also
listens on a protected client port ``port_uc`` and a protected server port
``port_us`` (UDP and TCP each); Via and Contact carry ``port_us``. The
sec-agree logic is :class:`ims.ue.secagree.UeSecAgree`; this module adds its
headers to every REGISTER, installs and removes the UE's SAs through the
injected :class:`~ims.ipsec.xfrm.XfrmPort` (in the UE's own network
namespace: :class:`~ims.ipsec.xfrm.NetlinkXfrm` acts where the process
runs), and sends every request over the newest SA set, from ``port_uc`` to
the P-CSCF's ``port_ps``. Requests from the P-CSCF arrive on ``port_us``
and the stack answers them from there to their source.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Self

from ims.auth.sqn import SqnArray
from ims.ipsec.keys import XfrmPlan
from ims.ipsec.xfrm import NetlinkXfrm, XfrmError, XfrmPort
from ims.sip.events import Peer, Timeout
from ims.sip.message import Request, Response, build_request, make_response
from ims.sip.transaction import DEFAULT_TIMERS, Timers
from ims.transport.config import ListenSpec
from ims.transport.rules import format_host, host_family
from ims.transport.stack import ClientResult, ServerTransactionHandle, SipStack
from ims.ue.isim import AkaStatus, Isim
from ims.ue.register import (
    Binding,
    ChallengeAnswered,
    Deregistered,
    FlowAction,
    Registered,
    RegistrationFailed,
    RegistrationFlow,
    RegState,
    SendRegister,
    UeState,
    contact_value,
    via_value,
)
from ims.ue.secagree import (
    InstallSas,
    SaAction,
    UeSecAgree,
    UeSecAgreeError,
    offered_pairs,
)
from ims.ue.subscribe import NotifyOutcome, RegSubscription, build_subscribe

__all__ = ["DEFAULT_DOMAIN", "UeConfig", "UserEquipment", "describe"]

DEFAULT_DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
StepCallback = Callable[[str], None]
#: Tries at finding one port free for both UDP and TCP.
BIND_ATTEMPTS = 20
#: Seconds an SA set outlives the closing of its TCP connections (their FIN exchange).
FLOW_CLOSE_GRACE = 0.5


@dataclass(frozen=True, slots=True)
class UeConfig:
    """One emulated UE: ISIM contents and where its P-CSCF is."""

    impi: str
    """Private user identity (digest username)."""
    impu: str
    """Public user identity to register."""
    k: bytes
    """K, 16 octets."""
    opc: bytes
    """OPc, 16 octets (see :meth:`Isim.from_op` for OP)."""
    domain: str = DEFAULT_DOMAIN
    """Home network domain."""
    amf: bytes = b"\x80\x00"
    """AMF of the ISIM (informational)."""
    sqn: int = 0
    """SQN_MS: the highest SQN the ISIM has accepted."""
    pcscf: tuple[str, int] = ("127.0.0.1", 5060)
    """P-CSCF address (bare IP, port)."""
    transport: str = "udp"
    """``udp`` or ``tcp`` toward the P-CSCF."""
    local_host: str = "127.0.0.1"
    """Address the UE binds (port 0: any free port)."""
    expires: int = 600000
    """Requested registration expiry (handsets ask for 600000 s)."""
    password: str | None = None
    """SIP digest password, for MD5 identities."""
    trust_network: bool = False
    """Skip the AUTN check (tests of a wrong RES)."""
    instance_id: str | None = None
    """``+sip.instance``; by default a UUID URN derived from the IMPI."""
    user_agent: str = "ims-ue/0.1"
    """User-Agent header."""
    ipsec: bool = False
    """Sec-agree with IPsec (TS 33.203 §7): Security-Client, own SAs, protected ports."""
    ipsec_alg: str | None = None
    """Offer only this integrity algorithm (None: hmac-sha-1-96 and hmac-md5-96)."""
    ipsec_ealg: str | None = None
    """Offer only this encryption algorithm (None: aes-cbc, des-ede3-cbc and null)."""

    def make_isim(self) -> Isim:
        """The ISIM with these keys and SQN_MS."""
        return Isim(self.impi, self.impu, self.k, self.opc, self.amf,
                    SqnArray.starting_at(self.sqn), self.trust_network)

    def ue_state(self) -> UeState:
        """The identities the REGISTER builders need."""
        instance = self.instance_id or f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, self.impi)}"
        return UeState(self.impi, self.impu, self.domain, instance, self.user_agent,
                       self.password)


def _tag() -> str:
    return secrets.token_hex(6)


def describe(action: FlowAction) -> list[str]:
    """Human-readable lines for one flow action (the CLI's step log)."""
    if isinstance(action, SendRegister):
        req = action.request
        auth = req.get("authorization") or ""
        kind = "with credentials" if 'response=""' not in auth else "empty credentials"
        return [f"-> REGISTER {req.uri} (CSeq {req.cseq.seq}, Expires {req.get('expires')}, "
                f"{kind})"]
    if isinstance(action, ChallengeAnswered):
        return _describe_challenge(action)
    if isinstance(action, Registered):
        b = action.binding
        return [f"<- 200 OK: registered {b.contact}, expires {b.expires} s",
                f"   Service-Route: {', '.join(b.service_routes) or '(none)'}",
                f"   P-Associated-URI: {', '.join(b.associated_uris) or '(none)'}"]
    if isinstance(action, Deregistered):
        return ["<- 200 OK: deregistered"]
    return [f"!! registration failed: {action.reason}"]


def _describe_challenge(action: ChallengeAnswered) -> list[str]:
    answer = action.answer
    if answer.outcome is None:
        return [f"<- 401 Unauthorized: algorithm {answer.algorithm}, answered with the password"]
    lines = [f"<- 401 Unauthorized: algorithm {answer.algorithm}, "
             f"RAND={(answer.rand or b'').hex()} AUTN={(answer.autn or b'').hex()}"]
    outcome = answer.outcome
    if not outcome.checked:
        lines.append("   AUTN check skipped (trust_network)")
    elif outcome.status is AkaStatus.SUCCESS:
        lines.append(f"   AUTN check: OK (SQN {outcome.sqn:#x})" if outcome.sqn is not None
                     else "   AUTN check: OK")
    elif outcome.status is AkaStatus.SYNC_FAILURE:
        lines.append(f"   AUTN check: synchronisation failure, AUTS={(outcome.auts or b'').hex()}")
    else:
        lines.append("   AUTN check: MAC failure (network not authentic), reporting it")
    if outcome.res is not None:
        lines.append(f"   RES={outcome.res.hex()} CK={(outcome.ck or b'').hex()} "
                     f"IK={(outcome.ik or b'').hex()}")
    return lines


class UserEquipment:
    """One emulated UE with its own SIP stack (see the module docstring)."""

    def __init__(
        self, config: UeConfig, *, on_step: StepCallback | None = None,
        timers: Timers = DEFAULT_TIMERS, xfrm: XfrmPort | None = None,
    ) -> None:
        self.config = config
        self.pairs = offered_pairs(config.ipsec_alg, config.ipsec_ealg) if config.ipsec else ()
        self.xfrm: XfrmPort | None = xfrm if xfrm is not None or not config.ipsec \
            else NetlinkXfrm()
        self.sec: UeSecAgree | None = None
        self.ports: tuple[int, ...] = ()
        self.isim = config.make_isim()
        self.ue = config.ue_state()
        self.on_step = on_step
        self.timers = timers
        self.stack = self._new_stack(0)
        self.notifies: asyncio.Queue[NotifyOutcome] = asyncio.Queue()
        self.requests: asyncio.Queue[Request] = asyncio.Queue()
        self.subscription: RegSubscription | None = None
        self._flow: RegistrationFlow | None = None
        self._challenge: Response | None = None
        self._cseq = 0
        #: SA sets whose TCP connections are closing: removed when the grace is over.
        self._retiring: dict[str, tuple[asyncio.TimerHandle, SaAction]] = {}

    # -- life cycle -------------------------------------------------------------
    def _new_stack(self, port: int, *protected: int) -> SipStack:
        host = self.config.local_host
        specs = [ListenSpec("udp", host, port), ListenSpec("tcp", host, port)]
        specs += [ListenSpec(t, host, p, protected=True) for p in protected for t in ("udp", "tcp")]
        return SipStack(self, specs, timers=self.timers)

    def _free_ports(self, count: int) -> list[int]:
        """``count`` distinct UDP ports free right now (probed by binding port 0)."""
        family = socket.AF_INET6 if ":" in self.config.local_host else socket.AF_INET
        probes = [socket.socket(family, socket.SOCK_DGRAM) for _ in range(count)]
        try:
            for probe in probes:
                probe.bind((self.config.local_host, 0))
            return [int(probe.getsockname()[1]) for probe in probes]
        finally:
            for probe in probes:
                probe.close()

    async def _open_sockets(self) -> None:
        """UDP and TCP on one port each (ordinary, and with IPsec port_uc and port_us)."""
        for attempt in range(BIND_ATTEMPTS):
            self.ports = tuple(self._free_ports(3 if self.config.ipsec else 1))
            self.stack = self._new_stack(*self.ports)
            self.stack.transport.gate = self._gate
            try:
                await self.stack.start()
            except OSError:
                if attempt == BIND_ATTEMPTS - 1:
                    raise
                continue
            return

    async def start(self) -> None:
        """Open the UE's sockets: UDP and TCP on one port (plus port_uc, port_us with IPsec)."""
        await self._open_sockets()
        if self.config.ipsec:
            self.sec = UeSecAgree(
                ue_host=self.config.local_host, pcscf_host=self.config.pcscf[0],
                port_uc=self.ports[1], port_us=self.ports[2], pairs=self.pairs,
                owner=f"ue:{self.config.impi}")
        self._flow = RegistrationFlow(
            self.ue, self.isim, contact=self.contact, transport=self.config.transport,
            call_id=f"{secrets.token_hex(10)}@{self.config.local_host}", from_tag=_tag(),
        )

    async def stop(self) -> None:
        """Close the sockets, then remove our SAs (no deregistration).

        In that order, so that the FIN exchange of our TCP connections still
        travels inside ESP.
        """
        connections = len(self.stack.transport.connections)
        try:
            await self.stack.stop()
            if self._retiring or (connections and self.sec is not None and self.sec.live_plans):
                await asyncio.sleep(FLOW_CLOSE_GRACE)  # the FIN exchange, inside ESP
        finally:
            for owner in list(self._retiring):
                self._retire(owner)
            if self.sec is not None:
                self._apply(self.sec.close(), closing=False)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- addresses -------------------------------------------------------------
    @property
    def local(self) -> tuple[str, int]:
        """Our Via/Contact address: port_us with IPsec (TS 24.229 §5.1.1.2), else the listener."""
        if self.sec is not None:
            return self.config.local_host, self.sec.port_us
        return self.stack.transport.local_address(self.config.transport,
                                                  host_family(self.config.local_host))

    def _gate(self, peer: Peer) -> bool:
        """Admit on a protected port only the P-CSCF's flows of a live SA set (TS 33.203 §7.1).

        Into port_uc from port_ps (responses), into port_us from port_pc
        (requests); the kernel's policies enforce the same with real ESP.
        """
        sec = self.sec
        if sec is None:
            return False
        flows = {(p.pcscf_host, p.port_ps, p.port_uc) for p in sec.live_plans} | {
            (p.pcscf_host, p.port_pc, p.port_us) for p in sec.live_plans}
        return (peer.host, peer.port, peer.local_port) in flows

    @property
    def ipsec_plan(self) -> XfrmPlan | None:
        """The SA set requests go over now (None without IPsec or before the 401)."""
        sa_set = self.sec.sending if self.sec is not None else None
        return sa_set.plan if sa_set is not None else None

    @property
    def contact(self) -> str:
        """Our contact URI (``;transport=tcp`` over TCP)."""
        host, port = self.local
        user = self.config.impi.split("@", 1)[0]
        suffix = ";transport=tcp" if self.config.transport == "tcp" else ""
        return f"sip:{user}@{format_host(host)}:{port}{suffix}"

    @property
    def pcscf(self) -> Peer:
        """The P-CSCF as a transport peer: port_uc -> port_ps over the SAs when there are some."""
        plan = self.ipsec_plan
        if plan is not None:
            return Peer(self.config.transport, plan.pcscf_host, plan.port_ps,
                        local_port=plan.port_uc)
        host, port = self.config.pcscf
        return Peer(self.config.transport, host, port)

    @property
    def flow(self) -> RegistrationFlow:
        """The registration state machine (after :meth:`start`)."""
        if self._flow is None:
            raise RuntimeError("UserEquipment.start() was not called")
        return self._flow

    @property
    def binding(self) -> Binding | None:
        """The current registration, if any."""
        return self.flow.binding

    def _step(self, text: str) -> None:
        if self.on_step is not None:
            self.on_step(text)

    # -- registration ------------------------------------------------------------
    async def register(self, expires: int | None = None) -> Registered | RegistrationFailed:
        """Initial registration (TS 24.229 §5.1.1.2); the final flow action."""
        actions = self.flow.register(self.config.expires if expires is None else expires)
        result = await self._drive(actions)
        if isinstance(result, Deregistered):
            return RegistrationFailed("unexpected deregistration")
        return result

    async def reregister(self, expires: int | None = None) -> Registered | RegistrationFailed:
        """Re-registration (TS 24.229 §5.1.1.4): same Call-ID, next CSeq."""
        return await self.register(expires)

    async def deregister(self) -> Deregistered | RegistrationFailed:
        """Deregistration with Expires: 0 (TS 24.229 §5.1.1.6)."""
        result = await self._drive(self.flow.deregister())
        return RegistrationFailed("unexpected 200 to the deregistration") \
            if isinstance(result, Registered) else result

    async def _drive(
        self, actions: list[FlowAction]
    ) -> Registered | Deregistered | RegistrationFailed:
        while True:
            pending: SendRegister | None = None
            for action in actions:
                for line in describe(action):
                    self._step(line)
                if isinstance(action, Registered | Deregistered | RegistrationFailed):
                    return action
                if isinstance(action, SendRegister):
                    pending = action
            if pending is None:
                return RegistrationFailed("the registration flow stopped without a result")
            if self.sec is not None:
                try:
                    self._secure(pending.request, actions)
                except (UeSecAgreeError, XfrmError, ValueError) as error:
                    actions = self.flow.abort(f"sec-agree: {error}")
                    continue
            result = await self.stack.send_request(pending.request, self.pcscf)
            actions = self._feed(result)

    def _secure(self, req: Request, actions: list[FlowAction]) -> None:
        """Sec-agree for one REGISTER (TS 24.229 §5.1.1.2, §5.1.1.5.1; TS 33.203 §7.1).

        After a 401 the new SA set is installed first (the REGISTER goes over
        it); a new transaction gets fresh SPIs. Then the headers are added.

        Raises:
            UeSecAgreeError: the 401's Security-Server is unusable.
            XfrmError: the kernel refused the SAs.
            ValueError: IK or CK not 128 bits.
        """
        assert self.sec is not None
        answered = [a for a in actions if isinstance(a, ChallengeAnswered)]
        outcome = answered[-1].answer.outcome if answered else None
        if not answered:
            self.sec.start_register()
        elif outcome is not None and outcome.ck is not None and outcome.ik is not None \
                and self._challenge is not None:
            self._apply(self.sec.on_challenge(self._challenge, outcome.ik, outcome.ck))
        for name, value in self.sec.headers():
            req.add(name, value)

    def _apply(self, actions: list[SaAction], closing: bool = True) -> None:
        """Carry out SA actions on the injected XfrmPort (TS 33.203 §7.1, §7.4).

        A set that goes first closes its TCP connections, and its SAs stay
        :data:`FLOW_CLOSE_GRACE` seconds longer for their FIN exchange.
        """
        for action in actions:
            sa_set = action.sa_set
            if self.xfrm is None:
                continue
            if not isinstance(action, InstallSas) and closing and self._close_flows(sa_set.plan):
                self._retiring[sa_set.owner] = (asyncio.get_running_loop().call_later(
                    FLOW_CLOSE_GRACE, self._retire, sa_set.owner), action)
                continue
            if isinstance(action, InstallSas):
                plan = sa_set.plan
                self._step(f"   SAs installed: port_uc {plan.port_uc} port_us {plan.port_us} "
                           f"<-> port_pc {plan.port_pc} port_ps {plan.port_ps}, "
                           f"spi_uc {plan.spi_uc} spi_us {plan.spi_us} spi_pc {plan.spi_pc} "
                           f"spi_ps {plan.spi_ps}, {plan.alg}/{plan.ealg}")
                self.xfrm.apply(sa_set.spec)
            else:
                self.xfrm.remove(sa_set.owner)
                self._step(f"   SAs removed: spi_uc {sa_set.plan.spi_uc} "
                           f"spi_us {sa_set.plan.spi_us}")

    def _retire(self, owner: str) -> None:
        """A set whose TCP connections were closed goes now."""
        handle, action = self._retiring.pop(owner)
        handle.cancel()
        self._apply([action], closing=False)

    def _close_flows(self, plan: XfrmPlan) -> int:
        """Close our TCP connections of ``plan``'s flows; how many."""
        return self.stack.transport.close_flows(
            plan.pcscf_host, (plan.port_uc, plan.port_us), (plan.port_ps, plan.port_pc))

    def _feed(self, result: ClientResult) -> list[FlowAction]:
        self._challenge = result if isinstance(result, Response) and result.status == 401 \
            else None
        if self.sec is not None and (not isinstance(result, Response) or (
                result.status >= 200 and result.status != 401)):
            status = result.status if isinstance(result, Response) else 408
            deregistering = self.flow.state is RegState.DEREGISTERING
            self._apply(self.sec.on_final(status, deregistering))
        if isinstance(result, Response):
            return self.flow.on_response(result)
        reason = "transaction timeout" if isinstance(result, Timeout) else str(result)
        return self.flow.on_timeout(reason)

    # -- reg-event ----------------------------------------------------------------
    async def subscribe_reg(self, expires: int = 600000) -> ClientResult:
        """SUBSCRIBE to our own ``reg`` event (TS 24.229 §5.1.1.3); the final result."""
        binding = self.binding
        routes = binding.service_routes if binding is not None else ()
        sub = self.subscription or RegSubscription(
            f"{secrets.token_hex(10)}@{self.config.local_host}", _tag())
        self.subscription = sub
        host, port = self.local
        self._cseq += 1
        req = build_subscribe(
            self.ue, service_routes=routes, call_id=sub.call_id, from_tag=sub.local_tag,
            cseq=self._cseq, branch=f"z9hG4bK{secrets.token_hex(8)}", contact=self.contact,
            transport=self.config.transport, host=format_host(host), port=port, expires=expires,
            to_tag=sub.remote_tag,
        )
        self._step(f"-> SUBSCRIBE {req.uri} (Event: reg, Expires {expires})")
        result = await self.stack.send_request(req, self.pcscf)
        if isinstance(result, Response):
            self._step(f"<- {result.status} {result.reason} to SUBSCRIBE")
            sub.on_response(result)
        return result

    # -- other requests -------------------------------------------------------------
    async def send_request(
        self, method: str, target: str, *, body: bytes = b"", content_type: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> ClientResult:
        """An out-of-dialog request (MESSAGE, OPTIONS ...) from the registered UE.

        Route is preloaded with the Service-Route (TS 24.229 §5.1.2A.1).
        """
        binding = self.binding
        routes = binding.service_routes if binding is not None else ()
        host, port = self.local
        fields = [
            ("Via", via_value(self.config.transport, format_host(host), port,
                              f"z9hG4bK{secrets.token_hex(8)}")),
            ("Max-Forwards", "70"),
            *(("Route", route) for route in routes),
            ("From", f"<{self.config.impu}>;tag={_tag()}"),
            ("To", f"<{target}>"),
            ("Call-ID", f"{secrets.token_hex(10)}@{host}"),
            ("CSeq", f"1 {method}"),
            ("Contact", contact_value(self.contact, self.ue.instance_id, None)),
            ("P-Preferred-Identity", f"<{self.config.impu}>"),
            ("User-Agent", self.config.user_agent),
            *headers,
        ]
        if content_type is not None:
            fields.append(("Content-Type", content_type))
        req = build_request(method, target, fields, body)
        self._step(f"-> {method} {target}")
        return await self.stack.send_request(req, self.pcscf)

    # -- TransactionUser --------------------------------------------------------------
    def on_request(self, req: Request, txn: ServerTransactionHandle) -> None:
        """NOTIFY for our reg subscription is checked; MESSAGE/OPTIONS answered 200."""
        if req.method == "NOTIFY":
            self._on_notify(req, txn)
        elif req.method in ("MESSAGE", "OPTIONS"):
            self.stack.send_response(txn, make_response(req, 200, to_tag=_tag()))
            self.requests.put_nowait(req)
        else:
            self.stack.send_response(txn, make_response(req, 501, to_tag=_tag()))

    def _on_notify(self, req: Request, txn: ServerTransactionHandle) -> None:
        sub = self.subscription
        if sub is None:
            outcome = NotifyOutcome(481, "Subscription Does Not Exist")
        else:
            outcome = sub.on_notify(req)
        self.stack.send_response(txn, make_response(req, outcome.status, outcome.reason))
        info = outcome.reginfo
        version = f"version {info.version} {info.state}" if info is not None else "no reginfo"
        self._step(f"<- NOTIFY reg ({version}) answered {outcome.status}")
        for problem in outcome.problems:
            self._step(f"   problem: {problem}")
        self.notifies.put_nowait(outcome)

    def on_ack(self, ack: Request, peer: Peer) -> None:
        """Nothing to do: the UE sends no 2xx to INVITE."""

    def on_cancel(self, cancel: Request, invite_txn: ServerTransactionHandle) -> None:
        """Nothing to do: INVITEs are answered at once with 501."""

    def on_stray_response(self, resp: Response, peer: Peer) -> None:
        """Late retransmissions of final responses: ignored."""

