"""``meshclaw usage explain``: exactly how every figure of a usage report is computed, with this
configuration's numbers (k, retention, minutes saved per outcome kind)."""

from __future__ import annotations

from typing import Any

from meshclaw.store.usage import PRICE_LABELS

from .usage_value import KINDS, minutes_table
from .usage_waste import SIMILAR, WASTE_PRIVATE_DAYS


def explain(config: Any) -> list[tuple[str, list[str]]]:
    """Sections ``[(title, lines)]`` describing each figure; no store access, no actor (the rules are public)."""
    u = config.usage
    minutes = minutes_table(u)
    price_lines = [f"  {label}" for label in PRICE_LABELS.values()]
    return [
        ("Tokens and cost", [
            "Every model request a run makes is recorded once (a replayed step is not counted again): input, "
            "output, cached-input and reasoning tokens, latency, model, user, agent, run, trigger, workflow step.",
            "tokens = input + output. Cached input tokens are part of input; reasoning tokens part of output.",
            "cost = (input - cached) x input price + cached x cached-input price + output x output price, per "
            "million tokens, stored in millionths of the currency unit (rounded per request). The price comes "
            "from the configuration's models.NAME.price, else the published price of the model (genai-prices). "
            "Each request is labelled with where its cost came from:",
            *price_lines,
            "Days are UTC days. Reports add up daily totals (per user, day, agent, model, trigger), kept when "
            f"raw events are pruned after {u.retention_days} days (usage.retention_days): no figure changes.",
        ]),
        ("Outcomes (value)", [
            "An outcome is derived from the audit log: an executed guarded call (audit kind 'call', verdict "
            "'done'), an answered request for approval, or what a later run observed in the owner's mailbox "
            "(kind 'observed': a draft sent or discarded, a filed message moved back). Nothing is self-reported.",
            *[f"  {k.name}: {'accepted' if k.accepted else 'not accepted'}, {minutes.get(k.name, 0):g} min saved — "
              f"{k.rule}" for k in KINDS.values()],
            "accepted = outcomes of the accepted kinds. minutes saved = sum over accepted outcomes of the minutes "
            "of their kind (usage.minutes_saved overrides the defaults above).",
            "tokens per accepted outcome = tokens / accepted; cost per accepted outcome = cost / accepted "
            "(shown as '-' when nothing was accepted).",
            "In a report grouped --by, each outcome counts in exactly one row, so the rows add up to the total: "
            "by agent, its run's agent; by day, the UTC day of its deciding record; by trigger, what started its "
            "run (manual, cron, an event, dream); by model, the model that made most of its run's tokens (input + "
            "output, from the run's 'model' audit records; a tie goes to the name first in alphabetical order). "
            "A run that used several models is not split: all its outcomes count for that one model. A run that "
            "made no model request counts its outcomes in the row '(no model)'.",
        ]),
        ("Waste", [
            f"duplicate: runs of one agent with the same or nearly the same task (similarity >= {SIMILAR}) within "
            f"{u.duplicate_window_minutes} minutes (usage.duplicate_window_minutes), when a repeat produced no outcome.",
            "loop: a run that made the same call (tool and arguments) 3 times or more, or a failed run started "
            "again with the same task within that window.",
            "unread: runs started by a schedule or an event that produced no outcome: nobody read or acted on them. "
            "A run a person started (trigger manual) is never counted, nor a memory consolidation (workflow "
            "memory.dream, trigger dream): its work is the agent's memory, which nobody is meant to read. Their "
            "tokens still count as the agent's.",
            "idle-schedule: an agent with a schedule whose scheduled (cron) runs ran 3 times or more and produced "
            "no accepted outcome.",
            f"jump: tokens per accepted outcome in the last 7 days >= {u.jump_factor:g} x the level before "
            "(usage.jump_factor), with at least 3 accepted outcomes on each side.",
            f"Findings about you are shown to you first; your managers see them only after {WASTE_PRIVATE_DAYS} days.",
        ]),
        ("Who sees what", [
            "You see your own figures. A manager sees those of their direct and indirect reports, only for the "
            "days they were in that person's chain (users[].manager, manager_since, manager_history; a manager "
            "named without manager_since: from the day MeshClaw first saw them named).",
            "Every read of your figures by someone else is audited and listed by `meshclaw usage reads`.",
            f"Admins and auditors see organisation and team aggregates only, never one person or a ranking, and "
            f"only cells (group, day) with at least k = {u.min_group_size} people using models "
            "(usage.min_group_size, never below 3).",
            "No differencing: on each day the cells shown are nested or disjoint (teams in a management chart "
            "are). A cell's atom is its people minus those of the cells shown inside it; every atom has 0 or at "
            "least k people. When one has fewer, the smallest cell shown directly inside it (fewest people, then "
            "name) is withheld, so its people join that atom, until every atom passes. Any sum or difference of "
            "figures shown for a day, of two groups or more, is then made of whole atoms: it covers 0 or at "
            "least k people. A period's figure is the sum of its days. Withheld cells are left out of every "
            "organisation figure; the report says how many days were withheld.",
            "Closed days only: organisation figures never count today (UTC), which is still changing (reading it "
            "before and after one request would show that request); a period reaching today ends yesterday, and "
            "one of today alone is empty, with a note. Outcomes count only once settled: those of the last 7 days "
            "(a draft sent or a message moved back within a week still changes them) are left out, with a note.",
            "The Prometheus endpoint (`meshclaw metrics`) exports only these aggregates; OpenTelemetry spans "
            "and metrics carry no user, agent or run names.",
        ]),
    ]
