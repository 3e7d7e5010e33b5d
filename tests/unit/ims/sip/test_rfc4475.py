"""RFC 4475 torture messages through the framers, parse_message and validate_*.

Every message is read from ``tests/vectors/rfc4475`` (see its README). Valid
messages must parse and validate with the values the RFC points out; invalid
ones must be refused with a reason naming the defect, or handled the way the
RFC's text for that message says. Each framable message also goes through
the h11 triad: fed whole, byte by byte, and with trailing bytes left over.
"""

from __future__ import annotations

import hashlib

import pytest

from ims.sip.errors import SipError, SipParseError
from ims.sip.framing import StreamFramer, frame_datagram
from ims.sip.message import Request, Response, parse_message, validate_request, validate_response
from ims.sip.uri import AbsoluteUri, SipUri, parse_uri, unescape, uri_equal
from tests.vectors.loaders import load_rfc4475, rfc4475_names

VALID_REQUESTS = [
    "wsinv", "intmeth", "esc01", "escnull", "esc02", "lwsdisp", "longreq", "dblreq",
    "semiuri", "transports", "mpart01",
    # §3.2, §3.3 and §3.4: well-formed; what happens next is up to the TU.
    "badbranch", "unkscm", "novelsc", "unksm2", "bext01", "invut", "regaut01", "zeromf",
    "cparam01", "cparam02", "regescrt", "sdp01", "inv2543",
    # §3.1.2.12: a non-GMT Date may be ignored when the Date is not used.
    "baddate",
]
VALID_RESPONSES = ["unreason", "noreason", "bcast"]

#: name -> (stage that refuses it, status hint, reason)
INVALID = {
    "badinv01": ("validate", 400, "Empty parameter"),
    "clerr": ("parse", 400, "Content-Length larger than body"),
    "ncl": ("parse", 400, "Negative Content-Length"),
    "scalar02": ("validate", 400, "CSeq number too large"),
    "scalarlg": ("validate", 400, "CSeq number too large"),
    "quotbal": ("validate", 400, "Unterminated quoted display name"),
    "ltgtruri": ("parse", 400, "Request-URI enclosed in <>"),
    "lwsruri": ("parse", 400, "LWS in Request-URI"),
    "lwsstart": ("parse", 400, "Extra SP in Request-Line"),
    "trws": ("parse", 400, "Trailing SP in Request-Line"),
    "escruri": ("validate", 400, "Request-URI must not contain headers"),
    "regbadct": ("validate", 400, "URI with '?' or ',' must be enclosed in <>"),
    "badaspec": ("validate", 400, "Whitespace inside <> of an address"),
    "baddn": ("validate", 400, "Bad display name 'Bell, Alexander'"),
    "badvers": ("validate", 505, "Version Not Supported"),
    "mismatch01": ("validate", 400, "CSeq method does not match request method"),
    # §3.1.2.18 prefers 501 but allows 400; the parser cannot know which methods the TU has.
    "mismatch02": ("validate", 400, "CSeq method does not match request method"),
    "bigcode": ("parse", 400, "Bad Status-Code"),
    "insuf": ("validate", 400, "Missing Call-ID"),
    "multi01": ("validate", 400, "Multiple CSeq values"),  # the first repeated one
    "mcl01": ("parse", 400, "Multiple Content-Length values"),
}

def _validate(msg: Request | Response) -> None:
    if isinstance(msg, Request):
        validate_request(msg)
    else:
        validate_response(msg)


def parse_valid(name: str) -> Request | Response:
    msg = parse_message(load_rfc4475(name))
    _validate(msg)
    return msg


def request(name: str) -> Request:
    msg = parse_valid(name)
    assert isinstance(msg, Request)
    return msg


