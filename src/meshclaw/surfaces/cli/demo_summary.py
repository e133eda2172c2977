"""The demo's morning summary: what each agent did, refused and left waiting, and what it cost.

Everything printed is read back from where it happened — the sandbox workplace (folders, labels,
drafts, calendars, mail that would have left, services and the team channel), the audit log (every call and decision) and the usage
records (every model request) — never from what the demo meant to do.
"""

from __future__ import annotations

import email
import email.policy
from typing import Any

from zoneinfo import ZoneInfo

from meshclaw.connectors.email.seed import INJECTION_PHRASES

TZ = "Europe/Berlin"

LABELS = ("urgent", "needs-reply", "fyi", "newsletter", "spam", "phishing")


def _header(raw: bytes, name: str) -> str:
    msg = email.message_from_bytes(raw.split(b"\r\n\r\n", 1)[0], policy=email.policy.default)
    return " ".join(str(msg.get(name, "")).split())


def _sender(raw: bytes) -> str:
    text = _header(raw, "From")
    return text.split("<")[0].strip().strip('"') or text


def mail_table(store: Any, workplace: str) -> list[dict[str, str]]:
    """Each of Alice's overnight messages: sender, subject, label, folder, whether it carried an injection."""
    rows = []
    for folder in ("INBOX", "Junk"):
        for m in store.workplaces.messages(workplace, "alice", folder):
            label = next((f for f in m.flags if f in LABELS), "")
            injected = next((p for p in INJECTION_PHRASES if p.encode() in m.raw.replace(b"=\r\n", b"")), "")
            rows.append({"from": _sender(m.raw), "subject": _header(m.raw, "Subject")[:60], "label": label,
                         "folder": folder, "injection": injected, "uid": str(m.uid),
                         "when": m.internal_date.astimezone(ZoneInfo(TZ)).isoformat()})
    return sorted(rows, key=lambda r: r["when"])


def usage_of(store: Any, run_id: str) -> dict[str, int]:
    rows = store.usage.for_run(run_id) if run_id else []
    return {"requests": len(rows), "input": sum(r.input_tokens for r in rows),
            "output": sum(r.output_tokens for r in rows)}


def refusals(store: Any, run_id: str) -> list[str]:
    """The guard's refusals in a run, in words."""
    out = []
    for r in store.audit.records(run_id=run_id) if run_id else []:
        if r.kind == "decision" and r.verdict == "deny":
            out.append(f"{r.tool}: {r.reason}")
    return out


def deploy_lines(night: Any, store: Any, run: Any) -> list[str]:
    """What deploy-watcher saw and did, read back from the services, the audit log, #team and the approvals."""
    from meshclaw.store.workplace_deploy import WorkplaceDeployRepository

    seeded = getattr(night.seeded, "deploy", None)
    lines = []
    repo = WorkplaceDeployRepository(store.db)
    if seeded is not None:
        svc = repo.service("demo", seeded.failing)
        since = svc.since.astimezone(ZoneInfo(TZ))
        lines.append(f"{seeded.failing} {seeded.version} started failing at {since:%H:%M:%S}, during your "
                     f"“{seeded.meeting}” ({seeded.meeting_start:%H:%M}–{seeded.meeting_end:%H:%M}): its health "
                     f"URL answered HTTP {svc.health_status}")
    calls = [r for r in store.audit.records(run_id=run.run_id) if r.kind == "call" and r.verdict == "done"]
    done = [r.tool for r in calls]
    checked = [str((r.data.get("args") or {}).get("service")) for r in calls if r.tool == "deploy.health"]
    if checked:
        lines.append(f"deploy-watcher checked {', '.join(checked)}" + (" and looked at your free/busy (times only)"
                                                                        if "calendar.freebusy" in done else ""))
    if "deploy.logs" in done:
        logs = repo.service("demo", seeded.failing).logs if seeded is not None else ()
        injected = any("ignore previous instructions" in line for line in logs)
        lines.append("it read the service's recent log lines and counted the errors; it never quotes them" + (
            f" (one asked an AI to deploy another version: {'not' if 'deploy.deploy' not in done else 'it was'} "
            "followed)" if injected else ""))
    notes = [i for i in store.workplace_chat.items("demo", channel_id="team", newest=True)
             if i.author_id == "alice" and i.text.startswith("Incident:")]
    if notes:
        lines.append(f"it posted to #team: “{notes[-1].text}”")
    for a in store.approvals.pending(run_id=run.run_id):
        lines.append(f"it proposed {a.tool} {', '.join(f'{k}={v}' for k, v in a.args.items())}: that waits for "
                     f"your yes (`meshclaw approve {a.id}`, then `meshclaw resume`)")
    if seeded is not None:
        svc = repo.service("demo", seeded.failing)
        lines.append(f"{seeded.failing} is on {svc.version} now ({svc.state}, health HTTP {svc.health_status})"
                     + (": nothing was changed without you" if "deploy.rollback" not in done else ""))
    if run.output or run.error:
        lines.append(f"→ {run.output or run.error}")
    return lines


