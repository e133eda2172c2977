"""The ordinary part of Alice's week at Example Corp: her manager, colleagues, customers, alerts,
newsletters and calendar invitations. Alice (alice@example.com) is an engineer; Bob is her manager.
"""

from __future__ import annotations

from .build import ALICE, BOB, CAROL, DAVE, ERIN, invitation, mail

ALERTS = "Monitoring <alerts@monitoring.example.com>"
CI = "CI Bot <ci@example.com>"


def manager() -> list[bytes]:
    return [
        mail(1, BOB, "URGENT: board deck numbers needed by 15:00 today",
             "Alice,\n\nThe board moved the review to this afternoon. I need the Q1 uptime figure and the\n"
             "incident count for the payments service in the deck by 15:00 today.\n\n"
             "Just the two numbers and one line of context each is fine. Reply to me directly.\n\nThanks,\nBob"),
        mail(2, BOB, "Can you cover the on-call handover on Friday?",
             "Hi Alice,\n\nCarol is out on Friday. Could you take the on-call handover at 09:30?\n"
             "If not, tell me by Thursday so I can ask Dave's team.\n\nBob"),
        mail(3, BOB, "Q2 planning: your team's estimates by Thursday",
             "Team,\n\nPlease send me effort estimates (in weeks) for the three Q2 candidates:\n"
             "1. payments retry rework\n2. SSO for enterprise customers\n3. moving alerts to the new monitoring stack\n\n"
             "A rough range is fine. Deadline Thursday EOD.\n\nBob", to="engineering@example.com", cc=ALICE),
        mail(4, BOB, "Re: hiring loop feedback for the backend candidate",
             "Thanks for the write-up. Can you add one sentence on the system design round and submit it\n"
             "in the hiring tool before tomorrow's debrief?\n\nBob\n\n> On Mon, Alice wrote:\n> Strong hire for the coding round.",
             in_reply_to="<alice-hiring-7@example.com>"),
        mail(5, BOB, "1:1 moved to Wednesday 14:00", "Same room. Bring the on-call metrics if you have them.\n\nB."),
    ]


def colleagues() -> list[bytes]:
    return [
        mail(6, CAROL, "Review needed: PR #482 payments retry backoff",
             "Hey Alice,\n\nCould you review https://git.example.com/payments/pull/482 today? It changes the retry\n"
             "backoff from linear to exponential with jitter. Tests are green.\n\nCarol"),
        mail(7, DAVE, "Acme is asking about the SSO timeline",
             "Hi Alice,\n\nAcme Industries' IT lead asked on our call when SSO (SAML) will be available.\n"
             "Can I tell them Q2, or is that too optimistic? They are deciding on the renewal next month.\n\nDave"),
        mail(8, ERIN, "Expense report EXP-1043 returned: missing receipt",
             "Hello Alice,\n\nYour expense report EXP-1043 (conference travel, 412.80 EUR) was returned because the\n"
             "hotel receipt is missing. Please attach it in the expenses tool within 10 days.\n\nErin, Finance"),
        mail(9, "People Team <hr@example.com>", "Reminder: benefits enrollment closes Friday",
             "Benefits enrollment for 2026 closes on Friday at 17:00. Log in to the HR portal to confirm your choices.",
             html="<html><body><h2>Benefits enrollment closes Friday</h2><p>Log in to the "
                  "<a href=\"https://hr.example.com/benefits\">HR portal</a> to confirm your choices by "
                  "<b>Friday 17:00</b>.</p></body></html>"),
        mail(10, "IT Service Desk <it@example.com>", "Planned maintenance: VPN unavailable Saturday 22:00-02:00",
             "The VPN gateways will be upgraded on Saturday between 22:00 and 02:00 CET.\n"
             "Office Wi-Fi and email are not affected. No action needed.\n\nIT Service Desk"),
    ]


