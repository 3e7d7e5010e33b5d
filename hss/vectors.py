"""Authentication vectors from the subscriber store (TS 33.102 §6.3, TS 33.401 §6.1, TS 33.203 §6.1).

:class:`VectorService` is the AuC of the HSS: it reads K, OPc and AMF from
:class:`hss.store.Store`, allocates fresh SQNs there atomically (one
``UPDATE ... RETURNING`` per request, which also returns the keys: see
:mod:`hss.fastpath`; with the consumer's IND: ``IND_IMS``
for Cx MAR, ``IND_EPS`` for S6a AIR, TS 33.102 Annex C.1) and computes the
vectors with :mod:`ims.auth.aka`. Resynchronisation (TS 33.102 §6.3.5)
verifies MAC-S before it touches SQN_HE; a bad MAC-S is logged and rejected.

RAND comes from an injected source (``os.urandom`` by default) so tests can
fix it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence

from hss.fastpath import fast_path_for
from hss.identities import AuthKeys, DigestCredentials
from hss.models import ValidationError
from hss.store import MAX_BATCH, Store
from ims.auth.aka import (
    AUTS_LEN,
    AuthVector,
    EutranVector,
    generate_eutran_vector,
    generate_vector,
    resync,
)
from ims.auth.milenage import RAND_LEN
from ims.auth.sqn import IND_EPS, IND_IMS

__all__ = ["VectorService"]

log = logging.getLogger(__name__)


def _check_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_BATCH:
        raise ValidationError("count", f"must be 1..{MAX_BATCH}")
    return count


def _check_length(field_name: str, value: bytes, size: int) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != size:
        raise ValidationError(field_name, f"must be {size} octets")
    return bytes(value)


class VectorService:
    """Vectors and resynchronisation for Cx (IMPI) and S6a (IMSI).

    Args:
        store: the subscriber store.
        random: source of RAND, ``random(16) -> bytes``.
    """

    def __init__(self, store: Store, random: Callable[[int], bytes] = os.urandom) -> None:
        self._store = store
        self._random = random
        self._fast = fast_path_for(store)

    def ims_vectors(self, impi: str, count: int = 1) -> list[AuthVector]:
        """``count`` AKA vectors for an IMPI (Cx MAR, TS 29.228 §6.3; TS 33.203 §6.1).

        AMF is the provisioned one; every SQN has IND = ``IND_IMS``.

        Raises:
            NotFoundError: unknown IMPI.
            AuthSchemeError: the IMPI uses SIP Digest.
            ValidationError: ``count`` outside 1..32.
            StoreUnavailable: the database failed.
        """
        _check_count(count)
        keys, sqns = self._allocate(IND_IMS, count, impi=impi)
        return [generate_vector(keys.k, keys.opc, keys.amf, sqn, self._rand()) for sqn in sqns]

    def eutran_vectors(self, imsi: str, count: int, plmn: bytes) -> list[EutranVector]:
        """``count`` E-UTRAN vectors for an IMSI (S6a AIR, TS 29.272 §5.2.3.1; TS 33.401 §6.1.1).

        The AMF separation bit is set and KASME is bound to ``plmn``
        (Visited-PLMN-Id, 3 octets); every SQN has IND = ``IND_EPS``.

        Raises:
            NotFoundError: unknown IMSI.
            AuthSchemeError: the subscription has no AKA keys.
            ValidationError: ``count`` outside 1..32 or ``plmn`` not 3 octets.
        """
        _check_count(count)
        serving_network = _check_length("plmn", plmn, 3)
        keys, sqns = self._allocate(IND_EPS, count, imsi=imsi)
        return [generate_eutran_vector(keys.k, keys.opc, keys.amf, sqn, self._rand(),
                                       serving_network) for sqn in sqns]

    def resync(self, identity: str, rand: bytes, auts: bytes) -> bool:
        """Resynchronise SQN_HE from AUTS (TS 33.102 §6.3.5).

        ``identity`` is an IMPI (contains ``@``; Cx, the reset uses
        ``IND_IMS``) or an IMSI (S6a, ``IND_EPS``). MAC-S is verified first:
        on failure the attempt is logged, SQN_HE is untouched and the result
        is False. On success SQN_HE moves past SQN_MS (never backwards).

        Raises:
            NotFoundError: unknown identity.
            ValidationError: RAND not 16 octets or AUTS not 14.
        """
        rand = _check_length("rand", rand, RAND_LEN)
        auts = _check_length("auts", auts, AUTS_LEN)
        keys, ind = self._keys(identity)
        sqn_ms = resync(keys.k, keys.opc, rand, auts)
        if sqn_ms is None:
            log.warning("resync rejected for %s (IMSI %s): MAC-S does not verify",
                        identity, keys.imsi)
            self._store.record_failed_resync(keys.imsi, rand, auts)
            return False
        self._store.resync_sqn(keys.imsi, sqn_ms, ind, rand=rand, auts=auts)
        return True

    def digest_credentials(self, impi: str) -> DigestCredentials:
        """HA1 and realm of a SIP Digest IMPI (TS 29.228 §6.3.2, RFC 2617 §3.2.2.2).

        Raises:
            NotFoundError: unknown IMPI.
            AuthSchemeError: the IMPI uses AKA.
        """
        return self._store.digest_credentials(impi)

    def _allocate(self, ind: int, count: int, *, imsi: str | None = None,
                  impi: str | None = None) -> tuple[AuthKeys, Sequence[int]]:
        """Keys and SQNs: the one-statement fast path, else the ORM path (which names the error)."""
        found = self._fast.allocate(ind, count, imsi=imsi, impi=impi) if self._fast else None
        if found is not None:
            return found.keys, found.sqns
        if impi is not None:
            keys = self._store.auth_keys_for_impi(impi)
        else:
            keys = self._store.auth_keys(imsi or "")
        return keys, self._store.allocate_sqns(keys.imsi, ind, count)

    def _keys(self, identity: str) -> tuple[AuthKeys, int]:
        if "@" in identity:
            return self._store.auth_keys_for_impi(identity), IND_IMS
        return self._store.auth_keys(identity), IND_EPS

    def _rand(self) -> bytes:
        return _check_length("RAND source", self._random(RAND_LEN), RAND_LEN)
