"""``meshclaw demo``: the whole loop, offline, on the embedded defaults."""

from __future__ import annotations

import typer

from meshclaw.domain.errors import NotFound

from .home import config_path, meshclaw_home

DEMO_TASK = "Remember that the quarterly report is due on Friday."


def demo(
    scripted: bool = typer.Option(False, "--scripted", help="Use the scripted model instead of the bundled one (no 1.1 GB download)."),
    task: str = typer.Option(DEMO_TASK, "--task", help="What to ask the sample agent."),
) -> None:
    """Set up a starter organisation, install the bundled model, and run a sample agent end to end."""
    from rich.console import Console

    from meshclaw.operations import control

    from .app_context import context, local_actor
    from .config_cmd import starter_text
    from .running import run_and_print

    console = Console(highlight=False)
    home, path = meshclaw_home(), config_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(starter_text(), encoding="utf-8")
        console.print(f"1. wrote a starter configuration to {path}")
    else:
        console.print(f"1. using the configuration at {path}")
    agent = "scripted-assistant" if scripted else "assistant"
    if not scripted:
        from meshclaw.runtime.models.bundled_install import install_bundled_model

        model = install_bundled_model(home)
        console.print(f"2. bundled model ready: {model}")
    else:
        console.print("2. scripted model: no model download needed")

    ctx = context()
    if agent not in {a.name for a in ctx.config.agents}:
        raise NotFound(f"the configuration at {path} has no agent {agent!r}; move it aside to get the starter one")
    if not ctx.store.agents.is_promoted(agent):
        control.promote(ctx, local_actor(ctx.config), agent)
    console.print(f"3. running {agent}: every tool call passes the guard and is written to the audit log\n")
    try:
        run_and_print(agent, task, quiet=False, rehearse=False)
    finally:
        console.print("\nnext: `meshclaw runs`, `meshclaw runs show ID`, `meshclaw grants show assistant`, `meshclaw audit verify`")
