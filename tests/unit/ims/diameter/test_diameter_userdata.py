"""IMSSubscription XML build and parse (TS 29.228 Annex E/F)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from diameterwire import IMPI, IMPU, REALM, TEL

from ims.diameter.userdata import (
    MAX_USER_DATA,
    SPT,
    ApplicationServer,
    DefaultHandling,
    IdentityType,
    IMSSubscription,
    InitialFilterCriteria,
    ProfilePartIndicator,
    PublicIdentity,
    RegistrationType,
    ServiceProfile,
    SessionCase,
    SessionDescription,
    SipHeader,
    TriggerPoint,
    UserDataError,
    build_ims_subscription,
    parse_ims_subscription,
)

MMTEL = ApplicationServer(f"sip:mmtel.{REALM}", DefaultHandling.SESSION_TERMINATED,
                          service_info="mmtel", include_register_request=True,
                          include_register_response=True)
REGISTER_IFC = InitialFilterCriteria(
    priority=0,
    application_server=MMTEL,
    trigger_point=TriggerPoint(False, (
        SPT(groups=(0,), method="REGISTER",
            registration_types=(RegistrationType.INITIAL_REGISTRATION,
                                RegistrationType.DE_REGISTRATION)),
    )),
    profile_part_indicator=ProfilePartIndicator.REGISTERED,
)
INVITE_IFC = InitialFilterCriteria(
    priority=10,
    application_server=ApplicationServer(f"sip:tas.{REALM}"),
    trigger_point=TriggerPoint(True, (
        SPT(groups=(0,), method="INVITE"),
        SPT(groups=(1,), session_case=SessionCase.ORIGINATING_REGISTERED),
        SPT(groups=(1,), session_case=SessionCase.TERMINATING_UNREGISTERED),
        SPT(groups=(2,), negated=True, sip_header=SipHeader("P-Served-User")),
        SPT(groups=(2, 3), sip_header=SipHeader("Accept-Contact", r".*\+g\.3gpp\.icsi-ref.*")),
        SPT(groups=(3,), session_description=SessionDescription("m", "audio.*")),
        SPT(groups=(3,), request_uri=f"sip:conf@{REALM}"),
    )),
)
SUBSCRIPTION = IMSSubscription(IMPI, (
    ServiceProfile(
        (PublicIdentity(IMPU, display_name="Alice"),
         PublicIdentity(TEL, identity_type=IdentityType.PUBLIC_USER_IDENTITY)),
        (REGISTER_IFC, INVITE_IFC),
    ),
    ServiceProfile(
        (PublicIdentity(f"sip:psi@{REALM}", identity_type=IdentityType.DISTINCT_PSI),
         PublicIdentity(f"sip:!.*!@{REALM}", barred=True,
                        identity_type=IdentityType.WILDCARDED_PSI)),
    ),
))


def test_round_trip_keeps_every_field() -> None:
    xml = build_ims_subscription(SUBSCRIPTION)
    got = parse_ims_subscription(xml)
    assert got == SUBSCRIPTION
    spts = got.service_profiles[0].ifcs[1].trigger_point
    assert spts is not None and spts.condition_type_cnf
    assert spts.spts[3].negated and spts.spts[3].sip_header == SipHeader("P-Served-User")
    assert got.service_profiles[0].ifcs[0].application_server.default_handling == 1
    assert got.service_profiles[1].public_identities[1].barred


def test_round_trip_of_bytes() -> None:
    data = build_ims_subscription(SUBSCRIPTION).encode()
    assert parse_ims_subscription(data) == SUBSCRIPTION


def test_minimal_document_layout() -> None:
    sub = IMSSubscription(IMPI, (ServiceProfile((PublicIdentity(IMPU),), (
        InitialFilterCriteria(5, ApplicationServer("sip:as"), TriggerPoint(
            False, (SPT(method="MESSAGE"),))),)),))
    assert build_ims_subscription(sub) == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<IMSSubscription><PrivateID>{IMPI}</PrivateID><ServiceProfile>"
        f"<PublicIdentity><BarringIndication>0</BarringIndication><Identity>{IMPU}</Identity>"
        "<Extension><IdentityType>0</IdentityType></Extension></PublicIdentity>"
        "<InitialFilterCriteria><Priority>5</Priority><TriggerPoint>"
        "<ConditionTypeCNF>0</ConditionTypeCNF><SPT><ConditionNegated>0</ConditionNegated>"
        "<Group>0</Group><Method>MESSAGE</Method></SPT></TriggerPoint>"
        "<ApplicationServer><ServerName>sip:as</ServerName>"
        "<DefaultHandling>0</DefaultHandling></ApplicationServer></InitialFilterCriteria>"
        "</ServiceProfile></IMSSubscription>"
    )


def test_first_public_identity_is_not_barred() -> None:
    sub = IMSSubscription(IMPI, (ServiceProfile((
        PublicIdentity(f"sip:barred@{REALM}", barred=True), PublicIdentity(IMPU),
        PublicIdentity(TEL)),),))
    root = ET.fromstring(build_ims_subscription(sub).split("\n", 1)[1])
    first = root.find("ServiceProfile/PublicIdentity")
    assert first is not None
    assert first.findtext("Identity") == IMPU and first.findtext("BarringIndication") == "0"
    got = parse_ims_subscription(build_ims_subscription(sub))
    assert got.default_identity == PublicIdentity(IMPU)
    assert [p.identity for p in got.service_profiles[0].public_identities] == [
        IMPU, f"sip:barred@{REALM}", TEL]


def test_profile_with_the_non_barred_identity_moves_first() -> None:
    barred = ServiceProfile((PublicIdentity(f"sip:b@{REALM}", barred=True),))
    sub = IMSSubscription(IMPI, (barred, ServiceProfile((PublicIdentity(IMPU),))))
    got = parse_ims_subscription(build_ims_subscription(sub))
    assert got.default_identity.identity == IMPU and not got.default_identity.barred
    assert got.service_profiles[1] == barred


def test_all_barred_is_refused() -> None:
    sub = IMSSubscription(IMPI, (ServiceProfile((PublicIdentity(IMPU, barred=True),)),))
    with pytest.raises(UserDataError):
        build_ims_subscription(sub)


def test_spt_holds_exactly_one_condition() -> None:
    with pytest.raises(UserDataError):
        SPT()
    with pytest.raises(UserDataError):
        SPT(method="INVITE", request_uri="sip:x")
    with pytest.raises(UserDataError):
        SPT(groups=(), method="INVITE")


def test_parses_a_foreign_indented_document() -> None:
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<IMSSubscription xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:noNamespaceSchemaLocation="CxDataType_Rel7.xsd">
  <PrivateID>{IMPI}</PrivateID>
  <ServiceProfile>
    <PublicIdentity>
      <Identity>{IMPU}</Identity>
    </PublicIdentity>
    <PublicIdentity>
      <BarringIndication>true</BarringIndication>
      <Identity>{TEL}</Identity>
      <Extension><IdentityType>0</IdentityType></Extension>
    </PublicIdentity>
    <InitialFilterCriteria>
      <Priority>1</Priority>
      <TriggerPoint>
        <ConditionTypeCNF>1</ConditionTypeCNF>
        <SPT><ConditionNegated>false</ConditionNegated><Group>0</Group>
          <SessionCase>4</SessionCase></SPT>
      </TriggerPoint>
      <ApplicationServer><ServerName>sip:as.{REALM}</ServerName></ApplicationServer>
      <ProfilePartIndicator>1</ProfilePartIndicator>
    </InitialFilterCriteria>
  </ServiceProfile>
</IMSSubscription>"""
    got = parse_ims_subscription(xml)
    profile = got.service_profiles[0]
    assert profile.public_identities == (PublicIdentity(IMPU), PublicIdentity(TEL, barred=True))
    ifc = profile.ifcs[0]
    assert ifc.priority == 1 and ifc.profile_part_indicator is ProfilePartIndicator.UNREGISTERED
    assert ifc.application_server == ApplicationServer(f"sip:as.{REALM}")
    assert ifc.trigger_point == TriggerPoint(True, (SPT(session_case=SessionCase.ORIGINATING_CDIV),))


