"""Fast path of the store for the per-registration hot commands (MAR, AIR; TS 29.228 §6.3, TS 29.272 §5.2.3).

Theory of operation
-------------------
The ORM path of :class:`hss.store.Store` builds whole identity graphs
(IMPI -> implicit sets -> IMPUs -> profiles -> registrations) with one
SELECT per lazy load; that was 80 % of a MAR's CPU (``bench/README.md``).
The functions here answer the same questions with SQLAlchemy Core on a plain
connection of the same engine, no ORM objects:

* :meth:`FastPath.impu_context`: one joined SELECT from an IMPU to its owner
  IMPI and every member of its implicit registration set with its
  registration row: what MAR needs to check ownership (§6.1.1.1 steps 1-2)
  and to decide whether the S-CSCF must be recorded;
* :meth:`FastPath.allocate`: the SQN allocation of
  :meth:`hss.store.Store.allocate_sqns` (one atomic ``UPDATE ... RETURNING``,
  TS 33.102 Annex C.1) that also returns K, OPc and AMF, so an AIR is one
  statement. Its WHERE clause only matches AKA subscriptions with keys and
  SEQ room; when nothing matches the caller falls back to the ORM path,
  which raises the exact error (unknown, wrong scheme, SQN exhausted)
  without consuming an SQN;
* :meth:`FastPath.assign`: MAR's S-CSCF record (:meth:`Store.set_registration`
  to NOT_REGISTERED over the implicit set) as one ``UPDATE`` of the rows
  the context saw and one ``INSERT`` of the missing ones. A concurrent
  insert of the same row fails the unique key; the caller then falls back
  to the store, which locks the set.

Other writes stay in :class:`hss.store.Store`. Database
failures become :class:`StoreUnavailable`, as in the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Engine,
    Executable,
    Integer,
    Update,
    bindparam,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import aliased

from hss.identities import AuthKeys, ScscfAssignment, normalize_impu
from hss.models import (
    AuthScheme,
    ImplicitRegistrationSet,
    PrivateIdentity,
    PublicIdentity,
    Registration,
    RegistrationState,
    StoreUnavailable,
    Subscription,
    ValidationError,
)
from hss.store import SEQ_MAX, Store
from ims.auth.sqn import IND_BITS, make_sqn

__all__ = ["Allocation", "FastPath", "ImpuContext", "MemberRegistration", "fast_path_for"]

log = logging.getLogger(__name__)

_IND_SHIFT = literal_column(str(IND_BITS), Integer)
_NOT_REGISTERED = RegistrationState.NOT_REGISTERED.value


@dataclass(frozen=True, slots=True)
class MemberRegistration:
    """One IMPU of an implicit set with its stored registration (None: no row)."""

    impu: str
    state: str | None
    impi_id: int | None
    scscf: ScscfAssignment | None
    impu_id: int


@dataclass(frozen=True, slots=True)
class ImpuContext:
    """An IMPU, its owner IMPI and its implicit set's registrations (MAR's view)."""

    impu: str
    impi: str
    impi_id: int
    members: tuple[MemberRegistration, ...]

    @property
    def state(self) -> RegistrationState:
        """The IMPU's registration state (no row: NOT_REGISTERED)."""
        own = next(member for member in self.members if member.impu == self.impu)
        return RegistrationState(own.state or _NOT_REGISTERED)

    def assigned_to(self, scscf: ScscfAssignment) -> bool:
        """Whether every member is already NOT_REGISTERED with this IMPI and ``scscf``.

        Then the MAR's S-CSCF write (TS 29.228 §6.3.1) would change nothing.
        """
        return all(member.state == _NOT_REGISTERED and member.impi_id == self.impi_id
                   and member.scscf == scscf for member in self.members)


@dataclass(frozen=True, slots=True)
class Allocation:
    """Keys and freshly allocated SQNs of one subscription."""

    keys: AuthKeys
    sqns: tuple[int, ...]


class CoreAccess:
    """Core-SQL connections on the store's engines, shared by the fast paths.

    Args:
        store: the store whose engine (and pool) and clock are used.
        clock: overrides the store's clock (tests).
    """

    def __init__(self, store: Store, clock: Callable[[], datetime] | None = None) -> None:
        self._engine: Engine = store.engine
        self._write_engine: Engine = store.engine.execution_options(hss_write=True)
        self._clock: Callable[[], datetime] = clock or store._clock

    @contextmanager
    def _connection(self, write: bool = False) -> Iterator[Connection]:
        """One transaction; a database failure becomes StoreUnavailable, never 'unknown'."""
        try:
            with (self._write_engine if write else self._engine).begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            log.error("subscriber store failure: %s", exc)
            raise StoreUnavailable(str(exc)) from exc


