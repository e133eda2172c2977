"""What code can tell about one message before any model sees it.

    ev = evidence_of(raw_bytes, owner=Owner(address="alice@example.com", domains=("example.com",)),
                     history=History(contacts={"bob@example.com"}, sent_ids={"<x@example.com>"}))
    ev.signals        # ("bulk: List-Unsubscribe", "look-alike of example.com", ...)

Every signal is read from headers and structure a sender cannot hide from the receiving server, or
from the owner's own history, never from what the text claims about itself:

- authentication: the receiving server's ``Authentication-Results`` (RFC 8601: spf, dkim, dmarc);
- bulk mail: ``List-Id`` (RFC 2919), ``List-Unsubscribe`` (RFC 2369 / RFC 8058), ``Precedence: bulk``,
  ``Auto-Submitted`` (RFC 3834), ``Feedback-ID``;
- the sender's domain against the organisation's and the owner's contacts' domains (look-alikes:
  one or two edits, digits for letters, an IDN ``xn--`` label, or a known name under another suffix);
- a display name that names another address or an insider while the mail comes from outside;
- links whose shown text names a different host than their target (or a raw IP address);
- the owner's history: senders the owner wrote to, threads the owner took part in (``In-Reply-To`` /
  ``References`` naming a Message-ID from the owner's Sent folder);
- structure: a calendar part (RFC 5546 METHOD), attachments whose name hides an executable.

Pure functions; nothing here touches a server.
"""

from __future__ import annotations

import email
import email.policy
import ipaddress
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from urllib.parse import urlsplit

from meshclaw.domain.addresses import address_or_none
from meshclaw.connectors.email.reading import header_block, parsed_view
from meshclaw.connectors.email.safe_text import decode_header_value

FREEMAIL = ("gmail.", "outlook.", "hotmail.", "yahoo.", "freemail.", "gmx.", "proton", "icloud.", "aol.", "mail.")
EXECUTABLE = re.compile(r"\.(exe|scr|js|vbs|bat|cmd|com|pif|jar|msi|iso|lnk|hta)$", re.I)
CREDENTIAL = re.compile(
    r"\b(verify|confirm|validate|re-?activate|unlock|restore)\b.{0,40}\b(account|password|identity|mailbox|login|"
    r"credentials?|details)\b|\b(password|passcode|login|sign[ -]?in)\b.{0,30}\b(expire|suspend|lock|verify|"
    r"reset)|\b(suspended|locked|deactivated|disabled)\b.{0,30}\baccount\b|\bbank details\b"
    r".{0,40}\bchang|\bwire\b.{0,30}\btransfer\b|\bseed phrase\b|\b(buy|purchase|pick up|get)\b.{0,30}\bgift ?cards?\b|"
    r"\bgift ?card codes?\b|\b(scratch|send)\b.{0,20}\bcodes\b", re.I | re.S)
# Time pressure: words that say something is wrong or due now ("now" cues), and words of pressure
# without a time (a deadline some day, a threatened escalation): only the first make a mail urgent.
URGENCY = re.compile(r"\b(urgent|asap|immediately|right away|within the hour|by \d{1,2}[:.]\d{2}|"
                     r"(by|before|until) (today|tonight|noon|this (morning|afternoon|evening))|today (by|before) |due today|"
                     r"deadline (is )?today|"
                     r"outage|is down|are down|down since|not working|stopped working|broken|blocked|blocks|"
                     r"failing|failed|halted|stuck|returns? 5\d\d|5\d\d errors?|p1|sev ?1|critical|firing|"
                     r"leak(ed)?|breach)\b", re.I)
PRESSURE = re.compile(r"\b(escalat\w+|deadline|eod|end of day|overdue)\b", re.I)
# Commercial language: without any of it, a stranger's mail is not unsolicited selling (spam).
COMMERCIAL = re.compile(r"\b(offers?|discount\w*|\d+ ?% (off|discount)|free|deals?|sale|prices?|pricing|buy|order now|"
                        r"demo|leads|seo|ranking|marketing|promo\w*|prizes?|won|winner|congratulations|gift|"
                        r"limited time|exclusive|guarantee\w*|invest\w*|crypto|loans?|casino|cheap|save|savings|"
                        r"partnership|our (services?|solution|platform|product|agency|team can)|we (help|offer|"
                        r"provide|specialise|specialize)|unsubscribe|opt[- ]out|subscribe|trial|quote|"
                        r"sponsor\w*|webinar|backlinks?|traffic|revenue|growth|boost|grow your|increase your)\b|"
                        r"[$€£¥]\s?\d", re.I)
