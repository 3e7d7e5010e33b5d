"""Subscriber identities and provisioning records (TS 23.003 §2, §13; TS 23.008 §2, §5).

What a subscriber is made of, without a database: the provisioning specs
(:class:`SubscriberSpec`, :class:`ApnConfig`, :class:`ServiceProfileSpec`),
their validation into a :class:`SubscriberPlan`, the identity set generated
by default, the read-only records :mod:`hss.store` returns and their
construction from rows. Validation raises :class:`hss.models.ValidationError`.

The default identity set (TS 23.003 §13.3, §13.4B and the field notes):

* IMPI ``<IMSI>@<domain>``;
* IMPU ``sip:<IMSI>@<domain>``, barred (TS 23.008 §5.2.1.3): it only
  serves to register, as a UE without ISIM derives it;
* IMPUs ``tel:+<MSISDN>`` and ``sip:+<MSISDN>@<domain>``, the identities
  handsets dial and SUBSCRIBE with.

All of them in one implicit registration set (TS 23.228 §4.3.3.3), so
registering the barred IMSI identity registers the MSISDN ones too. Without
an MSISDN the set is the IMSI identity alone, not barred (a registration
with only barred identities must fail, TS 24.229 §5.4.1.2).

The pieces live in modules named for their concern, all re-exported here:
:mod:`hss.specs` (what is provisioned), :mod:`hss.validation` (the rules,
the default identity set) and :mod:`hss.records` (what is read back, built
from rows).
"""

from __future__ import annotations

from hss.models import (
    AuthSchemeError,
    ConflictError,
    NotFoundError,
    OutOfSyncError,
    StoreError,
    StoreUnavailable,
    ValidationError,
)
from hss.records import (
    AuthKeys,
    DigestCredentials,
    FilterCriteriaRecord,
    ImpiRecord,
    ImpuLookup,
    ImpuRecord,
    RegistrationRecord,
    RepositoryDataRecord,
    ResyncRecord,
    ScscfAssignment,
    ServiceProfileRecord,
    SubscriberRecord,
    apn_config,
    application_server_spec,
    auth_keys_of,
    impi_record,
    impu_lookup,
    impu_record,
    registration_record,
    service_profile_record,
    subscriber_record,
)
from hss.specs import (
    DEFAULT_APNS,
    DEFAULT_DOMAIN,
    ApnConfig,
    ApplicationServerSpec,
    FilterCriteriaSpec,
    ImpuSpec,
    PdnType,
    ServiceProfileSpec,
    SubscriberPlan,
    SubscriberSpec,
    TriggerSpec,
)

# Private helpers hss.updates reuses for its field checks.
from hss.validation import _apns as _apns
from hss.validation import _int_range as _int_range
from hss.validation import _msisdn as _msisdn
from hss.validation import (
    check_application_server,
    check_name,
    check_service_profile,
    default_identity_set,
    normalize_impu,
    parse_hex,
    plan_subscriber,
)

__all__ = [
    "ApnConfig", "ApplicationServerSpec", "AuthKeys", "AuthSchemeError", "ConflictError",
    "DEFAULT_APNS", "DEFAULT_DOMAIN", "DigestCredentials", "FilterCriteriaRecord",
    "FilterCriteriaSpec", "ImpiRecord", "ImpuLookup", "ImpuRecord", "ImpuSpec", "NotFoundError",
    "OutOfSyncError", "PdnType", "RegistrationRecord", "RepositoryDataRecord", "ResyncRecord",
    "ScscfAssignment", "ServiceProfileRecord", "ServiceProfileSpec", "StoreError",
    "StoreUnavailable", "SubscriberPlan", "SubscriberRecord", "SubscriberSpec", "TriggerSpec",
    "ValidationError", "check_application_server", "check_name", "check_service_profile",
    "default_identity_set", "normalize_impu", "parse_hex", "plan_subscriber", "apn_config",
    "application_server_spec", "auth_keys_of", "impi_record", "impu_lookup", "impu_record",
    "registration_record", "service_profile_record", "subscriber_record",
]
