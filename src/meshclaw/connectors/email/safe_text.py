"""Turning what a mail sender wrote into plain, bounded text: charsets, encoded headers, HTML.

Nothing here executes or fetches anything: HTML goes through the standard library's tokenizer,
scripts and styles are dropped, links are shown with their real target, text the sender hid from
human readers is kept but marked, and invisible formatting characters (zero-width, bidi overrides)
are removed. Every function also reports what it had to do, as short notes for the model.
"""

from __future__ import annotations

import codecs
import email.errors
import email.header
import re
import unicodedata
from html.parser import HTMLParser

HTML_INPUT_CAP = 1_000_000  # characters of HTML parsed at most: a huge page is cut, not rendered whole

# Codecs that turn arbitrary bytes into escape-interpreted text: never what a mail sender means.
# (codecs.lookup() names; bytes-to-bytes codecs such as base64 are refused by bytes.decode itself.)
_REFUSED_CODECS = {"unicode-escape", "raw-unicode-escape", "punycode", "idna", "undefined", "rot-13"}


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    name = charset.strip().strip("\"'").lower()
    try:
        found = codecs.lookup(name).name
    except (LookupError, ValueError):
        return None
    return None if found in _REFUSED_CODECS else found


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode a body part. Returns the text and a note when the charset was missing or wrong."""
    codec = _codec(charset)
    if codec is not None:
        try:
            return data.decode(codec), None
        except UnicodeDecodeError:
            pass
    # Missing, unknown or lying charset: UTF-8 if the bytes are valid UTF-8 (by far the most common
    # truth), else Windows-1252, which is what "latin-1" mail usually really is.
    for fallback in ("utf-8", "cp1252"):
        try:
            text = data.decode(fallback)
            break
        except UnicodeDecodeError:
            continue
    else:
        fallback = "latin-1"
        text = data.decode("latin-1")
    if charset and codec is None:
        note = f"unknown charset {charset.strip()[:40]!r}; decoded as {fallback}"
    elif charset:
        note = f"text was not valid {charset.strip()[:40]}; decoded as {fallback}"
    elif any(b > 127 for b in data):
        note = f"no charset declared; decoded as {fallback}"
    else:
        note = None
    return text, note


_WORD = r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?="
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_WORD_RUN = re.compile(rf"{_WORD}(?:\s*{_WORD})*")
_B64_PAYLOAD = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _broken(word: re.Match[str]) -> bool:
    """An encoded word whose payload cannot be what its encoding says (base64 with stray characters
    or an impossible length). Q payloads always decode: a stray "=" stays as written."""
    if word.group(2).upper() != "B":
        return False
    payload = word.group(3)
    return not _B64_PAYLOAD.fullmatch(payload) or len(payload.rstrip("=")) % 4 == 1


def _decode_run(run: str, notes: list[str]) -> str:
    """Decode adjacent encoded words with the standard library's decoder, which joins the bytes of
    neighbours in one charset before decoding them (RFC 2047 6.2: the whitespace between them is
    not text), so a character split across two words comes out whole."""
    try:
        pieces = email.header.decode_header(run)
    except email.errors.HeaderParseError:
        notes.append("an encoded word could not be decoded; shown as written")
        return run
    out = []
    for data, charset in pieces:
        if isinstance(data, str):
            out.append(data)
            continue
        # "utf-8*en": RFC 2231 adds a language after the charset.
        text, note = decode_bytes(data, charset.split("*")[0] if charset else None)
        out.append(text)
        if note:
            notes.append(note)
    return "".join(out)


def decode_header_notes(value: str | bytes | None, limit: int = 300) -> tuple[str, list[str]]:
    """Decode a header with RFC 2047 encoded words (``=?utf-8?b?...?=``) into one clean line of
    bounded length, and say what had to be guessed.

    Adjacent encoded words are joined before decoding (RFC 2047 6.2; the joining is the standard
    library's email.header.decode_header). email.policy.default decodes well-formed headers the
    same way (tests check that), but it drops a broken word without a trace and turns an unknown
    charset into U+FFFD, so it is not used here. An unknown or lying charset
    falls back as body text does (decode_bytes) with a note; a broken encoded word is shown as the
    sender wrote it, with a note, never dropped. Raw 8-bit headers (common, though not allowed by
    RFC 5322) are decoded like bodies without a charset. Returns (text, notes).
    """
    if value is None:
        return "", []
    notes: list[str] = []
    if isinstance(value, bytes) or re.search("[\udc80-\udcff]", value):
        # The email package keeps undecodable header bytes as surrogate escapes: get the bytes back.
        raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
        text, raw_note = decode_bytes(raw, None)
        notes += [raw_note.replace("no charset declared", "raw 8-bit header")] if raw_note else []
    else:
        text = value
    out, pos = [], 0
    for run in _WORD_RUN.finditer(text):
        out.append(text[pos : run.start()])
        pos = run.end()
        good: list[str] = []
        gap_start, after_broken = run.start(), False
        for word in _ENCODED_WORD.finditer(text, run.start(), run.end()):
            gap = text[gap_start : word.start()]
            gap_start = word.end()
            if _broken(word):
                if good:
                    out.append(_decode_run(" ".join(good), notes))
                    good = []
                # A broken word is text, so the whitespace around it is text too.
                out.append(gap + word.group(0))
                notes.append("a broken encoded word is shown as written")
                after_broken = True
                continue
            if after_broken:
                out.append(gap)
                after_broken = False
            good.append(word.group(0))
        if good:
            out.append(_decode_run(" ".join(good), notes))
    out.append(text[pos:])
    decoded, _ = clean_text("".join(out), limit)
    return " ".join(decoded.split()), list(dict.fromkeys(notes))


def decode_header_value(value: str | bytes | None, limit: int = 300) -> str:
    """decode_header_notes without the notes: the decoded, cleaned, bounded text only."""
    return decode_header_notes(value, limit)[0]


def clean_text(text: str, max_chars: int) -> tuple[str, bool]:
    """Remove control and invisible formatting characters, tidy blank lines, cap the length.

    Returns the text and whether it was cut.
    """
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    # Cc/Cf cover NUL, escape sequences, zero-width spaces and bidi overrides, which can hide or
    # reorder what a person would see; tabs and newlines stay.
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf"))
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if len(text) > max_chars:
        return text[:max_chars].rstrip() + " …", True
    return text, False


def invisible_count(text: str) -> int:
    return sum(1 for ch in text if ch not in "\n\t\r" and unicodedata.category(ch) in ("Cc", "Cf"))


_SKIP = {"script", "style", "head", "template", "noscript", "iframe", "object", "embed", "svg", "math", "frameset"}
_BLOCK = {
    "p", "div", "br", "tr", "table", "ul", "ol", "blockquote", "hr", "section", "article", "header",
    "footer", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "address", "center", "dl", "dt", "dd", "form",
}
_VOID = {"br", "img", "hr", "meta", "link", "input", "wbr", "col", "area", "base", "source", "track", "param"}
_HIDDEN_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?![.\d]*[1-9])|opacity\s*:\s*0(?![.\d]*[1-9])"
    r"|max-height\s*:\s*0(?![.\d]*[1-9])|(?<![-\w])height\s*:\s*0(?![.\d]*[1-9])",
    re.I,
)


class _Renderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[tuple[str, bool, str | None]] = []  # (tag, opened hidden span, link target)
        self.skip_depth = 0
        self.hidden_depth = 0
        self.dropped: set[str] = set()
        self.hidden_seen = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag in _SKIP:
            if tag not in _VOID:
                self.skip_depth += 1
                self.stack.append((tag, False, None))
            self.dropped.add(tag)
            return
        if self.skip_depth:
            if tag not in _VOID:
                self.stack.append((tag, False, None))
            return
        if tag in _BLOCK:
            self.out.append("\n")
        if tag == "li":
            self.out.append("\n- ")
        elif tag in ("td", "th"):
            self.out.append(" ")
        elif tag == "img":
            alt = a.get("alt", "").strip()
            if alt:
                self.out.append(f"[image: {alt[:100]}]")
        if tag in _VOID:
            return
        hides = "hidden" in a or bool(_HIDDEN_STYLE.search(a.get("style", "")))
        if hides and not self.hidden_depth:
            self.out.append(" [hidden text: ")
            self.hidden_seen = True
        if hides:
            self.hidden_depth += 1
        href = a.get("href", "").strip() if tag == "a" else None
        self.stack.append((tag, hides, href or None))
        if href is not None:
            self.out.append("\x00")  # marks where the link text starts, replaced in handle_endtag

    def handle_endtag(self, tag: str) -> None:
        if not any(t == tag for t, _, _ in self.stack):
            return  # a stray end tag in broken HTML: ignore it rather than unwind everything
        while self.stack:
            open_tag, hides, href = self.stack.pop()
            if open_tag in _SKIP:
                self.skip_depth -= 1
            if hides:
                self.hidden_depth -= 1
                if not self.hidden_depth:
                    self.out.append("] ")
            if open_tag == "a" and not self.skip_depth:
                self._close_link(href)
            if open_tag == tag:
                break
        if tag in _BLOCK and not self.skip_depth:
            self.out.append("\n")

    def _close_link(self, href: str | None) -> None:
        # Find the marker put at the link's start; show the real target after the text, since the
        # text a sender shows ("your bank") and where it goes can differ.
        for i in range(len(self.out) - 1, -1, -1):
            if self.out[i] == "\x00":
                text = "".join(self.out[i + 1 :]).strip()
                del self.out[i:]
                target = (href or "").strip()
                if target.lower().startswith(("http:", "https:", "mailto:")) and target != text:
                    self.out.append(f"{text} <{target[:300]}>" if text else f"<{target[:300]}>")
                else:
                    self.out.append(text)
                return

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.out.append(data)

    def text(self) -> str:
        while self.stack:  # unclosed tags at the end of broken HTML
            self.handle_endtag(self.stack[-1][0])
        raw = "".join(s for s in self.out if s != "\x00")
        lines = [" ".join(line.split()) for line in raw.split("\n")]
        return "\n".join(lines)


def html_to_text(html: str) -> tuple[str, list[str]]:
    """Render HTML as plain text without executing or loading anything. Returns text and notes."""
    notes = []
    if len(html) > HTML_INPUT_CAP:
        html = html[:HTML_INPUT_CAP]
        notes.append(f"HTML longer than {HTML_INPUT_CAP:,} characters was cut")
    r = _Renderer()
    try:
        r.feed(html)
        r.close()
    except Exception:  # the stdlib tokenizer is lenient; this is a last line of defence
        notes.append("HTML could not be fully parsed; the text may be incomplete")
    text = r.text()
    if r.dropped & {"script", "iframe", "object", "embed"}:
        notes.append("active content (scripts, frames, objects) removed")
    if r.hidden_seen:
        notes.append("the sender hid some text from human readers; it is shown marked as [hidden text: ...]")
    return text, notes