REQUEST = re.compile(r"\?|\b(can|could|would|will) you\b|\bplease (send|review|confirm|reply|let me know|"
                     r"advise|check|approve|sign|add|submit|share|tell)\b|\blet me know\b|\bare you (free|able|"
                     r"available)\b|\bneed (you|your)\b|\bwhat do you think\b|\bget back to me\b|\baction required\b|"
                     r"\bmanual action\b|\bwaiting on you\b|\bplease\b|\bi'?d like\b|\bi need\b|\bkindly\b|"
                     # the same in other languages the owner's correspondents write: question marks and "please"
                     r"[？¿]|お願い|ください|下さい|请|請|부탁|\bbitte\b|\bpor favor\b|s'il vous pla[iî]t|"
                     r"\bper favore\b|\bpor gentileza\b|\bproszę\b|\bpros[ií]m\b|\bvänligen\b|\balstublieft\b", re.I)
AUTOMATED_LOCAL = re.compile(r"^(no-?reply|do-?not-?reply|notifications?|alerts?|ci|bot|robot|mailer(-daemon)?|"
                             r"monitoring|scheduler|system|postmaster|bounce)s?[-._+0-9a-z]*$", re.I)


# A display name that says a machine sends it ("Deploy Bot", "Build Notifications", "Jenkins").
AUTOMATED_NAME = re.compile(r"\b(bot|robot|automation|automated|no[- ]?reply|notifications?|alerts?|monitoring|"
                            r"jenkins|github|gitlab|pagerduty|opsgenie|ci|ci/cd)\b", re.I)


@dataclass(frozen=True)
class Owner:
    """Whose inbox: the owner's address and the organisation's mail domains (lower case)."""

    address: str
    domains: tuple[str, ...] = ()
    insiders: tuple[str, ...] = ()  # display names of people in the organisation ("Bob Manager")


@dataclass(frozen=True)
class History:
    """What the owner's own mail says: addresses the owner wrote to and Message-IDs the owner sent."""

    contacts: frozenset[str] = frozenset()
    sent_ids: frozenset[str] = frozenset()

    @property
    def contact_domains(self) -> frozenset[str]:
        return frozenset(c.rpartition("@")[2] for c in self.contacts)


@dataclass
class Evidence:
    """Facts about one message; ``signals`` lists them in words for the model and the briefing."""

    sender: str = ""
    sender_name: str = ""
    subject: str = ""
    text: str = ""
    internal: bool = False
    known_sender: bool = False
    in_thread: bool = False
    to_owner: bool = False
    auth: dict[str, str] = field(default_factory=dict)
    bulk: list[str] = field(default_factory=list)
    automated: bool = False
    lookalike_of: str = ""
    spoofed_name: str = ""
    reply_to_elsewhere: str = ""
    mismatched_links: list[str] = field(default_factory=list)
    link_hosts: list[str] = field(default_factory=list)
    credential_ask: bool = False
    urgency: list[str] = field(default_factory=list)
    pressure: list[str] = field(default_factory=list)
    commercial: list[str] = field(default_factory=list)
    asks: bool = False
    executable: list[str] = field(default_factory=list)
    calendar: dict[str, str] = field(default_factory=dict)
    hidden_text: bool = False
    rendered_html: str = ""  # the HTML part as text, hidden parts included (for injection checks only)

    @property
    def auth_failed(self) -> bool:
        return any(v in ("fail", "softfail", "permerror", "hardfail") for v in self.auth.values())

    @property
    def signals(self) -> tuple[str, ...]:
        s = []
        s.append("sender inside the organisation" if self.internal else "sender outside the organisation")
        if self.known_sender:
            s.append("the owner has written to this sender before")
        elif not self.internal:
            s.append("first mail from this sender (never written to)")
        if self.in_thread:
            s.append("reply in a thread the owner took part in")
        s.append("addressed to the owner directly" if self.to_owner else "owner only in Cc or a list")
        if self.auth:
            s.append("authentication: " + ", ".join(f"{k}={v}" for k, v in sorted(self.auth.items())))
        s += [f"bulk mail: {b}" for b in self.bulk]
        if self.automated:
            s.append("sent by an automated system")
        if self.lookalike_of:
            s.append(f"sender domain imitates {self.lookalike_of}")
        if self.spoofed_name:
            s.append(f"display name claims {self.spoofed_name!r} but mail comes from outside")
        if self.reply_to_elsewhere:
            s.append(f"replies would go elsewhere ({self.reply_to_elsewhere})")
        s += [f"link text and target differ: {m}" for m in self.mismatched_links]
        if self.credential_ask:
            s.append("asks for credentials, payment or gift cards")
        if self.executable:
            s.append("executable attachment: " + ", ".join(self.executable))
        if self.urgency:
            s.append("time pressure words: " + ", ".join(self.urgency[:4]))
        if self.pressure:
            s.append("mentions a later deadline or an escalation: " + ", ".join(self.pressure[:3]))
        if self.asks:
            s.append("asks the owner a question or for an action")
        if self.calendar:
            s.append(f"calendar {self.calendar.get('method', 'REQUEST').upper()}: {self.calendar.get('summary', '')}")
        if self.hidden_text:
            s.append("contains hidden text")
        return tuple(s)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self.hidden = False
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        style = (a.get("style") or "").replace(" ", "").lower()
        if "display:none" in style or "font-size:0" in style or "visibility:hidden" in style:
            self.hidden = True
        if tag == "a":
            self._href, self._text = a.get("href") or "", []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append(("".join(self._text).strip(), self._href.strip()))
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)