class FastPath(CoreAccess):
    """Core-SQL reads and the SQN allocation for MAR and AIR (module docstring).

    Args:
        store: the store whose engine (and pool) is used.
    """

    def impu_context(self, impu: str) -> ImpuContext | None:
        """The IMPU's owner and implicit set registrations; None when not provisioned."""
        try:
            key = normalize_impu(impu)
        except ValidationError:
            return None
        with self._connection() as connection:
            rows = connection.execute(_CONTEXT, {"impu": key}).all()
        if not rows:
            return None
        members = tuple(MemberRegistration(row.impu, row.state, row.reg_impi_id,
                                           _scscf(row.scscf_name, row.scscf_host, row.scscf_realm),
                                           row.impu_id)
                        for row in rows)
        return ImpuContext(key, rows[0].impi, rows[0].impi_id, members)

    def assign(self, context: ImpuContext, scscf: ScscfAssignment) -> bool:
        """Set the context's implicit set NOT_REGISTERED with its IMPI and ``scscf``.

        Returns:
            False when another request inserted a registration row first
            (nothing written: the caller uses :meth:`Store.set_registration`).
        """
        values = {"state": _NOT_REGISTERED, "impi_id": context.impi_id, "scscf_name": scscf.name,
                  "scscf_host": scscf.host, "scscf_realm": scscf.realm,
                  "updated_at": self._clock()}
        stored = [m.impu_id for m in context.members if m.state is not None]
        missing = [{"impu_id": m.impu_id, **values} for m in context.members if m.state is None]
        try:
            with self._write_engine.begin() as connection:
                if stored:
                    connection.execute(_ASSIGN, {**_renamed(values), "ids": stored})
                if missing:
                    connection.execute(insert(Registration), missing)
        except IntegrityError:
            log.debug("registration rows of %s inserted concurrently", context.impu)
            return False
        except SQLAlchemyError as exc:
            log.error("subscriber store failure: %s", exc)
            raise StoreUnavailable(str(exc)) from exc
        return True

    def allocate(self, ind: int, count: int, *, imsi: str | None = None,
                 impi: str | None = None) -> Allocation | None:
        """Allocate ``count`` SQNs with ``ind`` for an AKA subscription; its keys too.

        The subscription is given by ``imsi`` or by an AKA ``impi``. One
        ``UPDATE ... RETURNING`` as in :meth:`Store.allocate_sqns`. None when
        nothing matched (unknown, no AKA keys, SEQ exhausted): nothing was
        allocated, and the caller's ORM path names the error.
        """
        values: dict[str, int | str] = {"by_ind": ind, "by_count": count, "by_max_seq": SEQ_MAX - count}
        if impi is not None:
            statement, values["by_impi"] = _BY_IMPI, _impi_key(impi)
        elif imsi is not None:
            statement, values["by_imsi"] = _BY_IMSI, imsi
        else:
            raise ValueError("allocate needs an IMSI or an IMPI")
        with self._connection(write=True) as connection:
            row = connection.execute(statement, values).one_or_none()
        if row is None:
            return None
        last = row.sqn >> IND_BITS
        sqns = tuple(make_sqn(last - count + 1 + i, ind) for i in range(count))
        return Allocation(AuthKeys(row.imsi, row.k, row.opc, row.amf), sqns)


def fast_path_for(store: object) -> FastPath | None:
    """A :class:`FastPath` over ``store`` when it is a SQL :class:`Store`, else None."""
    return FastPath(store) if isinstance(store, Store) else None


def _scscf(name: str | None, host: str | None, realm: str | None) -> ScscfAssignment | None:
    return None if name is None else ScscfAssignment(name, host, realm)


def _renamed(values: dict[str, object]) -> dict[str, object]:
    """Bind names of :data:`_ASSIGN` (``a_`` + column: a bindparam may not be a column name)."""
    return {f"a_{name}": value for name, value in values.items()}


def _impi_key(impi: str) -> str:
    """The stored form of an IMPI: the realm lower-cased (as ``hss.queries.find_impi``)."""
    user, _, realm = impi.partition("@")
    return f"{user}@{realm.lower()}"


def _allocation(which: ColumnElement[bool]) -> Update:
    """SQN allocation with bound ``ind``, ``count`` and ``max_seq`` (built once, cached)."""
    seq = Subscription.sqn.bitwise_rshift(_IND_SHIFT)
    return (update(Subscription)
            .where(which, seq <= bindparam("by_max_seq", type_=BigInteger),
                   Subscription.k.is_not(None), Subscription.opc.is_not(None))
            .values(sqn=(seq + bindparam("by_count", type_=BigInteger))
                    .bitwise_lshift(_IND_SHIFT).bitwise_or(bindparam("by_ind", type_=BigInteger)))
            .returning(Subscription.imsi, Subscription.sqn, Subscription.k, Subscription.opc,
                       Subscription.amf))


_OWNER = (select(PrivateIdentity.subscription_id)
          .where(PrivateIdentity.impi == bindparam("by_impi"),
                 PrivateIdentity.auth_scheme == AuthScheme.AKA.value)
          .scalar_subquery())
_BY_IMSI = _allocation(Subscription.imsi == bindparam("by_imsi"))
_BY_IMPI = _allocation(Subscription.id == _OWNER)


def _context_statement() -> Executable:
    target = aliased(PublicIdentity)
    member = aliased(PublicIdentity)
    return (select(member.impu, member.id.label("impu_id"), PrivateIdentity.impi, PrivateIdentity.id.label("impi_id"),
                   Registration.state, Registration.impi_id.label("reg_impi_id"),
                   Registration.scscf_name, Registration.scscf_host, Registration.scscf_realm)
            .select_from(target)
            .join(ImplicitRegistrationSet, ImplicitRegistrationSet.id == target.irs_id)
            .join(PrivateIdentity, PrivateIdentity.id == ImplicitRegistrationSet.impi_id)
            .join(member, member.irs_id == target.irs_id)
            .outerjoin(Registration, Registration.impu_id == member.id)
            .where(target.impu == bindparam("impu"))
            .order_by(member.position))


_CONTEXT = _context_statement()
_ASSIGN = (update(Registration)
           .where(Registration.impu_id.in_(bindparam("ids", expanding=True)))
           .values({column: bindparam(f"a_{column}") for column in (
               "state", "impi_id", "scscf_name", "scscf_host", "scscf_realm", "updated_at")}))