def customers() -> list[bytes]:
    return [
        mail(11, "Priya Raman <priya.raman@acme-industries.example>",
             "URGENT: production outage - your API returns 502 since 08:10",
             "Hello,\n\nSince 08:10 CET every call to https://api.example.com/v2/orders returns 502 Bad Gateway.\n"
             "Our warehouse has stopped shipping. This is a P1 for us. We need an ETA within the hour.\n\n"
             "Priya Raman\nHead of Operations, Acme Industries\n+49 30 1234567",
             cc=DAVE),
        mail(12, "Tom Berger <tom.berger@globex.example>", "Data export missing records - third time this month",
             "Alice,\n\nThe nightly export again skipped records: 1,204 orders from 3 March are missing in the\n"
             "file. This is the third time this month. If this isn't fixed by Friday we will escalate\n"
             "to your CEO and review the contract.\n\nTom Berger, Globex"),
        mail(13, "Mei Lin <mei.lin@initech.example>", "Renewal depends on the latency issue",
             "Hi Alice,\n\nOur p95 latency on /search went from 180 ms to 900 ms after your February release.\n"
             "Procurement will not sign the renewal until this is back under 300 ms.\n"
             "Can we get a call this week?\n\nMei"),
        mail(14, "Support Desk <support@example.com>", "[Ticket #88213] Escalated to P1: Umbrella Corp cannot log in",
             "Ticket #88213 was escalated to priority 1 by the account manager.\n\n"
             "Customer: Umbrella Corp\nSymptom: all users get 'invalid SAML response' since 07:55\n"
             "Assigned: Alice Example\n\nhttps://support.example.com/tickets/88213"),
    ]


def newsletters() -> list[bytes]:
    unsubscribe = {"List-Unsubscribe": "<https://news.example.net/unsub?u=alice>", "Precedence": "bulk"}
    return [
        mail(15, "Python Weekly <newsletter@pythonweekly.example>", "Python Weekly - Issue 640",
             "This week: structured concurrency in 3.14, a faster JSON parser, and 12 new packages.",
             html="<html><body><h1>Python Weekly</h1><p>This week: structured concurrency in 3.14, "
                  "<a href=\"https://pythonweekly.example/640/json\">a faster JSON parser</a>, and 12 new packages."
                  "</p><img src=\"https://pythonweekly.example/pixel.gif\" width=1 height=1 alt=\"\"></body></html>",
             headers=unsubscribe),
        mail(16, "The Engineering Digest <digest@engdigest.example>", "How teams run on-call without burning out",
             html="<html><head><style>p{font-family:Georgia}</style></head><body>"
                  "<h1>How teams run on-call without burning out</h1><p>Three companies share their rotations, "
                  "handover checklists and what they stopped paging for.</p><ul><li>Rotations of one week</li>"
                  "<li>Follow-the-sun handovers</li><li>Paging only on customer impact</li></ul>"
                  "<p><a href=\"https://engdigest.example/read/oncall\">Read more</a></p></body></html>",
             headers=unsubscribe),
        mail(17, "Example Corp Comms <comms@example.com>", "This week at Example Corp: all-hands, new office, awards",
             "All-hands on Thursday 16:00 in the atrium and online. The Lisbon office opens in April.",
             html="<html><body><h2>This week at Example Corp</h2><p>All-hands on <b>Thursday 16:00</b>.</p>"
                  "<p>The Lisbon office opens in April.</p></body></html>",
             to="all@example.com"),
        mail(18, "Git Notifications <noreply@git.example.com>", "[payments] 5 new issues, 2 pull requests",
             "payments: 5 new issues\n- #501 retry storm under load\n- #502 flaky test in settlement\n"
             "- #503 docs: webhook signatures\n- #504 upgrade TLS library\n- #505 timeout too low\n\n"
             "2 pull requests awaiting your review: #482, #486", headers={"Precedence": "bulk"}),
    ]