def frame_stream(data: bytes, chunk: int | None) -> tuple[list[bytes], StreamFramer]:
    """Feed ``data`` whole (chunk None) or in ``chunk``-byte pieces; collect messages."""
    framer = StreamFramer()
    out: list[bytes] = []
    pieces = [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    for piece in pieces:
        framer.feed(piece)
        while (msg := framer.next_message()) is not None:
            out.append(msg)
    return out, framer


# -- the files themselves ----------------------------------------------------
def test_every_message_of_section_3_is_stored() -> None:
    assert len(rfc4475_names()) == 49
    assert set(rfc4475_names()) == set(VALID_REQUESTS) | set(VALID_RESPONSES) | set(INVALID)


def test_vector_files_match_the_readme_digests() -> None:
    table = _readme_digests()
    assert len(table) == 49
    for name, (size, digest) in table.items():
        data = load_rfc4475(name)
        assert len(data) == size, name
        assert hashlib.sha256(data).hexdigest() == digest, name


def _readme_digests() -> dict[str, tuple[int, str]]:
    from tests.vectors.loaders import RFC4475

    rows: dict[str, tuple[int, str]] = {}
    for line in (RFC4475 / "README.md").read_text().splitlines():
        cells = [c.strip().strip("`") for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[1].endswith(".dat"):
            rows[cells[1][:-4]] = (int(cells[2]), cells[3])
    return rows


# -- every valid message ------------------------------------------------------
@pytest.mark.parametrize("name", VALID_REQUESTS + VALID_RESPONSES)
def test_valid_message_parses_validates_and_round_trips(name: str) -> None:
    msg = parse_valid(name)
    again = parse_message(msg.to_bytes())
    _validate(again)
    assert again.start_line() == msg.start_line()
    assert [(f.key, f.value) for f in again.fields if f.key != "content-length"] == [
        (f.key, f.value) for f in msg.fields if f.key != "content-length"
    ]
    assert again.body == msg.body


@pytest.mark.parametrize(
    "name", [n for n in VALID_REQUESTS + VALID_RESPONSES if n not in ("dblreq", "inv2543")]
)
def test_untouched_valid_message_serialises_byte_for_byte(name: str) -> None:
    data = load_rfc4475(name)
    assert parse_message(data).to_bytes() == data


@pytest.mark.parametrize("chunk", [None, 1, 7])
@pytest.mark.parametrize(
    "name", [n for n in VALID_REQUESTS + VALID_RESPONSES if n not in ("dblreq", "inv2543")]
)
def test_valid_message_framed_from_a_stream(name: str, chunk: int | None) -> None:
    data = load_rfc4475(name)
    trailing = b"OPTIONS sip:next@example.com SIP/2.0\r\nVia: SIP/2"
    messages, framer = frame_stream(data + trailing, chunk)
    assert messages == [data]
    assert framer.buffered == len(trailing)


@pytest.mark.parametrize("name", VALID_REQUESTS + VALID_RESPONSES)
def test_valid_message_framed_as_a_datagram(name: str) -> None:
    data = load_rfc4475(name)
    framed = frame_datagram(data)
    assert parse_message(framed).to_bytes() == parse_message(data).to_bytes()


# -- every invalid message ----------------------------------------------------
@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_message_is_refused_naming_the_defect(name: str) -> None:
    stage, status, reason = INVALID[name]
    data = load_rfc4475(name)
    with pytest.raises(SipError) as info:
        msg = parse_message(data)
        assert stage == "validate", f"{name} parsed but should not have"
        _validate(msg)
    assert info.value.reason == reason
    assert info.value.status_hint == status


def test_stream_waits_for_the_body_clerr_announces() -> None:
    # §3.1.2.2: over TCP there is nothing to do but wait for more data.
    data = load_rfc4475("clerr")
    for chunk in (None, 1):
        messages, framer = frame_stream(data, chunk)
        assert messages == []
        assert framer.buffered == len(data)


def test_datagram_with_clerr_content_length_is_refused() -> None:
    with pytest.raises(SipParseError, match="Content-Length larger than body"):
        frame_datagram(load_rfc4475("clerr"))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("ncl", "Negative Content-Length"),
        ("mcl01", "Multiple Content-Length values"),
        ("inv2543", "Missing Content-Length on a stream transport"),
    ],
)
@pytest.mark.parametrize("chunk", [None, 1])
def test_stream_framing_error_is_unrecoverable(name: str, reason: str, chunk: int | None) -> None:
    # §3.1.2.3: over TCP the framing error cannot be recovered; close the connection.
    with pytest.raises(SipParseError) as info:
        frame_stream(load_rfc4475(name), chunk)
    assert info.value.reason == reason


