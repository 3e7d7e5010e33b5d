"""The UAR/SAR/LIR fast path (hss.fastpath_cx) answers as the ORM path does, on SQLite and PostgreSQL.

Two identical subscribers, A and B, live in one store: every step is applied
to A through the ORM path and to B through the fast path, and the answers
and stored registrations must be equal once A's identities read as B's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from hss import cx as hcx
from hss.fastpath_cx import CxFastPath
from hss.identities import (
    ApplicationServerSpec,
    FilterCriteriaSpec,
    ImpuSpec,
    ScscfAssignment,
    ServiceProfileSpec,
    SubscriberSpec,
    TriggerSpec,
)
from hss.models import DefaultHandling, RegistrationState, SptKind
from hss.store import Store
from ims.diameter import cx
from ims.diameter.cx import ServerAssignmentType as Sat
from ims.diameter.cx import UserAuthorizationType as Uat
from ims.diameter.results import Envelope, Origin

DOMAIN = "ims.mnc001.mcc001.3gppnetwork.org"
A, B = ("001010000000001", "10000001"), ("001010000000002", "10000002")
K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"
SCSCF = f"sip:scscf.{DOMAIN}:6060"
ORIGIN = Origin(f"hss.{DOMAIN}", DOMAIN)
ENV = Envelope("scscf;1;1", f"scscf.{DOMAIN}", DOMAIN, DOMAIN)


def impi(who: tuple[str, str]) -> str:
    return f"{who[0]}@{DOMAIN}"


def impu(who: tuple[str, str]) -> str:
    return f"sip:+{who[1]}@{DOMAIN}"


def as_b(value: object) -> str:
    return repr(value).replace(A[0], B[0]).replace(A[1], B[1])


@pytest.fixture
def fast(store: Store) -> CxFastPath:
    store.add_application_server(ApplicationServerSpec(
        "tas", "sip:tas.example.org:5070", DefaultHandling.SESSION_TERMINATED, "svc",
        include_register_request=True))
    store.add_service_profile(ServiceProfileSpec("gold", (
        FilterCriteriaSpec(20, "tas", (TriggerSpec(SptKind.METHOD, "REGISTER",
                                                   registration_type=1),)),
        FilterCriteriaSpec(10, "tas", (
            TriggerSpec(SptKind.METHOD, "INVITE"),
            TriggerSpec(SptKind.SESSION_CASE, "0", group=1),
            TriggerSpec(SptKind.SIP_HEADER, "urn%3Aurn-7", header="Accept-Contact",
                        negated=True, group=1)), profile_part_indicator=0),
        FilterCriteriaSpec(30, "tas"),
    )))
    for imsi, msisdn in (A, B):
        store.add_subscriber(SubscriberSpec(imsi=imsi, k=K, opc=OPC, msisdn=msisdn, impus=(
            ImpuSpec(f"sip:{imsi}@{DOMAIN}", barred=True),
            ImpuSpec(f"sip:+{msisdn}@{DOMAIN}", service_profile="gold"),
            ImpuSpec(f"tel:+{msisdn}"))))
    return CxFastPath(store)


def uar(who: tuple[str, str], kind: Uat) -> Callable[[Store, CxFastPath | None], object]:
    request = cx.Uar(ENV, impi(who), impu(who), DOMAIN, kind)
    return lambda store, fast: hcx.handle_uar(store, request, ORIGIN, fast)


def lir(who: tuple[str, str]) -> Callable[[Store, CxFastPath | None], object]:
    request = cx.Lir(ENV, impu(who))
    return lambda store, fast: hcx.handle_lir(store, request, ORIGIN, fast)


def sar(who: tuple[str, str], kind: Sat, server: str = SCSCF,
        available: cx.UserDataAlreadyAvailable = cx.UserDataAlreadyAvailable.USER_DATA_NOT_AVAILABLE,
        ) -> Callable[[Store, CxFastPath | None], object]:
    request = cx.Sar(ENV, server, kind, (impu(who),), impi(who), available)
    return lambda store, fast: hcx.handle_sar(store, request, ORIGIN, None, fast)


def challenged(who: tuple[str, str]) -> Callable[[Store, CxFastPath | None], object]:
    """What MAR writes: the set NOT_REGISTERED with the S-CSCF (creates the rows)."""
    scscf = ScscfAssignment(SCSCF, ENV.origin_host, ENV.origin_realm)
    return lambda store, fast: store.set_registration(
        impu(who), RegistrationState.NOT_REGISTERED, impi=impi(who), scscf=scscf)


STEPS = [
    "uar", "uar-cap", "uar-dereg", "lir", "sar-reg", "uar", "lir", "sar-rereg-known",
    "sar-rereg", "sar-reg-other", "uar-dereg", "sar-dereg", "uar", "lir", "mar", "sar-reg",
    "sar-reg", "uar", "lir", "sar-unreg", "uar", "lir", "mar", "sar-reg",
]


def step(name: str, who: tuple[str, str]) -> Callable[[Store, CxFastPath | None], object]:
    steps: dict[str, Callable[[], Callable[[Store, CxFastPath | None], object]]] = {
        "uar": lambda: uar(who, Uat.REGISTRATION),
        "uar-cap": lambda: uar(who, Uat.REGISTRATION_AND_CAPABILITIES),
        "uar-dereg": lambda: uar(who, Uat.DE_REGISTRATION),
        "lir": lambda: lir(who),
        "mar": lambda: challenged(who),
        "sar-reg": lambda: sar(who, Sat.REGISTRATION),
        "sar-reg-other": lambda: sar(who, Sat.REGISTRATION, "sip:other.example"),
        "sar-rereg": lambda: sar(who, Sat.RE_REGISTRATION),
        "sar-rereg-known": lambda: sar(
            who, Sat.RE_REGISTRATION,
            available=cx.UserDataAlreadyAvailable.USER_DATA_ALREADY_AVAILABLE),
        "sar-dereg": lambda: sar(who, Sat.USER_DEREGISTRATION),
        "sar-unreg": lambda: sar(who, Sat.UNREGISTERED_USER),
    }
    return steps[name]()


def test_lookup_matches_lookup_impu(store: Store, fast: CxFastPath) -> None:
    for name in ("uar", "mar", "sar-reg", "sar-dereg"):
        step(name, A)(store, None)
        for identity in (impu(A), f"tel:+{A[1]}", f"sip:{A[0]}@{DOMAIN.upper()}"):
            context = fast.lookup(identity)
            assert context is not None
            assert context.lookup == store.lookup_impu(identity)
    assert fast.lookup(f"sip:nobody@{DOMAIN}") is None
    assert fast.lookup("not a uri") is None


def test_every_step_answers_and_writes_as_the_orm_path(store: Store, fast: CxFastPath) -> None:
    for number, name in enumerate(STEPS):
        slow = step(name, A)(store, None)
        quick = step(name, B)(store, fast)
        assert as_b(slow) == repr(quick), (number, name)
        assert as_b(store.lookup_impu(impu(A))) == repr(store.lookup_impu(impu(B))), (number, name)


@pytest.mark.parametrize("user, public", [
    (f"nobody@{DOMAIN}", impu(A)), (impi(A), f"sip:nobody@{DOMAIN}"), (impi(A), impu(B)),
    (impi(A).upper(), impu(A)),
])
def test_error_cases_fall_back_to_the_orm_answer(store: Store, fast: CxFastPath,
                                                 user: str, public: str) -> None:
    for kind in Uat:
        request = cx.Uar(ENV, user, public, DOMAIN, kind)
        assert hcx.handle_uar(store, request, ORIGIN, fast) == hcx.handle_uar(store, request, ORIGIN)
    request_lir = cx.Lir(ENV, public)
    assert hcx.handle_lir(store, request_lir, ORIGIN, fast) == hcx.handle_lir(store, request_lir, ORIGIN)
    for kind in (Sat.REGISTRATION, Sat.RE_REGISTRATION):
        request_sar = cx.Sar(ENV, SCSCF, kind, (public,), user)
        assert (hcx.handle_sar(store, request_sar, ORIGIN, None, fast)
                == hcx.handle_sar(store, request_sar, ORIGIN))


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        sql = str(args[2]).lstrip().split(None, 1)[0].upper()
        if sql in ("SELECT", "UPDATE", "INSERT", "DELETE"):
            seen.append(sql)

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


def test_statement_counts(store: Store, fast: CxFastPath) -> None:
    step("mar", B)(store, None)
    with statements(store) as seen:
        step("uar", B)(store, fast)
    assert seen == ["SELECT"]
    with statements(store) as seen:
        step("lir", B)(store, fast)
    assert seen == ["SELECT"]
    with statements(store) as seen:
        step("sar-reg", B)(store, fast)
    assert seen == ["SELECT", "UPDATE", "SELECT", "SELECT"]
    with statements(store) as seen:
        step("sar-rereg-known", B)(store, fast)
    assert seen == ["SELECT", "SELECT"]