@pytest.mark.parametrize(
    "xml",
    [
        "<Other/>",
        "<IMSSubscription><PrivateID>x</PrivateID></IMSSubscription>",
        "<IMSSubscription><ServiceProfile><PublicIdentity><Identity>sip:a</Identity>"
        "</PublicIdentity></ServiceProfile></IMSSubscription>",
        "<IMSSubscription><PrivateID>x</PrivateID><ServiceProfile/></IMSSubscription>",
        "<IMSSubscription><PrivateID>x</PrivateID><ServiceProfile><PublicIdentity>"
        "<BarringIndication>maybe</BarringIndication><Identity>sip:a</Identity>"
        "</PublicIdentity></ServiceProfile></IMSSubscription>",
        "<IMSSubscription><PrivateID>x</PrivateID><ServiceProfile><PublicIdentity>"
        "<Identity>sip:a</Identity></PublicIdentity><InitialFilterCriteria><Priority>1"
        "</Priority><TriggerPoint><ConditionTypeCNF>0</ConditionTypeCNF><SPT><Group>0</Group>"
        "<SessionCase>7</SessionCase></SPT></TriggerPoint><ApplicationServer><ServerName>"
        "sip:as</ServerName></ApplicationServer></InitialFilterCriteria></ServiceProfile>"
        "</IMSSubscription>",
        "<IMSSubscription><PrivateID>x</PrivateID><ServiceProfile><PublicIdentity>"
        "<Identity>sip:a</Identity></PublicIdentity><InitialFilterCriteria><Priority>x"
        "</Priority></InitialFilterCriteria></ServiceProfile></IMSSubscription>",
        "<IMSSubscription><PrivateID>x</PrivateID>",
        '<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><IMSSubscription/>',
    ],
)
def test_rejects_bad_documents(xml: str) -> None:
    with pytest.raises(UserDataError):
        parse_ims_subscription(xml)


def test_size_limit_is_checked_before_parsing() -> None:
    with pytest.raises(UserDataError, match="exceeds"):
        parse_ims_subscription(b"<IMSSubscription>" + b" " * MAX_USER_DATA + b"</IMSSubscription>")
