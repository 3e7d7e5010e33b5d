"""``ims-cli registrations``: rows from an S-CSCF ``/status`` document and their table."""

from __future__ import annotations

from ims.runtime.registrations_cli import registration_rows, render_registrations

SCSCF = "sip:scscf.ims.example:6060"
STATUS = {"registrations": [
    {"impi": "001010000000001@ims.example",
     "impus": ["tel:+15550001", "sip:+15550001@ims.example"],
     "contacts": [{"uri": "sip:a@10.0.0.1:5060", "expires": 590,
                   "pcscf": "<sip:term@pcscf.ims.example:5060;lr>"},
                  {"uri": "sip:a@10.0.0.2:5060", "expires": 30, "pcscf": None}]},
]}


def test_one_row_per_contact_with_the_serving_scscf() -> None:
    rows = registration_rows(STATUS, SCSCF)
    assert [r["contact"] for r in rows] == ["sip:a@10.0.0.1:5060", "sip:a@10.0.0.2:5060"]
    assert rows[0] == {"impi": "001010000000001@ims.example",
                       "impus": ["tel:+15550001", "sip:+15550001@ims.example"],
                       "contact": "sip:a@10.0.0.1:5060", "expires": 590,
                       "pcscf": "<sip:term@pcscf.ims.example:5060;lr>", "scscf": SCSCF}


def test_table_lists_every_column() -> None:
    lines = render_registrations(registration_rows(STATUS, SCSCF)).splitlines()
    assert lines[0].split() == ["IMPI", "IMPUS", "CONTACT", "EXPIRES", "P-CSCF", "S-CSCF"]
    assert lines[1].split() == ["001010000000001@ims.example",
                                "tel:+15550001,sip:+15550001@ims.example", "sip:a@10.0.0.1:5060",
                                "590s", "<sip:term@pcscf.ims.example:5060;lr>", SCSCF]
    assert lines[2].split()[3:5] == ["30s", "-"]


def test_no_registrations() -> None:
    assert registration_rows({"registrations": []}, SCSCF) == []
    assert render_registrations([]) == "no registrations"
