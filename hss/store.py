"""The HSS subscriber store over SQLAlchemy (TS 23.008 Release 17; TS 33.102 Annex C for SQN).

Theory of operation
-------------------
:class:`Store` wraps one SQLAlchemy engine: an SQLite file by default
(WAL journal, foreign keys on, writers serialised by ``BEGIN IMMEDIATE``) or
any other SQLAlchemy URL (PostgreSQL for a multi-host core). The schema is
created and upgraded only by the Alembic migrations in ``hss/migrations``
(:meth:`Store.upgrade`), never by ``metadata.create_all``.

Every public method runs in its own transaction and returns frozen records
from :mod:`hss.identities`, never ORM objects. Errors are typed:
:class:`NotFoundError` alone means "user unknown"; :class:`ValidationError`
and :class:`ConflictError` name the field; every database failure becomes
:class:`StoreUnavailable`, an infrastructure error.

SQN allocation is the heart of the AuC (TS 33.102 Annex C.1): two HSS
workers must never hand out the same SQN. :meth:`Store.allocate_sqns` is one
statement, ``UPDATE subscription SET sqn = ((sqn >> 5) + n) << 5 | ind
WHERE imsi = :imsi RETURNING sqn``, so the read and the write of SQN_HE are
one atomic step on every dialect (SQLite >= 3.35 and PostgreSQL both have
RETURNING). :meth:`Store.resync_sqn` is likewise a conditional UPDATE that
only moves SQN_HE forward past SQN_MS.

The store is split by concern: engine and migration setup in
:mod:`hss.engine`, the queries its methods share in :mod:`hss.queries`, the
specs, validation and records in :mod:`hss.identities`; the names callers
import from here (``MIGRATIONS``, ``alembic_config``, the errors) still are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime

from alembic import command
from alembic.migration import MigrationContext
from sqlalchemy import Integer, delete, literal_column, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from hss.engine import MIGRATIONS as MIGRATIONS
from hss.engine import POOL_OVERFLOW as POOL_OVERFLOW
from hss.engine import POOL_RECYCLE as POOL_RECYCLE
from hss.engine import POOL_SIZE as POOL_SIZE
from hss.engine import SQLITE_BUSY_TIMEOUT as SQLITE_BUSY_TIMEOUT
from hss.engine import alembic_config as alembic_config
from hss.engine import store_engine
from hss.identities import (
    ApplicationServerSpec,
    AuthKeys,
    DigestCredentials,
    ImpiRecord,
    ImpuLookup,
    RepositoryDataRecord,
    ResyncRecord,
    ScscfAssignment,
    ServiceProfileRecord,
    ServiceProfileSpec,
    SubscriberRecord,
    SubscriberSpec,
    auth_keys_of,
    check_application_server,
    check_service_profile,
    impi_record,
    impu_lookup,
    plan_subscriber,
    service_profile_record,
    subscriber_record,
)
from hss.models import (
    ApplicationServer,
    AuthScheme,
    AuthSchemeError,
    ConflictError,
    NotFoundError,
    OutOfSyncError,
    PublicIdentity,
    Registration,
    RegistrationState,
    RepositoryData,
    ServiceProfile,
    SqnResync,
    StoreError,
    StoreUnavailable,
    Subscription,
    ValidationError,
    new_application_server,
    new_subscription,
)
from hss.queries import RESYNC_LOG_KEEP as RESYNC_LOG_KEEP
from hss.queries import (
    SUBSCRIBER_LOAD,
    check_unique,
    find_impi,
    find_impu,
    find_repository_data,
    find_subscription_id,
    lock_implicit_set,
    lock_sqn,
    log_resync,
    new_service_profile,
    profiles_by_name,
)
from ims.auth.sqn import IND_BITS, SQN_BITS, make_sqn, split_sqn

__all__ = [
    "MIGRATIONS", "AuthSchemeError", "ConflictError", "NotFoundError", "OutOfSyncError",
    "Store", "StoreError", "StoreUnavailable", "ValidationError", "alembic_config",
]

log = logging.getLogger(__name__)

#: Largest SEQ (TS 33.102 Annex C.3: 43 bits with IND of 5 bits).
SEQ_MAX = (1 << (SQN_BITS - IND_BITS)) - 1
#: Most SQNs one call may allocate (vectors per MAR/AIR request).
MAX_BATCH = 32
#: IND_BITS as an SQL INTEGER literal (PostgreSQL shifts a BIGINT by an INTEGER only).
_IND_SHIFT = literal_column(str(IND_BITS), Integer)
#: TS 29.328 §7.6: Sequence-Number wraps from 65535 to 1 (0 marks creation).
SH_SEQUENCE_MAX = 65535

#: The eager loads of a whole subscriber, under the name hss.updates imports.
_SUBSCRIBER_LOAD = SUBSCRIBER_LOAD


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    """The subscriber store of the HSS (module docstring).

    Args:
        url: SQLAlchemy URL, e.g. ``sqlite:///var/hss.sqlite`` or
            ``postgresql+psycopg://hss@db/hss``.
        clock: source of timestamps (registration and resync records).
    """

    def __init__(self, url: str, *, clock: Callable[[], datetime] = _now) -> None:
        self.engine = store_engine(url)
        self._write_engine = self.engine.execution_options(hss_write=True)
        self._clock = clock

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def _session(self, write: bool = False) -> Iterator[Session]:
        """One transaction; database failures become :class:`StoreUnavailable`."""
        try:
            with Session(self._write_engine if write else self.engine,
                         expire_on_commit=False) as session, session.begin():
                yield session
        except IntegrityError as exc:
            raise ConflictError("constraint", str(exc.orig)) from exc
        except SQLAlchemyError as exc:
            log.error("subscriber store failure: %s", exc)
            raise StoreUnavailable(str(exc)) from exc

    def transaction(self, write: bool = False) -> AbstractContextManager[Session]:
        """One transaction for the store's companion modules (hss.updates, hss.profiles)."""
        return self._session(write)

    def upgrade(self, revision: str = "head") -> None:
        """Run the Alembic migrations up to ``revision`` (the schema's only creator).

        Raises:
            StoreUnavailable: when the database cannot be reached or migrated.
        """
        config = alembic_config()
        try:
            with self._write_engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"migration failed: {exc}") from exc

    def current_revision(self) -> str | None:
        """The schema's Alembic revision (None before :meth:`upgrade`)."""
        try:
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        except SQLAlchemyError as exc:
            raise StoreUnavailable(str(exc)) from exc

    # ------------------------------------------------------------------ subscribers

    def add_subscriber(self, spec: SubscriberSpec) -> SubscriberRecord:
        """Provision a subscriber with its identity set (see :mod:`hss.identities`).

        Raises:
            ValidationError: an invalid field, or an unknown service profile.
            ConflictError: the IMSI, MSISDN, IMPI or an IMPU already exists.
        """
        plan = plan_subscriber(spec)
        with self._session(write=True) as session:
            check_unique(session, plan)
            names = {impu.service_profile or "" for impu in plan.impus}
            profiles = profiles_by_name(session, names)
            subscription = new_subscription(plan, profiles)
            session.add(subscription)
            session.flush()
            return subscriber_record(subscription)

    def get_subscriber(self, imsi: str) -> SubscriberRecord:
        """The subscriber of ``imsi``. Raises :class:`NotFoundError`."""
        with self._session() as session:
            found = session.scalars(select(Subscription).where(Subscription.imsi == imsi)
                                    .options(*SUBSCRIBER_LOAD)).one_or_none()
            if found is None:
                raise NotFoundError("IMSI", imsi)
            return subscriber_record(found)

    def list_subscribers(self, offset: int = 0, limit: int = 100) -> list[SubscriberRecord]:
        """Subscribers ordered by IMSI, ``limit`` from ``offset``."""
        with self._session() as session:
            rows = session.scalars(select(Subscription).order_by(Subscription.imsi)
                                   .offset(offset).limit(limit).options(*SUBSCRIBER_LOAD))
            return [subscriber_record(row) for row in rows]

    def delete_subscriber(self, imsi: str) -> None:
        """Remove a subscriber and everything it owns. Raises :class:`NotFoundError`."""
        with self._session(write=True) as session:
            result = session.execute(delete(Subscription).where(Subscription.imsi == imsi)
                                     .returning(Subscription.id))
            if result.scalar_one_or_none() is None:
                raise NotFoundError("IMSI", imsi)

    def identities_for_impi(self, impi: str) -> ImpiRecord:
        """The IMPI with its implicit registration sets. Raises :class:`NotFoundError`."""
        with self._session() as session:
            return impi_record(find_impi(session, impi))

    def lookup_impu(self, impu: str) -> ImpuLookup:
        """The IMPU, its IMPI and IMSI and its implicit registration set.

        Raises:
            NotFoundError: not provisioned (also for a malformed identity).
        """
        with self._session() as session:
            return impu_lookup(find_impu(session, impu))

    # ------------------------------------------------------------------ authentication data

    def auth_keys(self, imsi: str) -> AuthKeys:
        """K, OPc and AMF of ``imsi`` (S6a AIR, TS 29.272 §5.2.3.1).

        Raises:
            NotFoundError: unknown IMSI.
            AuthSchemeError: the subscription has no AKA keys.
        """
        with self._session() as session:
            found = session.scalars(select(Subscription)
                                    .where(Subscription.imsi == imsi)).one_or_none()
            if found is None:
                raise NotFoundError("IMSI", imsi)
            return auth_keys_of(found, imsi)

    def auth_keys_for_impi(self, impi: str) -> AuthKeys:
        """K, OPc and AMF behind an AKA IMPI (Cx MAR, TS 29.228 §6.3).

        Raises:
            NotFoundError: unknown IMPI.
            AuthSchemeError: the IMPI authenticates with SIP Digest.
        """
        with self._session() as session:
            identity = find_impi(session, impi)
            if identity.auth_scheme != AuthScheme.AKA:
                raise AuthSchemeError(identity.impi, AuthScheme(identity.auth_scheme))
            return auth_keys_of(identity.subscription, identity.impi)

    def digest_credentials(self, impi: str) -> DigestCredentials:
        """HA1 and realm of a SIP Digest IMPI (TS 29.228 §6.3.4, RFC 2617).

        Raises:
            NotFoundError: unknown IMPI.
            AuthSchemeError: the IMPI authenticates with AKA.
        """
        with self._session() as session:
            identity = find_impi(session, impi)
            if identity.digest_ha1 is None or identity.digest_realm is None:
                raise AuthSchemeError(identity.impi, AuthScheme(identity.auth_scheme))
            return DigestCredentials(identity.impi, identity.digest_realm, identity.digest_ha1)

    # ------------------------------------------------------------------ SQN (TS 33.102 Annex C)

    def allocate_sqns(self, imsi: str, ind: int, count: int = 1) -> list[int]:
        """Allocate ``count`` fresh SQNs with index ``ind`` in one atomic statement.

        SQN_HE becomes ``(SEQ_HE + count) || ind`` (TS 33.102 Annex C.1.1),
        and the returned SQNs are ``(SEQ_HE + 1) || ind`` ..
        ``(SEQ_HE + count) || ind``: SQN_HE is read and written by the same
        ``UPDATE ... RETURNING``, so no two callers get the same SEQ.

        Raises:
            ValidationError: ``ind`` or ``count`` out of range.
            NotFoundError: unknown IMSI.
            StoreError: SEQ would exceed 2^43 - 1 (wrap-around is not handled).
        """
        if isinstance(ind, bool) or not 0 <= ind < (1 << IND_BITS):
            raise ValidationError("ind", f"must be 0..{(1 << IND_BITS) - 1}")
        if isinstance(count, bool) or not 1 <= count <= MAX_BATCH:
            raise ValidationError("count", f"must be 1..{MAX_BATCH}")
        seq = Subscription.sqn.bitwise_rshift(_IND_SHIFT)
        statement = (
            update(Subscription)
            .where(Subscription.imsi == imsi, seq <= SEQ_MAX - count)
            .values(sqn=(seq + count).bitwise_lshift(_IND_SHIFT).bitwise_or(ind))
            .returning(Subscription.sqn)
            .execution_options(synchronize_session=False)
        )
        with self._session(write=True) as session:
            sqn = session.execute(statement).scalar_one_or_none()
            if sqn is None:
                find_subscription_id(session, imsi)
                raise StoreError(f"SQN of {imsi} exhausted (SEQ would pass 2^43 - 1)")
        last = sqn >> IND_BITS
        return [make_sqn(last - count + 1 + i, ind) for i in range(count)]

    def next_vector_sqn(self, imsi: str, ind: int) -> int:
        """One fresh SQN for a vector with index ``ind`` (see :meth:`allocate_sqns`)."""
        return self.allocate_sqns(imsi, ind, 1)[0]

    def resync_sqn(self, imsi: str, sqn_ms: int, ind: int, *, rand: bytes = b"",
                   auts: bytes = b"") -> int:
        """Move SQN_HE past a verified SQN_MS (TS 33.102 §6.3.5) and log the attempt.

        When SEQ_HE <= SEQ_MS, SQN_HE becomes ``(SEQ_MS + 1) || ind``, as
        :func:`ims.auth.sqn.sqn_after_resync` computes; otherwise SQN_HE is
        already ahead of the USIM and is kept. SQN_HE never moves backwards
        (an SQN already handed out is never issued again), and the check and
        the write are one conditional UPDATE.

        Args:
            sqn_ms: SQN_MS recovered from AUTS (MAC-S verified by the caller).
            ind: IND of the reset value.
            rand, auts: the challenge and AUTS, kept in the resync log.

        Returns:
            SQN_HE after the resynchronisation.
        """
        seq_ms, _ = split_sqn(sqn_ms)
        if seq_ms >= SEQ_MAX:
            raise ValidationError("sqn_ms", "SEQ_MS is at its maximum")
        reset = make_sqn(seq_ms + 1, ind)
        statement = (
            update(Subscription)
            .where(Subscription.imsi == imsi,
                   Subscription.sqn.bitwise_rshift(_IND_SHIFT) <= seq_ms)
            .values(sqn=reset)
            .returning(Subscription.sqn)
            .execution_options(synchronize_session=False)
        )
        with self._session(write=True) as session:
            subscription_id, before = lock_sqn(session, imsi)
            after = session.execute(statement).scalar_one_or_none()
            after = before if after is None else after
            log_resync(session, subscription_id, self._clock(), rand, auts,
                       (sqn_ms, before, after))
        log.info("resync %s: SQN_MS %#x, SQN_HE %#x -> %#x", imsi, sqn_ms, before, after)
        return after

    def record_failed_resync(self, imsi: str, rand: bytes, auts: bytes) -> None:
        """Log a resync whose MAC-S did not verify; SQN_HE is left untouched."""
        with self._session(write=True) as session:
            subscription_id, sqn = lock_sqn(session, imsi)
            log_resync(session, subscription_id, self._clock(), rand, auts,
                       (None, sqn, sqn))

    def resync_history(self, imsi: str) -> list[ResyncRecord]:
        """The last resync attempts of ``imsi``, newest first (at most 20)."""
        with self._session() as session:
            subscription_id = find_subscription_id(session, imsi)
            rows = session.scalars(select(SqnResync)
                                   .where(SqnResync.subscription_id == subscription_id)
                                   .order_by(SqnResync.id.desc()).limit(RESYNC_LOG_KEEP))
            return [ResyncRecord(row.at, row.accepted, row.sqn_ms, row.sqn_before,
                                 row.sqn_after) for row in rows]

    # ------------------------------------------------------------------ Cx / S6a state

    def set_registration(self, impu: str, state: RegistrationState, *,
                         impi: str | None = None,
                         scscf: ScscfAssignment | None = None) -> tuple[str, ...]:
        """Set registration state and S-CSCF of ``impu``'s implicit registration set.

        TS 29.228 §6.1.2 / TS 23.228 §4.3.3.3: the IMPUs of one implicit set
        are registered, deregistered and assigned together.

        Returns:
            The IMPUs updated, in set order.

        Raises:
            NotFoundError: unknown IMPU or IMPI.
        """
        try:
            state = RegistrationState(state)
        except ValueError:
            raise ValidationError("state", "must be a RegistrationState") from None
        with self._session(write=True) as session:
            members = lock_implicit_set(session, impu)
            impi_id = None if impi is None else find_impi(session, impi).id
            for member in members:
                row = session.get(Registration, member.id) or Registration(impu_id=member.id)
                row.state, row.impi_id, row.updated_at = state.value, impi_id, self._clock()
                row.scscf_name = scscf.name if scscf else None
                row.scscf_host = scscf.host if scscf else None
                row.scscf_realm = scscf.realm if scscf else None
                session.add(row)
            return tuple(member.impu for member in members)

    def update_mme(self, imsi: str, host: str | None,
                   realm: str | None) -> tuple[str | None, str | None]:
        """Record the serving MME (S6a ULR, TS 29.272 §5.2.1.1); None clears it.

        Returns:
            The previous MME host and realm (the HSS sends CLR there, §5.2.1.2).
        """
        with self._session(write=True) as session:
            row = session.scalars(select(Subscription).where(Subscription.imsi == imsi)
                                  .with_for_update()).one_or_none()
            if row is None:
                raise NotFoundError("IMSI", imsi)
            previous = (row.mme_host, row.mme_realm)
            row.mme_host, row.mme_realm, row.mme_updated_at = host, realm, self._clock()
            return previous

    # ------------------------------------------------------------------ Sh repository data

    def repository_data(self, impu: str, service_indication: str) -> RepositoryDataRecord | None:
        """Sh transparent data of ``impu`` (TS 29.328 §7.6), None when absent."""
        with self._session() as session:
            identity = find_impu(session, impu)
            row = find_repository_data(session, identity.id, service_indication)
            if row is None:
                return None
            return RepositoryDataRecord(identity.impu, row.service_indication,
                                        row.sequence_number, row.data)

    def put_repository_data(self, impu: str, service_indication: str, sequence_number: int,
                            data: bytes | None) -> None:
        """Create, update or (``data`` None) delete Sh repository data.

        TS 29.328 §6.1.2.1: a new entry carries Sequence-Number 0; an update
        or removal carries the stored number + 1 (65535 is followed by 1).
        Checked and written in one locked transaction.

        Raises:
            OutOfSyncError: the Sequence-Number does not follow the stored one.
            NotFoundError: unknown IMPU.
        """
        with self._session(write=True) as session:
            identity = find_impu(session, impu, lock=True)
            row = find_repository_data(session, identity.id, service_indication)
            expected = 0 if row is None else (row.sequence_number % SH_SEQUENCE_MAX) + 1
            if sequence_number != expected or (row is None and data is None):
                raise OutOfSyncError("sequence_number", str(sequence_number))
            if data is None:
                session.delete(row)
                return
            row = row or RepositoryData(impu_id=identity.id,
                                        service_indication=service_indication)
            row.sequence_number, row.data = sequence_number, data
            session.add(row)

    # ------------------------------------------------------------------ shared objects

    def add_application_server(self, spec: ApplicationServerSpec) -> ApplicationServerSpec:
        """Provision an application server (TS 29.228 Annex B.2.3)."""
        checked = check_application_server(spec)
        with self._session(write=True) as session:
            if session.scalar(select(ApplicationServer.id)
                              .where(ApplicationServer.name == checked.name)) is not None:
                raise ConflictError("name", checked.name)
            session.add(new_application_server(checked))
        return checked

    def add_service_profile(self, spec: ServiceProfileSpec) -> ServiceProfileRecord:
        """Provision a service profile whose iFCs name existing application servers.

        Raises:
            ValidationError: invalid field or unknown application server.
            ConflictError: the name exists.
        """
        checked = check_service_profile(spec)
        with self._session(write=True) as session:
            if session.scalar(select(ServiceProfile.id)
                              .where(ServiceProfile.name == checked.name)) is not None:
                raise ConflictError("name", checked.name)
            profile = new_service_profile(session, checked)
            session.add(profile)
            session.flush()
            return service_profile_record(profile)

    def service_profile(self, name: str) -> ServiceProfileRecord:
        """A service profile with its iFCs. Raises :class:`NotFoundError`."""
        with self._session() as session:
            profile = session.scalars(select(ServiceProfile)
                                      .where(ServiceProfile.name == name)).one_or_none()
            if profile is None:
                raise NotFoundError("service profile", name)
            return service_profile_record(profile)

    def delete_service_profile(self, name: str) -> None:
        """Remove an unused service profile.

        Raises:
            NotFoundError: unknown name.
            ConflictError: public identities still use it.
        """
        with self._session(write=True) as session:
            profile_id = session.scalar(select(ServiceProfile.id)
                                        .where(ServiceProfile.name == name))
            if profile_id is None:
                raise NotFoundError("service profile", name)
            if session.scalar(select(PublicIdentity.id)
                              .where(PublicIdentity.service_profile_id == profile_id)
                              .limit(1)) is not None:
                raise ConflictError("service_profile", f"{name} is in use")
            session.execute(delete(ServiceProfile).where(ServiceProfile.id == profile_id))