def host_of(url: str) -> str:
    """The lower-case host of a URL ("" when it has none)."""
    try:
        return (urlsplit(url if "//" in url else "//" + url).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def _registrable(host: str) -> str:
    parts = host.split(".")
    return ".".join(parts[-2:]) if len(parts) >= 2 else host


def _edits(a: str, b: str, limit: int = 2) -> int:
    """Levenshtein distance of ``a`` and ``b``, stopping early past ``limit`` (O(len·limit))."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return prev[-1]


_CONFUSABLE = str.maketrans({"0": "o", "1": "l", "3": "e", "5": "s", "7": "t", "|": "l", "i": "l"})


def lookalike(domain: str, trusted: set[str]) -> str:
    """The trusted domain ``domain`` imitates, or "" (same registrable domain is not a look-alike)."""
    if not domain or not trusted:
        return ""
    mine = _registrable(domain)
    for good in sorted(trusted):
        theirs = _registrable(good)
        if mine == theirs or domain.endswith("." + good) or not theirs:
            continue
        a, b = mine.split(".")[0], theirs.split(".")[0]
        if "xn--" in domain and len(a) >= 4:
            return good
        if len(b) >= 4 and (a.translate(_CONFUSABLE).replace("rn", "m") == b.translate(_CONFUSABLE).replace("rn", "m")
                            or (len(b) >= 6 and _edits(a, b) <= (2 if len(b) >= 8 else 1))):
            return good
        if len(b) >= 5 and (a.startswith(b + "-") or a.endswith("-" + b) or (b in a.split("-"))):
            return good
    return ""


def _auth_results(msg: Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in msg.get_all("Authentication-Results", []) or []:
        for method, result in re.findall(r"\b(spf|dkim|dmarc)\s*=\s*([a-z]+)", str(value), re.I):
            out.setdefault(method.lower(), result.lower())
    return out


def _bulk(msg: Message) -> list[str]:
    found = [h for h in ("List-Id", "List-Unsubscribe", "Feedback-ID", "List-Post") if msg.get(h)]
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in ("bulk", "list", "junk"):
        found.append(f"Precedence: {precedence}")
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto and auto != "no":
        found.append(f"Auto-Submitted: {auto}")
    return found


def _html_of(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/html" and not part.is_multipart():
            payload = part.get_payload(decode=True) or b""
            return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    return ""


def _links(msg: Message, text: str) -> tuple[list[str], list[str], bool]:
    parser = _Links()
    html = _html_of(msg)
    try:
        parser.feed(html[:500_000])
    except Exception:  # noqa: BLE001 - broken HTML gives fewer links, never an error
        pass
    hosts, mismatched = [], []
    for shown, href in parser.links:
        target = host_of(href)
        if not target:
            continue
        hosts.append(target)
        named = re.search(r"(?:https?://)?([a-z0-9-]+(?:\.[a-z0-9-]+)+)", shown, re.I)
        if named and _registrable(host_of(named.group(0))) != _registrable(target):
            mismatched.append(f"shows {host_of(named.group(0))}, goes to {target}")
        try:
            ipaddress.ip_address(target)
            mismatched.append(f"goes to a raw address {target}")
        except ValueError:
            pass
    hosts += [host_of(u) for u in re.findall(r"https?://[^\s<>\"')]+", text)]
    return list(dict.fromkeys(h for h in hosts if h)), mismatched, parser.hidden


def _quoted_removed(text: str) -> str:
    keep = []
    for line in text.splitlines():
        if line.lstrip().startswith(">") or re.match(r"^On .{0,80} wrote:$", line.strip()):
            continue
        keep.append(line)
    return "\n".join(keep)


def _header(msg: Message, name: str) -> str:
    value = msg.get(name, "")
    try:
        return decode_header_value(value if isinstance(value, (str, bytes)) else str(value), limit=500)
    except Exception:  # noqa: BLE001 - an unreadable header is an empty one
        return ""


def _head(raw: bytes) -> bytes:
    for sep in (b"\r\n\r\n", b"\n\n"):
        if sep in raw:
            return raw.split(sep, 1)[0]
    return raw


def evidence_of(raw: bytes, owner: Owner, history: History = History()) -> Evidence:
    """The evidence about one RFC 5322 message (``raw`` bytes as the server holds them).

    Never raises on malformed mail: what cannot be read is simply not evidence."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    name, sender = parseaddr(_header(msg, "From"))
    sender = (address_or_none(sender) or "").lower()  # not exactly one well-formed address: no sender
    domain = sender.rpartition("@")[2]
    org = {d.lower() for d in owner.domains}
    ev = Evidence(sender=sender, sender_name=name, subject=_header(msg, "Subject")[:300])
    notes: list[str] = []
    try:
        text, attachments, calendar, _shape = parsed_view(msg, header_block(_head(raw)), notes)
    except Exception:  # noqa: BLE001 - a body that cannot be parsed is an empty body
        text, attachments, calendar = "", [], {}
    ev.text, ev.calendar = text, dict(calendar)
    ev.internal = bool(domain) and any(domain == d or domain.endswith("." + d) for d in org)
    ev.known_sender = sender in history.contacts
    refs = set(re.findall(r"<[^<>\s]+>", f"{msg.get('In-Reply-To', '')} {msg.get('References', '')}"))
    ev.in_thread = bool(refs & set(history.sent_ids))
    recipients = [a.lower() for _, a in getaddresses([str(v) for v in msg.get_all("To", []) or []])]
    ev.to_owner = owner.address.lower() in recipients
    ev.auth = _auth_results(msg)
    ev.bulk = _bulk(msg)
    ev.automated = (bool(AUTOMATED_LOCAL.match(sender.partition("@")[0])) or bool(AUTOMATED_NAME.search(name))
                    or any(b.startswith("Auto-") for b in ev.bulk))
    trusted = org | set(history.contact_domains)
    ev.lookalike_of = "" if ev.internal else lookalike(domain, trusted)
    if not ev.internal:
        shown = name.lower()
        named = re.search(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)", shown)
        if named and named.group(1) != domain:
            ev.spoofed_name = name
        elif shown and any(i.lower() in shown for i in owner.insiders if len(i) >= 5):
            ev.spoofed_name = name
        elif any(d.split(".")[0] in shown.replace(" ", "") for d in org if len(d.split(".")[0]) >= 5) \
                and domain.startswith(FREEMAIL):
            ev.spoofed_name = name
    _, reply_to = parseaddr(_header(msg, "Reply-To"))
    reply_domain = reply_to.lower().rpartition("@")[2]
    if reply_to and _registrable(reply_domain) != _registrable(domain):
        ev.reply_to_elsewhere = reply_to.lower()
    ev.link_hosts, ev.mismatched_links, ev.hidden_text = _links(msg, text)
    html = _html_of(msg)
    ev.rendered_html = re.sub(r"<[^>]*>", " ", html[:200_000]) if html else ""
    for host in ev.link_hosts:
        imitated = lookalike(host, trusted)
        if imitated and not ev.lookalike_of:
            ev.mismatched_links.append(f"link to {host}, which imitates {imitated}")
    own_words = _quoted_removed(f"{ev.subject}\n{text}")
    ev.credential_ask = bool(CREDENTIAL.search(own_words))
    ev.urgency = list(dict.fromkeys(m.group(0).lower() for m in URGENCY.finditer(own_words)))
    ev.pressure = list(dict.fromkeys(m.group(0).lower() for m in PRESSURE.finditer(own_words)))
    ev.commercial = list(dict.fromkeys(m.group(0).lower() for m in COMMERCIAL.finditer(own_words)))[:5]
    ev.asks = bool(REQUEST.search(_quoted_removed(text)))
    ev.executable = [a.get("name", "") for a in attachments if EXECUTABLE.search(str(a.get("name", "")))]
    return ev
