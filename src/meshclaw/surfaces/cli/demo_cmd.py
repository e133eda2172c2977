"""``meshclaw demo``: one night of the flagship agents in a sandbox workplace, and the morning after.

    meshclaw demo                  # the bundled model, offline (installed once, 1.1 GB, verified)
    meshclaw demo --scripted       # a scripted model: no model at all (CI)
    meshclaw demo --night large    # the whole seed inbox instead of a dozen messages
    meshclaw demo --tour           # the policy layer step by step: a rehearsal, a denial, an approval

The night runs in its own data dir (``$MESHCLAW_HOME/demo``), never in the person's configuration;
see ``demo_night`` for the steps and ``demo_summary`` for what is printed.
"""

from __future__ import annotations

from typing import Optional

import typer

from .home import meshclaw_home


def demo(
    scripted: bool = typer.Option(False, "--scripted", help="Use scripted models instead of the bundled one (no model download)."),
    night: str = typer.Option("default", "--night", help="default: a dozen new messages; large: the whole seed inbox."),
    tour: bool = typer.Option(False, "--tour", help="Instead of the night: the policy tour (rehearsal, denial, approval) on the starter configuration."),
    task: Optional[str] = typer.Option(None, "--task", help="With --tour: what to ask the sample agent."),
) -> None:
    """Set up the demo workplace, install the flagship agents for Alice, run one night, print the morning."""
    from .app_context import CliError
    from .demo_night import Night, run_night, set_up
    from .demo_seed import NIGHTS
    from .demo_summary import print_summary
    from .printer import SafeConsole

    if task is not None and not tour:
        raise CliError("--task applies to the policy tour only: add --tour (the night's tasks are the agents' own)", code=2)
    if night != "default" and tour:
        raise CliError("--night applies to the night only, not to --tour: drop one of them", code=2)
    if tour:
        from .demo_tour import DEMO_TASK, tour as policy_tour

        policy_tour(scripted, task or DEMO_TASK)
        return
    if night not in NIGHTS:
        raise CliError(f"unknown night {night!r}: choose {' or '.join(NIGHTS)}", code=2)
    console = SafeConsole(highlight=False)  # model answers are printed: no control character reaches the terminal
    home = meshclaw_home() / "demo"
    say = console.print
    say(f"[bold]MeshClaw demo[/bold]: one night of flagship agents for Alice, in a sandbox workplace kept in {home}")
    if not scripted:
        from meshclaw.runtime.models.bundled_install import install_bundled_model

        say(f"bundled model ready: {install_bundled_model(home)}")
    else:
        say("scripted models: no model download; each judgement is a fixed scripted answer (the same label for every "
            "message), so the labels below show the flow, not what a model would decide")
    state = Night(home=home, scripted=scripted, night=night)
    config, store, actor = set_up(state, say)
    say(f"set up in {state.setup_seconds:.1f} s; the night begins")
    run_night(state, config, store, actor, say)
    print_summary(console, state, store)
    say(f"\nlook around: MESHCLAW_HOME={home} meshclaw runs | approvals | audit verify | grants show inbox-triage")
