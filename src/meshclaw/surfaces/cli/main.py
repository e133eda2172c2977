"""``meshclaw``: the command line entry point."""

from __future__ import annotations

import sys

import typer

from . import approvals_cmd, audit_cmd, config_cmd, control_cmd, demo_cmd, grants_cmd, run_cmd, runs_cmd, tools_cmd
from . import mcp_server_cmd, tokens_cmd
from . import usage_cmd

app = typer.Typer(
    name="meshclaw",
    help="MeshClaw: AI agents that act for employees in workplace software, behind one policy layer.\n\n"
    "Data lives in $MESHCLAW_HOME (default ~/.meshclaw); the configuration in $MESHCLAW_HOME/meshclaw.yaml "
    "(or $MESHCLAW_CONFIG).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
    rich_markup_mode=None,
)
app.command("demo")(demo_cmd.demo)
app.command("init")(config_cmd.init)
app.add_typer(config_cmd.app, name="config")
app.command("run")(run_cmd.run)
app.command("resume")(run_cmd.resume)
app.command("worker")(run_cmd.worker)
app.add_typer(runs_cmd.app, name="runs")
app.add_typer(approvals_cmd.app, name="approvals")
app.command("approve")(approvals_cmd.approve)
app.command("deny")(approvals_cmd.deny)
app.command("stop")(control_cmd.stop)
app.command("start")(control_cmd.start)
app.command("promote")(control_cmd.promote)
app.command("rehearse")(run_cmd.rehearse)
app.add_typer(audit_cmd.app, name="audit")
app.command("alerts")(audit_cmd.alerts)
app.add_typer(grants_cmd.app, name="grants")
app.add_typer(tools_cmd.app, name="tools")
app.add_typer(tokens_cmd.app, name="tokens")
app.command("mcp-server")(mcp_server_cmd.mcp_server)
app.add_typer(usage_cmd.app, name="usage")
app.command("metrics")(usage_cmd.metrics)


def _mount_optional() -> None:
    # Command groups written as separate modules; each keeps its heavy imports inside its commands.
    import importlib

    for module, name in [("model_cmd", "model"), ("agents_cmd", "agents"), ("memory_cmd", "memory")]:
        try:
            mod = importlib.import_module(f"meshclaw.surfaces.cli.{module}")
        except ImportError:
            continue
        app.add_typer(mod.app, name=name)


_mount_optional()


def _version(value: bool) -> None:
    if value:
        from meshclaw import __version__

        typer.echo(f"meshclaw {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version.")) -> None:
    """MeshClaw command line."""


def run() -> None:
    """Console-script entry: known failures become one line on stderr and a non-zero exit."""
    import os

    from .errors import friendly

    os.environ.setdefault("PYDANTIC_AI_NO_BANNER", "1")  # no library advertising in a run's output

    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except BaseException as e:  # noqa: BLE001
        message, code = friendly(e)
        print(f"meshclaw: {message}", file=sys.stderr)
        sys.exit(code)


if __name__ == "__main__":
    run()