def invitations() -> list[bytes]:
    return [
        mail(27, BOB, "Invitation: Q2 planning offsite @ Thu 12 Mar 2026 09:00 - 17:00",
             "Bob Manager has invited you to: Q2 planning offsite\nThursday 12 March, 09:00-17:00, Room Atlas",
             calendar=invitation("q2-offsite-2026@example.com", "Q2 planning offsite", "bob@example.com",
                                 "20260312T080000Z", "20260312T160000Z", location="Room Atlas")),
        mail(28, CAROL, "Invitation: Incident review - payments 502s @ Wed 4 Mar 2026 11:00",
             "Blameless review of the 2 March payments outage. Timeline doc linked in the invite.",
             calendar=invitation("ir-payments-0302@example.com", "Incident review - payments 502s",
                                 "carol@example.com", "20260304T100000Z", "20260304T110000Z", location="Online",
                                 attendees=("alice@example.com", "bob@example.com"))),
        mail(29, "Priya Raman <priya.raman@acme-industries.example>",
             "Invitation: Acme / Example Corp quarterly business review",
             "Hi, sending the QBR invite. Agenda: outage follow-up, SSO roadmap, renewal.",
             calendar=invitation("qbr-acme-q1@acme-industries.example", "Acme quarterly business review",
                                 "priya.raman@acme-industries.example", "20260310T130000Z", "20260310T140000Z",
                                 location="https://meet.acme-industries.example/qbr")),
        mail(30, BOB, "Cancelled: 1:1 Bob / Alice @ Fri 6 Mar 2026 10:00",
             "This event has been cancelled.",
             calendar=invitation("one-on-one-0306@example.com", "1:1 Bob / Alice", "bob@example.com",
                                 "20260306T090000Z", "20260306T093000Z", method="CANCEL")),
    ]


def alerts() -> list[bytes]:
    return [
        mail(31, ALERTS, "[FIRING:1] payments-api error rate > 5% (production)",
             "Alert: PaymentsApiErrorRate\nSeverity: critical\nValue: 7.3% 5xx over 5m\nSince: 2026-03-02 08:09 CET\n"
             "Runbook: https://runbooks.example.com/payments/error-rate\n", headers={"X-Alert-Fingerprint": "a1f9"}),
        mail(32, ALERTS, "[RESOLVED] payments-api error rate > 5% (production)",
             "Alert: PaymentsApiErrorRate\nResolved at 2026-03-02 09:02 CET after 53 minutes.\n",
             headers={"X-Alert-Fingerprint": "a1f9"}),
        mail(33, CI, "Deploy succeeded: web v2.14.0 to production",
             "Pipeline #7731 deployed web v2.14.0 to production in 6m12s.\nChanges: 14 commits, 3 authors.\n"),
        mail(34, CI, "Deploy FAILED: payments-api v3.2.1 - automatic rollback started",
             "Pipeline #7735 failed at stage 'canary': error rate 9.8% on canary pods.\n"
             "Rollback to v3.2.0 started automatically at 08:12 CET.\nLogs: https://ci.example.com/pipelines/7735\n"),
        mail(35, "On-call Scheduler <oncall@example.com>", "You are on call from Monday 09:00",
             "Alice Example is primary on call for payments from Monday 2 March 09:00 to Monday 9 March 09:00.\n"
             "Secondary: Carol SRE.\n"),
    ]


def sent_by_alice() -> list[bytes]:
    """Messages Alice sent herself, for her Sent folder: her own words, labelled trusted."""
    return [
        mail(90, ALICE, "Re: URGENT: board deck numbers needed by 15:00 today",
             "Bob,\n\nQ1 uptime for payments: 99.93%. Incidents: 4 (one P1 on 2 March).\n\nAlice",
             to=BOB, in_reply_to="<seed-001@example.com>"),
        mail(91, ALICE, "Re: Acme is asking about the SSO timeline",
             "Dave, Q2 is realistic for a beta; general availability early Q3.\n\nAlice", to=DAVE),
    ]


def workday() -> list[bytes]:
    return manager() + colleagues() + customers() + newsletters() + invitations() + alerts()