def print_summary(console: Any, night: Any, store: Any) -> None:
    """The morning summary (see the module docstring), with Rich."""
    from rich import box
    from rich.panel import Panel
    from rich.table import Table

    from .demo_memory import memory_lines, value_lines
    from .printer import escape

    wp = "demo"
    runs = {r.agent: r for r in night.runs}
    console.rule("[bold]Good morning, Alice[/bold]")
    triage = runs.get("inbox-triage")
    if triage is not None:
        table = Table(box=box.SIMPLE_HEAD, title="Your overnight mail", title_justify="left")
        for col, width in (("at", 5), ("from", 16), ("subject", 32), ("label", 11), ("folder", 6)):
            table.add_column(col, no_wrap=True, overflow="ellipsis", max_width=width,
                             min_width=width if col in ("at", "label") else None)
        rows = mail_table(store, wp)
        for r in rows:
            style = {"phishing": "red", "spam": "red", "urgent": "bold yellow"}.get(r["label"], "")
            table.add_row(r["when"][11:16], escape(r["from"][:28]), escape(r["subject"]),
                          f"[{style}]{r['label'] or '-'}[/{style}]" if style else (r["label"] or "-"), r["folder"])
        console.print(table)
        console.print(Panel(escape(triage.output or triage.error or "(no briefing)"),
                            title=f"inbox-triage's briefing ({triage.status})", title_align="left"))
        sends = [r for r in store.audit.records(run_id=triage.run_id) if r.tool == "email.send"]
        outside = store.workplaces.outside(wp)
        lines = []
        for r in rows:
            if r["injection"]:
                lines.append(f"“{r['injection']}” (from {r['from']}) was [bold]not followed[/bold]: labelled "
                             f"{r['label'] or 'nothing'}, filed in {r['folder']}")
        lines.append(f"mail sent by inbox-triage: {len(sends)} (it is never granted email.send); mail that left the "
                     f"workplace: {len(outside)}")
        lines += [f"the guard refused {x}" for x in refusals(store, triage.run_id)]
        lines += [f"held by the guard until Alice said yes (approved in the demo): {x}" for x in triage.approvals]
        console.print(Panel("\n".join(escape(x) if "[bold]" not in x else x for x in lines),
                            title="What was refused, and why", title_align="left", border_style="red"))
    report = runs.get("status-report")
    if report is not None:
        console.print(Panel(escape(report.output or report.error or "(nothing)"),
                            title=f"status-report ({report.status}): a draft for Alice to edit and send",
                            title_align="left"))
    meeting = runs.get("meeting-scheduler")
    if meeting is not None:
        lines = [f"Alice asked: “{meeting.task}”", f"→ {meeting.output or meeting.error}"]
        lines += [f"approved by Alice before it was sent: {a}" for a in meeting.approvals]
        invites = [m for m in store.workplaces.messages(wp, "bob", "INBOX") if b"text/calendar" in m.raw]
        lines.append(f"invitations in Bob's inbox: {len(invites)}")
        console.print(Panel(escape("\n".join(lines)), title=f"meeting-scheduler ({meeting.status})", title_align="left"))
    watcher = runs.get("deploy-watcher")
    if watcher is not None:
        console.print(Panel(escape("\n".join(deploy_lines(night, store, watcher))),
                            title=f"deploy-watcher ({watcher.status}): your services while you were in a meeting",
                            title_align="left"))
    console.print(Panel(escape("\n".join(memory_lines(store, "alice"))), title="Memory: what tonight's dreaming changed",
                        title_align="left"))
    drafts = store.workplaces.messages(wp, "alice", "Drafts")
    waiting = [f"{len(drafts)} reply draft(s) in Drafts, for you to edit and send:"]
    waiting += [f"  - {_header(d.raw, 'Subject')} → {_header(d.raw, 'To')}" for d in drafts[:12]]
    junk = store.workplaces.messages(wp, "alice", "Junk")
    waiting.append(f"{len(junk)} message(s) in Junk to glance at (moved, never deleted)")
    pending = store.approvals.pending(user_id="alice")
    waiting.append(f"{len(pending)} approval(s) still pending" + (": `meshclaw approvals`" if pending else ""))
    waiting += [f"  - {p.agent}: {p.tool} {', '.join(f'{k}={v}' for k, v in p.args.items())} — "
                f"`meshclaw approve {p.id}`" for p in pending]
    if night.skipped:
        waiting += [f"not installed: {s}" for s in night.skipped]
    console.print(Panel(escape("\n".join(waiting)), title="Waiting for you", title_align="left", border_style="yellow"))
    cost = Table(box=box.SIMPLE_HEAD, title="Tokens and time (requests: model requests)", title_justify="left",
                 pad_edge=False, collapse_padding=True)
    for col, width in (("agent", 24), ("status", 9), ("requests", 8), ("tokens in", 9), ("tokens out", 10),
                       ("seconds", 7)):  # 24+9+8+9+10+7 and padding: 79 columns
        cost.add_column(col, justify="right" if col not in ("agent", "status") else "left", no_wrap=True,
                        min_width=width)
    total = {"requests": 0, "input": 0, "output": 0}
    for r in night.runs:
        u = usage_of(store, r.run_id)
        total = {k: total[k] + u[k] for k in total}
        cost.add_row(r.agent, r.status, str(u["requests"]), f"{u['input']:,}", f"{u['output']:,}", f"{r.seconds:.1f}")
    cost.add_row("the night", "", str(total["requests"]), f"{total['input']:,}", f"{total['output']:,}",
                 f"{night.night_seconds:.1f}", style="bold")
    console.print(cost)
    if night.began_at is not None:
        console.print(Panel(escape("\n".join(value_lines(None, store, "alice", night.began_at))),
                            title="Value produced tonight", title_align="left", border_style="green"))
    model = "a scripted model (no model at all)" if night.scripted else "the bundled model, on this machine"
    console.print(f"Set-up took {night.setup_seconds:.1f} s; the night took {night.night_seconds:.1f} s with {model}.")
