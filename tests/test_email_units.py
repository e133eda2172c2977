"""Unit checks of the email connector's pure parts: charsets, headers, HTML, IMAP wire parsing."""

from __future__ import annotations

import pytest

from meshclaw.connectors.email.client import _last_uid, imap_quote
from meshclaw.connectors.email.compose import clean_addresses, message_id_for
from meshclaw.connectors.email.errors import MailError
from meshclaw.connectors.email.imap_wire import parse_fetch, parts
from meshclaw.connectors.email.reading import decode_transfer
from meshclaw.connectors.email.safe_text import clean_text, decode_bytes, decode_header_value, html_to_text


@pytest.mark.parametrize("data, charset, text, note", [
    ("café".encode("utf-8"), "utf-8", "café", None),
    ("café".encode("latin-1"), "utf-8", "café", "text was not valid utf-8; decoded as cp1252"),
    ("café".encode("utf-8"), "x-bogus", "café", "unknown charset 'x-bogus'; decoded as utf-8"),
    ("café".encode("cp1252"), None, "café", "no charset declared; decoded as cp1252"),
    (b"plain", None, "plain", None),
    (b"\\u0041", "unicode_escape", "\\u0041", "unknown charset 'unicode_escape'; decoded as utf-8"),
])
def test_decode_bytes(data, charset, text, note):
    assert decode_bytes(data, charset) == (text, note)


def test_decode_header_value():
    assert decode_header_value("=?utf-8?q?Caf=C3=A9?= =?iso-8859-1?b?6Q==?= ok") == "Caféé ok"
    assert decode_header_value("Re: caf\udce9") == "Re: café"  # raw latin-1 byte kept as a surrogate
    assert decode_header_value("a\u202eb\u200bc\r\n d") == "abc d"
    assert decode_header_value("x" * 500, limit=10) == "x" * 10 + " …"
    assert decode_header_value(None) == ""


def test_clean_text_removes_invisible_characters_and_caps():
    assert clean_text("a\u200bb\x00c\n\n\n\nd", 100) == ("abc\n\nd", False)
    assert clean_text("abcdef", 3) == ("abc …", True)


def test_html_to_text_on_broken_and_hostile_html():
    text, notes = html_to_text(
        "<html><head><title>t</title><style>x{}</style></head><body><p>Hello <b>there"
        "</i></p><iframe src='http://x.example'>frame text</iframe><div hidden>secret <span>one</span></div>"
        "<a href='https://a.example'>https://a.example</a> <a href='javascript:alert(1)'>click</a>"
        "<ul><li>one<li>two</ul><p>unclosed <span>end"
    )
    assert "Hello there" in text and "frame text" not in text and "t\n" not in text
    assert "[hidden text: secret one]" in text
    assert "https://a.example" in text and "<https://a.example>" not in text  # same text: not repeated
    assert "click" in text and "javascript" not in text
    assert "- one\n- two" in text and text.rstrip().endswith("unclosed end")
    assert any("active content" in n for n in notes)


def test_html_input_is_capped():
    text, notes = html_to_text("<p>" + "word " * 300_000 + "</p>")
    assert any("was cut" in n for n in notes) and len(text) < 1_100_000


def test_parse_fetch_with_literals_and_bracketed_items():
    data = [
        (b'1 (UID 7 FLAGS (\\Seen $label) RFC822.SIZE 42 BODY[HEADER.FIELDS (FROM SUBJECT)] {20}', b"From: a@b.example\r\n\r\n"),
        b")",
        (b'2 (UID 8 FLAGS () BODY[1]<0> {3}', b"abc"),
        b' BODYSTRUCTURE ("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 3 1 NIL NIL NIL NIL))',
    ]
    first, second = parse_fetch(data)
    assert first["UID"] == "7" and first["FLAGS"] == ["\\Seen", "$label"] and first["RFC822.SIZE"] == "42"
    assert first["BODY[HEADER.FIELDS (FROM SUBJECT)]"] == b"From: a@b.example\r\n\r\n"
    assert second["BODY[1]<0>"] == b"abc"
    [leaf] = parts(second["BODYSTRUCTURE"])
    assert (leaf.section, leaf.type, leaf.charset, leaf.size) == ("1", "text/plain", "utf-8", 3)


def test_bodystructure_of_nested_multipart_with_an_attachment():
    data = [b'1 (UID 3 BODYSTRUCTURE ((("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 10 1 NIL NIL NIL NIL)'
            b'("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 20 1 NIL NIL NIL NIL) "alternative" '
            b'("boundary" "b2") NIL NIL NIL)("application" "pdf" ("name" "a.pdf") NIL NIL "base64" 7800 NIL '
            b'("attachment" ("filename" "r\\"eport.pdf")) NIL NIL) "mixed" ("boundary" "b1") NIL NIL NIL))']
    [msg] = parse_fetch(data)
    leafs = parts(msg["BODYSTRUCTURE"])
    assert [(p.section, p.type) for p in leafs] == [("1.1", "text/plain"), ("1.2", "text/html"), ("2", "application/pdf")]
    pdf = leafs[2]
    assert pdf.is_attachment and pdf.filename == 'r"eport.pdf' and pdf.decoded_size == 5700
    assert not leafs[0].is_attachment


def test_decode_transfer():
    assert decode_transfer(b"aGVsbG8=\r\n!!bad!!\r\nIHdvcmxk\r\n", "base64") == (b"hello world", "1 line(s) of broken base64 skipped")
    assert decode_transfer(b"aGVsbG8gd29y", "base64") == (b"hello wor", None)
    assert decode_transfer(b"caf=C3=A9", "quoted-printable") == ("café".encode(), None)
    assert decode_transfer(b"x", "x-uuencode")[1] == "unknown transfer encoding 'x-uuencode'; shown undecoded"


def test_uidplus_answers_and_quoting():
    assert _last_uid([b"[APPENDUID 1700000000 42] Append completed."]) == 42
    assert _last_uid([b"1700000000 5 12"]) == 12
    assert _last_uid([b"[COPYUID 1700000000 3:5 10:12] Moved"]) == 12
    assert _last_uid([b"Done"]) is None
    assert imap_quote('a "b"\r\nc\\') == '"a \\"b\\"  c\\\\"'


def test_message_ids_and_addresses():
    assert message_id_for("run-1:t1", "example.com") == message_id_for("run-1:t1", "example.com")
    assert message_id_for("run-1:t1", "example.com") != message_id_for("run-1:t2", "example.com")
    assert message_id_for("k", "example.com").endswith("@example.com>")
    assert clean_addresses(["Bob <bob@example.com>", "carol@example.com"], "to") == ["bob@example.com", "carol@example.com"]
    with pytest.raises(MailError):
        clean_addresses(["bob@"], "to")
    with pytest.raises(MailError, match="at most 50"):
        clean_addresses([f"u{i}@example.com" for i in range(51)], "to")
