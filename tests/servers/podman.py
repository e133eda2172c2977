"""A private Podman API service for tests: Docker-compatible API on a unix socket in a temp dir.

Podman 4.3 with runc (apt podman runc), as root, with everything private: its own --root and
--runroot storage, a containers.conf (``default_ulimits = []``: the sandbox refuses setting
rlimits; cgroupfs and file events: there is no systemd), and ``podman system service --time=0``.
Nothing can be pulled, so the images are made here with ``podman import`` of a busybox-static
root filesystem (apt busybox-static):

- ``localhost/web:1.0`` and ``localhost/web:2.0``: busybox httpd on port 8080 serving /health;
- ``localhost/web:3.0-broken``: the same server without a /health file, so its health check fails.

Each prints ``serving <version>`` on start (for the logs tool) and stops promptly on SIGTERM.
The podman_service fixture is shared by the session; ``new_service()`` gives each test its own
service name and host port, so tests do not see each other's containers.
"""

from __future__ import annotations

import atexit
import io
import itertools
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.servers.radicale import free_port

IMAGE = "localhost/web"
VERSIONS = {"1.0": "/www", "2.0": "/www", "3.0-broken": "/broken"}  # version -> the directory httpd serves
BUSYBOX = "/bin/busybox"
CONTAINERS_CONF = """\
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
"""


def podman_available() -> bool:
    return shutil.which("podman") is not None and shutil.which("runc") is not None and Path(BUSYBOX).exists() \
        and os.geteuid() == 0


def _rootfs_tar() -> bytes:
    """busybox-static with the few applets the images use, /www/health, and an empty /broken."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add_dir(name: str) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)

        def add_file(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        for d in ("bin", "www", "broken", "tmp"):
            add_dir(d)
        add_file("bin/busybox", Path(BUSYBOX).read_bytes(), 0o755)
        for applet in ("sh", "httpd", "sleep", "cat", "echo"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        add_file("www/health", b"ok\n")
        add_file("www/index.html", b"web\n")
    return buf.getvalue()


def _command(version: str, docroot: str) -> str:
    script = f"trap 'exit 0' TERM; echo serving {version}; httpd -f -v -p 8080 -h {docroot} & wait"
    return f'CMD ["/bin/sh", "-c", "{script}"]'


@dataclass
class PodmanService:
    """A running Podman API service: ``url`` for the docker SDK, ``podman(...)`` for its CLI."""

    root: Path
    process: subprocess.Popen | None = None
    started_in: float = 0.0
    images_in: float = 0.0
    _names: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def socket(self) -> Path:
        return self.root / "podman.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.root / "containers.conf")}

    def flags(self) -> list[str]:
        return ["--root", str(self.root / "storage"), "--runroot", str(self.root / "run"), "--runtime", "runc",
                "--cgroup-manager=cgroupfs", "--events-backend=file"]

    def podman(self, *args: str, input: bytes | None = None) -> str:
        p = subprocess.run(["podman", *self.flags(), *args], input=input, capture_output=True, env=self.env(),
                           timeout=120)
        if p.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args)} failed: {p.stderr.decode(errors='replace')[-1500:]}")
        return p.stdout.decode()

    def new_service(self, **extra: Any) -> tuple[str, dict[str, Any]]:
        """A fresh service name and its deploy settings entry (image, a free host port, health URL)."""
        name = f"web{next(self._names)}"
        port = free_port()
        spec = {"image": IMAGE, "ports": {8080: port}, "health_url": f"http://127.0.0.1:{port}/health", **extra}
        return name, spec

    def settings(self, services: dict[str, dict[str, Any]], **overrides: Any) -> dict[str, Any]:
        return {"backend": "docker", "url": self.url, "services": services, "stop_timeout": 2, "start_wait": 3,
                **overrides}

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:  # containers first: their conmon processes would outlive the service
                subprocess.run(["podman", *self.flags(), "rm", "-af", "-t", "0"], capture_output=True,
                               env=self.env(), timeout=60)
            except subprocess.TimeoutExpired:
                pass
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        subprocess.run(["umount", "-R", str(self.root / "storage" / "overlay")], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def start_podman(timeout: float = 30.0) -> PodmanService:
    """Import the images, then start ``podman system service`` and wait until it answers /_ping."""
    import docker

    root = Path(tempfile.mkdtemp(prefix="meshclaw-podman-"))
    root.chmod(0o700)
    (root / "containers.conf").write_text(CONTAINERS_CONF)
    service = PodmanService(root)
    started = time.perf_counter()
    tar = _rootfs_tar()
    for version, docroot in VERSIONS.items():
        service.podman("import", "--change", _command(version, docroot), "-", f"{IMAGE}:{version}", input=tar)
    service.images_in = time.perf_counter() - started
    started = time.perf_counter()
    log = (root / "service.log").open("wb")
    service.process = subprocess.Popen(["podman", *service.flags(), "system", "service", "--time=0", service.url],
                                       stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=service.env())
    deadline = time.monotonic() + timeout
    while True:
        if service.process.poll() is not None:
            raise RuntimeError(f"podman system service exited: {(root / 'service.log').read_text()[-2000:]}")
        if service.socket.exists():
            try:
                if docker.DockerClient(base_url=service.url, version="1.41", timeout=2).ping():
                    break
            except Exception:  # noqa: BLE001 - not ready yet
                pass
        if time.monotonic() > deadline:
            service.stop()
            raise RuntimeError(f"podman system service did not answer within {timeout} s")
        time.sleep(0.05)
    service.started_in = time.perf_counter() - started
    return service


_shared: PodmanService | None = None


@pytest.fixture(scope="session")
def podman_service() -> PodmanService:
    """One Podman service per test process (started on first use, stopped at exit)."""
    global _shared
    if not podman_available():
        pytest.skip("podman, runc or busybox-static is missing, or not root: run scripts/install-test-services.sh")
    if _shared is None:
        _shared = start_podman()
        atexit.register(_shared.stop)
    return _shared
