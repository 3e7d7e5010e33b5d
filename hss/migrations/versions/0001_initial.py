"""Initial HSS schema: subscriptions, IMS identities, service profiles, Cx/Sh state.

The tables of :mod:`hss.models` as first released (TS 23.008, TS 29.228
Annex B, TS 29.272 §7.3, TS 29.328 §7.6). This file is a frozen snapshot:
it never imports the models, so later model changes need a new revision.
Constraint and index names follow ``hss.models.NAMING_CONVENTION``.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), nullable=False)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}", ondelete=ondelete)


def _index(table: str, *columns: str) -> None:
    op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns), unique=False)


def _create_shared() -> None:
    """Application servers and service profiles (TS 29.228 Annex B.2)."""
    op.create_table(
        "application_server",
        _id(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("server_name", sa.String(255), nullable=False),
        sa.Column("default_handling", sa.Integer(), nullable=False),
        sa.Column("service_info", sa.Text(), nullable=True),
        sa.Column("include_register_request", sa.Boolean(), nullable=False),
        sa.Column("include_register_response", sa.Boolean(), nullable=False),
        sa.CheckConstraint("default_handling IN (0, 1)",
                           name="ck_application_server_default_handling"),
        sa.PrimaryKeyConstraint("id", name="pk_application_server"),
        sa.UniqueConstraint("name", name="uq_application_server_name"),
    )
    profile = op.create_table(
        "service_profile",
        _id(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_service_profile"),
        sa.UniqueConstraint("name", name="uq_service_profile_name"),
    )
    op.bulk_insert(profile, [{"name": "default"}])


def _create_filter_criteria() -> None:
    """Initial filter criteria and their service point triggers (TS 29.228 Annex B.2.2)."""
    op.create_table(
        "initial_filter_criteria",
        _id(),
        sa.Column("service_profile_id", sa.Integer(), nullable=False),
        sa.Column("application_server_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("profile_part_indicator", sa.Integer(), nullable=True),
        sa.Column("condition_type_cnf", sa.Boolean(), nullable=False),
        _fk("initial_filter_criteria", "application_server_id", "application_server", "RESTRICT"),
        _fk("initial_filter_criteria", "service_profile_id", "service_profile", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_initial_filter_criteria"),
        sa.UniqueConstraint("service_profile_id", "priority",
                            name="uq_initial_filter_criteria_service_profile_id_priority"),
    )
    _index("initial_filter_criteria", "application_server_id")
    _index("initial_filter_criteria", "service_profile_id")
    op.create_table(
        "service_point_trigger",
        _id(),
        sa.Column("ifc_id", sa.Integer(), nullable=False),
        sa.Column("spt_group", sa.Integer(), nullable=False),
        sa.Column("condition_negated", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("value", sa.String(255), nullable=True),
        sa.Column("header", sa.String(255), nullable=True),
        sa.Column("registration_type", sa.Integer(), nullable=True),
        sa.CheckConstraint("kind IN ('request_uri', 'method', 'sip_header', 'session_case', "
                           "'session_description')", name="ck_service_point_trigger_kind"),
        _fk("service_point_trigger", "ifc_id", "initial_filter_criteria", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_service_point_trigger"),
    )
    _index("service_point_trigger", "ifc_id")


def _create_subscription() -> None:
    """The subscription with AuC and EPS data (TS 23.008 §2.3, §2.13)."""
    op.create_table(
        "subscription",
        _id(),
        sa.Column("imsi", sa.String(15), nullable=False),
        sa.Column("msisdn", sa.String(15), nullable=True),
        sa.Column("k", sa.LargeBinary(), nullable=True),
        sa.Column("opc", sa.LargeBinary(), nullable=True),
        sa.Column("amf", sa.LargeBinary(), nullable=False),
        sa.Column("sqn", sa.BigInteger(), nullable=False),
        sa.Column("access_restriction", sa.Integer(), nullable=False),
        sa.Column("ambr_ul", sa.BigInteger(), nullable=False),
        sa.Column("ambr_dl", sa.BigInteger(), nullable=False),
        sa.Column("mme_host", sa.String(255), nullable=True),
        sa.Column("mme_realm", sa.String(255), nullable=True),
        sa.Column("mme_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("sqn >= 0 AND sqn < 281474976710656",
                           name="ck_subscription_sqn_range"),
        sa.PrimaryKeyConstraint("id", name="pk_subscription"),
        sa.UniqueConstraint("imsi", name="uq_subscription_imsi"),
        sa.UniqueConstraint("msisdn", name="uq_subscription_msisdn"),
    )


def _create_subscription_children() -> None:
    """APN configurations (TS 29.272 §7.3.35) and the resync log (TS 33.102 §6.3.5)."""
    op.create_table(
        "apn_configuration",
        _id(),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("pdn_type", sa.Integer(), nullable=False),
        sa.Column("qci", sa.Integer(), nullable=False),
        sa.Column("arp_priority", sa.Integer(), nullable=False),
        sa.Column("arp_preemption_capability", sa.Boolean(), nullable=False),
        sa.Column("arp_preemption_vulnerability", sa.Boolean(), nullable=False),
        sa.Column("ambr_ul", sa.BigInteger(), nullable=False),
        sa.Column("ambr_dl", sa.BigInteger(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        _fk("apn_configuration", "subscription_id", "subscription", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_apn_configuration"),
        sa.UniqueConstraint("subscription_id", "context_id",
                            name="uq_apn_configuration_subscription_id_context_id"),
        sa.UniqueConstraint("subscription_id", "name",
                            name="uq_apn_configuration_subscription_id_name"),
    )
    _index("apn_configuration", "subscription_id")
    op.create_table(
        "sqn_resync",
        _id(),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rand", sa.LargeBinary(), nullable=False),
        sa.Column("auts", sa.LargeBinary(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("sqn_ms", sa.BigInteger(), nullable=True),
        sa.Column("sqn_before", sa.BigInteger(), nullable=False),
        sa.Column("sqn_after", sa.BigInteger(), nullable=False),
        _fk("sqn_resync", "subscription_id", "subscription", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_sqn_resync"),
    )
    _index("sqn_resync", "subscription_id")


def _create_identities() -> None:
    """IMPIs, implicit registration sets and IMPUs (TS 23.008 §5.2)."""
    op.create_table(
        "ims_private_identity",
        _id(),
        sa.Column("impi", sa.String(255), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("auth_scheme", sa.String(16), nullable=False),
        sa.Column("digest_realm", sa.String(255), nullable=True),
        sa.Column("digest_ha1", sa.String(32), nullable=True),
        sa.CheckConstraint("auth_scheme IN ('aka', 'digest')",
                           name="ck_ims_private_identity_auth_scheme"),
        _fk("ims_private_identity", "subscription_id", "subscription", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_ims_private_identity"),
        sa.UniqueConstraint("impi", name="uq_ims_private_identity_impi"),
    )
    _index("ims_private_identity", "subscription_id")
    op.create_table(
        "implicit_registration_set",
        _id(),
        sa.Column("impi_id", sa.Integer(), nullable=False),
        _fk("implicit_registration_set", "impi_id", "ims_private_identity", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_implicit_registration_set"),
    )
    _index("implicit_registration_set", "impi_id")
    op.create_table(
        "ims_public_identity",
        _id(),
        sa.Column("impu", sa.String(255), nullable=False),
        sa.Column("irs_id", sa.Integer(), nullable=False),
        sa.Column("service_profile_id", sa.Integer(), nullable=False),
        sa.Column("barred", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _fk("ims_public_identity", "irs_id", "implicit_registration_set", "CASCADE"),
        _fk("ims_public_identity", "service_profile_id", "service_profile", "RESTRICT"),
        sa.PrimaryKeyConstraint("id", name="pk_ims_public_identity"),
        sa.UniqueConstraint("impu", name="uq_ims_public_identity_impu"),
    )
    _index("ims_public_identity", "irs_id")
    _index("ims_public_identity", "service_profile_id")


def _create_dynamic_state() -> None:
    """Cx registration state (TS 29.228 §6.1.2) and Sh repository data (TS 29.328 §7.6)."""
    op.create_table(
        "registration",
        sa.Column("impu_id", sa.Integer(), nullable=False),
        sa.Column("impi_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("scscf_name", sa.String(255), nullable=True),
        sa.Column("scscf_host", sa.String(255), nullable=True),
        sa.Column("scscf_realm", sa.String(255), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('NOT_REGISTERED', 'REGISTERED', 'UNREGISTERED')",
                           name="ck_registration_state"),
        _fk("registration", "impi_id", "ims_private_identity", "SET NULL"),
        _fk("registration", "impu_id", "ims_public_identity", "CASCADE"),
        sa.PrimaryKeyConstraint("impu_id", name="pk_registration"),
    )
    _index("registration", "impi_id")
    op.create_table(
        "repository_data",
        _id(),
        sa.Column("impu_id", sa.Integer(), nullable=False),
        sa.Column("service_indication", sa.String(255), nullable=False),
        sa.Column("sequence_number", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        _fk("repository_data", "impu_id", "ims_public_identity", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_repository_data"),
        sa.UniqueConstraint("impu_id", "service_indication",
                            name="uq_repository_data_impu_id_service_indication"),
    )
    _index("repository_data", "impu_id")


def upgrade() -> None:
    """Create every table, then the ``default`` service profile (no iFC)."""
    _create_shared()
    _create_filter_criteria()
    _create_subscription()
    _create_subscription_children()
    _create_identities()
    _create_dynamic_state()


_TABLES_NEWEST_FIRST = (
    "repository_data", "registration", "ims_public_identity", "implicit_registration_set",
    "ims_private_identity", "sqn_resync", "apn_configuration", "subscription",
    "service_point_trigger", "initial_filter_criteria", "service_profile", "application_server",
)


def downgrade() -> None:
    """Drop every table (indexes go with them)."""
    for table in _TABLES_NEWEST_FIRST:
        op.drop_table(table)