# -- §3.1.1 valid messages: the values the RFC points out ---------------------
def test_wsinv_short_tortuous_invite() -> None:
    msg = request("wsinv")
    assert msg.method == "INVITE"
    uri = msg.uri
    assert isinstance(uri, SipUri)
    assert (uri.user, uri.host, uri.params.items()) == (
        "vivekg", "chair-dnrc.example.com", [("unknownparam", None)]
    )
    assert msg.to.uri == parse_uri("sip:vivekg@chair-dnrc.example.com")
    assert msg.to.tag == "1918181833n"
    assert msg.from_.display_name == 'J Rosenberg \\"'
    assert msg.from_.tag == "98asjd8"
    assert msg.max_forwards == 68  # leading zeros
    assert (msg.cseq.seq, msg.cseq.method) == (9, "INVITE")
    assert msg.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert [(v.transport, v.host, v.branch) for v in msg.vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert msg.count("via") == 3
    assert msg.get("subject") == ""
    assert msg.header_values("NewFangledHeader") == ["newfangled value continued newfangled value"]
    assert msg.get_all("UnknownHeaderWithUnusualValue") == [";;,,;;,;"]
    route = msg.routes[0]
    assert isinstance(route.uri, SipUri)
    assert route.uri.lr is True
    assert route.uri.params.get("unknownwith") == "value"
    assert "unknown-no-value" in route.uri.params
    contact = msg.contacts[0]
    assert contact.display_name == 'Quoted string ""'
    assert contact.params.items() == [("newparam", "newvalue"), ("secondparam", None), ("q", "0.33")]
    assert contact.q == 0.33
    assert msg.content_type == "application/sdp"
    assert len(msg.body) == 150


def test_wsinv_unknown_header_forwarded_unchanged() -> None:
    out = parse_message(load_rfc4475("wsinv")).to_bytes()
    assert b"NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n" in out
    assert b"\r\nUnknownHeaderWithUnusualValue: ;;,,;;,;\r\n" in out


def test_intmeth_wide_range_of_valid_characters() -> None:
    msg = request("intmeth")
    method = "!interesting-Method0123456789_*+`.%indeed'~"
    assert msg.method == method
    assert msg.cseq.method == method
    assert msg.cseq.seq == 139122385
    uri = msg.uri
    assert isinstance(uri, SipUri)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert uri.host == "example.com"
    assert msg.top_via.branch == "z9hG4bK-.!%66*_+`'~"
    assert msg.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert msg.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert msg.from_.params.get("fromParam''~+*_!.-%") == '"работающий"'
    assert msg.from_.tag == "_token~1'+`*%!-."
    assert msg.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert msg.max_forwards == 255
    assert msg.header_values("extensionHeader-!.%*+_`'~") == ["\ufeff大停電"]


def test_esc01_escapes_resolve_to_the_same_values() -> None:
    msg = request("esc01")
    uri = msg.uri
    assert isinstance(uri, SipUri)
    assert unescape(uri.user or "") == "sips:user@example.com"
    assert uri.host == "example.net"
    assert isinstance(msg.to.uri, SipUri) and unescape(msg.to.uri.user or "") == "user"
    assert isinstance(msg.from_.uri, SipUri) and unescape(msg.from_.uri.user or "") == "I have spaces"
    contact = msg.contacts[0].uri
    assert uri_equal(contact, parse_uri("sip:caller@host5.example.net;lr;name=value%2541"))
    assert msg.content_type == "application/sdp"  # compact form c


def test_escnull_escaped_nulls_in_uris() -> None:
    msg = request("escnull")
    assert isinstance(msg.to.uri, SipUri)
    assert unescape(msg.to.uri.user or "") == "null-\x00-null"
    users = [c.uri.user for c in msg.contacts if isinstance(c.uri, SipUri)]
    assert [unescape(u or "") for u in users] == ["\x00", "\x00\x00"]
    assert msg.body == b""


def test_esc02_percent_that_is_not_an_escape() -> None:
    msg = request("esc02")
    assert msg.method == "RE%47IST%45R"  # not REGISTER
    assert msg.to.display_name == "%Z%45"
    assert msg.top_via.branch == "z9hG4bK209%fzsnel234"
    assert [c.uri.host for c in msg.contacts if isinstance(c.uri, SipUri)] == [
        "host1.example.com", "host3.example.com"
    ]
    assert msg.header_values("C%6Fntact") == ["<sip:alias2@host2.example.com>"]


def test_lwsdisp_no_lws_between_display_name_and_angle() -> None:
    msg = request("lwsdisp")
    assert msg.from_.display_name == "caller"
    assert msg.from_.tag == "323"


def test_longreq_long_values_in_header_fields() -> None:
    msg = request("longreq")
    assert msg.to.display_name == "I have a user name of " + "extreme" * 10 + " proportion"
    to_uri = msg.to.uri
    assert isinstance(to_uri, SipUri) and to_uri.port == 6000
    assert to_uri.params.get("unknownparam1") == "very" + "long" * 20 + "value"
    assert to_uri.params.get("longparam" + "name" * 25) == "shortvalue"
    assert "very" + "long" * 25 + "ParameterNameWithNoValue" in to_uri.params
    assert msg.from_.tag == "1" + "298" * 50 + "2424"
    assert isinstance(msg.from_.uri, SipUri)
    assert msg.from_.uri.user == "amazinglylongcallername" * 5
    assert msg.call_id == "longreq.one" + "really" * 20 + "longcallid"
    unknown = "Unknown-" + "Long" * 20 + "-Name"
    assert msg.header_values(unknown)[0].startswith("unknown-" + "long" * 20 + "-value; ")
    assert len(msg.vias) == 34
    assert [v.host for v in msg.vias[:3]] == ["sip33.example.com", "sip32.example.com", "sip31.example.com"]
    assert msg.vias[-1].branch == "very" + "long" * 50 + "branchvalue"
    assert msg.vias[-1].received == "192.0.2.5"
    assert len(msg.body) == 150


def test_dblreq_extra_octets_in_a_datagram_are_ignored() -> None:
    data = load_rfc4475("dblreq")
    msg = request("dblreq")
    assert msg.method == "REGISTER"
    assert msg.body == b""
    assert b"INVITE" not in msg.to_bytes()
    framed = frame_datagram(data)
    assert framed == data[: data.index(b"\r\n\r\n") + 4]


def test_semiuri_semicolon_in_the_user_part() -> None:
    uri = request("semiuri").uri
    assert isinstance(uri, SipUri)
    assert (uri.user, uri.host, len(uri.params)) == ("user;par=u%40example.net", "example.com", 0)


def test_semiuri_folded_accept_list() -> None:
    assert request("semiuri").get_all("accept") == [
        "application/sdp", "application/pkcs7-mime", "multipart/mixed", "multipart/signed",
        "message/sip", "message/sipfrag",
    ]


def test_transports_varied_and_unknown_transport_types() -> None:
    msg = request("transports")
    assert [v.transport for v in msg.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    assert msg.call_id == "transports.kijh4akdnaqjkwendsasfdj"


def test_mpart01_binary_body_framed_by_content_length() -> None:
    msg = request("mpart01")
    assert len(msg.body) == 553
    assert b"\x00" in msg.body
    assert msg.body.endswith(b"--7a9cbec02ceef655--\r\n")
    assert msg.content_type == "multipart/mixed;boundary=7a9cbec02ceef655"


def test_unreason_utf8_reason_phrase() -> None:
    msg = parse_valid("unreason")
    assert isinstance(msg, Response)
    assert msg.status == 200
    assert msg.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"


def test_noreason_empty_reason_phrase() -> None:
    msg = parse_valid("noreason")
    assert isinstance(msg, Response)
    assert (msg.status, msg.reason) == (100, "")
    assert msg.to_bytes().startswith(b"SIP/2.0 100 \r\n")


# -- §3.2, §3.3 and §3.4: well-formed, handled above the parser ----------------
def test_badbranch_bare_magic_cookie_is_parsed() -> None:
    via = request("badbranch").top_via
    assert via.branch == "z9hG4bK"
    assert via.is_rfc3261_branch is True


def test_unkscm_and_novelsc_request_uri_schemes_kept_opaque() -> None:
    unknown = request("unkscm").uri
    assert isinstance(unknown, AbsoluteUri)
    assert (unknown.scheme, str(unknown)) == (
        "nobodyknowsthisscheme", "nobodyKnowsThisScheme:totallyopaquecontent"
    )
    novel = request("novelsc").uri
    assert isinstance(novel, AbsoluteUri)
    assert (novel.scheme, str(novel)) == ("soap.beep", "soap.beep://192.0.2.103:3002")


def test_unksm2_unknown_schemes_in_header_fields() -> None:
    msg = request("unksm2")
    assert str(msg.to.uri) == "isbn:2983792873"
    assert str(msg.from_.uri) == "http://www.example.com"
    assert msg.from_.tag == "3234233"
    assert str(msg.contacts[0].uri) == "name:John_Smith"


def test_bext01_option_tags_read() -> None:
    msg = request("bext01")
    assert msg.option_tags("require") == ["nothingsupportsthis", "nothingsupportsthiseither"]
    assert msg.option_tags("proxy-require") == ["noproxiessupportthis", "nordoanyproxiessupportthis"]


def test_invut_unknown_content_type_still_parses() -> None:
    msg = request("invut")
    assert msg.content_type == "application/unknownformat"
    assert msg.body == b'<audio>\r\n <pcmu port="443"/>\r\n</audio>\r\n'


def test_regaut01_unknown_authorization_scheme_kept() -> None:
    assert request("regaut01").get("authorization") == "NoOneKnowsThisScheme opaque-data=here"


def test_bcast_broadcast_via_value_parses() -> None:
    msg = parse_valid("bcast")
    assert [v.host for v in msg.vias] == ["192.0.2.198", "255.255.255.255"]


def test_zeromf_max_forwards_zero() -> None:
    assert request("zeromf").max_forwards == 0


def test_cparam01_parameter_belongs_to_the_contact_header() -> None:
    contact = request("cparam01").contacts[0]
    assert "unknownparam" in contact.params
    assert isinstance(contact.uri, SipUri) and len(contact.uri.params) == 0


def test_cparam02_parameter_belongs_to_the_uri() -> None:
    contact = request("cparam02").contacts[0]
    assert len(contact.params) == 0
    assert isinstance(contact.uri, SipUri) and "unknownparam" in contact.uri.params


def test_regescrt_escaped_route_in_contact_uri() -> None:
    uri = request("regescrt").contacts[0].uri
    assert isinstance(uri, SipUri)
    assert uri.headers == [("Route", "%3Csip:sip.example.com%3E")]
    assert unescape(uri.headers[0][1]) == "<sip:sip.example.com>"


def test_sdp01_accept_read() -> None:
    assert request("sdp01").get_all("accept") == ["text/nobodyKnowsThis"]


def test_baddate_is_kept_for_the_tu_to_judge() -> None:
    # §3.1.2.12: rejecting is allowed only if the Date matters; the core ignores it.
    assert request("baddate").get("date") == "Fri, 01 Jan 2010 16:00:00 EST"


def test_inv2543_rfc2543_syntax_accepted_on_a_datagram() -> None:
    msg = request("inv2543")
    assert msg.max_forwards is None
    assert msg.top_via.branch is None
    assert msg.top_via.is_rfc3261_branch is False
    assert msg.from_.tag is None
    assert len(msg.body) == 105  # no Content-Length: the rest of the datagram
    assert msg.to_bytes().count(b"Content-Length: 105\r\n") == 1
