"""A private Docker Engine (Debian's docker.io) and a BuildKit container image made from
the installed buildkitd, buildctl and runc: nothing is pulled from a registry.

dockerd listens on a socket of its own, keeps its state in a temporary directory and
never touches the host's firewall or bridges (``--iptables=false --bridge=none``);
containers it runs share the host network, so they reach the lab registry on 127.0.0.1,
which the engine's own BuildKit reaches over plain HTTP. No mirror is configured: a miss
must fail, not fall back to a public registry.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from .buildkitd import BUILDCTL_BIN, BUILDKITD_BIN, CONFIG, INSECURE, mounts_under
from .service import LabError, Service, clean_env

DOCKERD_BIN = "/usr/sbin/dockerd"
RUNC_BIN = Path("/usr/sbin/runc")
BUSYBOX_BIN = Path("/bin/busybox")
IMAGE = "bgd-buildkit:lab"
# A privileged container asks for every capability the kernel knows; where this process's
# bounding set lacks some (sandboxes often drop CAP_SYS_RESOURCE), runc fails with
# "unable to apply caps". The lab's dockerd runs runc through this filter instead.
RUNTIME_FILTER = """\
#!/usr/bin/python3
import json, sys, os
NAMES = ("CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP "
         "LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER "
         "SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE "
         "SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP "
         "MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF "
         "CHECKPOINT_RESTORE").split()
args = sys.argv[1:]


def filtered(path, key):
    with open(path) as f:
        spec = json.load(f)
    with open("/proc/self/status") as f:
        bound = int(next(l for l in f if l.startswith("CapBnd:")).split()[1], 16)
    allowed = {"CAP_" + n for i, n in enumerate(NAMES) if bound >> i & 1}
    process = spec.get(key, {}) if key else spec
    caps = process.get("capabilities") or {}
    for kind, names in caps.items():
        caps[kind] = [n for n in names if n in allowed]
    with open(path, "w") as f:
        json.dump(spec, f)


# create --bundle DIR (config.json) and exec --process FILE (a process spec)
for command, flags, name, key in (("create", ("--bundle", "-b"), "config.json", "process"),
                                  ("exec", ("--process", "-p"), "", "")):
    for flag in flags:
        if command in args and flag in args:
            given = args[args.index(flag) + 1]
            filtered(os.path.join(given, name) if name else given, key)
os.execv("/usr/sbin/runc", ["runc", *args])
"""
BUILDKITD_SOCKET = "/run/buildkit/buildkitd.sock"


def docker_cli() -> str:
    found = shutil.which("docker")
    if found is None:
        raise LabError("no docker CLI on PATH (scripts/setup.sh installs docker.io)")
    return found


def _libraries(binary: Path) -> list[Path]:
    """The shared libraries ``binary`` loads, from ldd (the loader included)."""
    listed = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    found = []
    for line in listed.stdout.splitlines():
        words = line.split()
        for word in words:
            if word.startswith("/"):
                found.append(Path(word))
                break
    return found


def rootfs_tar(buildkit_config: str) -> bytes:
    """A root filesystem holding buildkitd, buildctl, runc, busybox and their libraries."""
    buffer = io.BytesIO()
    binaries = {
        BUILDKITD_BIN: "usr/bin/buildkitd",
        BUILDCTL_BIN: "usr/bin/buildctl",
        RUNC_BIN: "usr/bin/runc",
        BUSYBOX_BIN: "bin/busybox",
    }
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("etc/buildkit", "run/buildkit", "tmp", "var/lib/buildkit", "proc",
                          "sys", "dev", "lib64", "usr/lib"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        libraries: set[Path] = set()
        for source, target in binaries.items():
            tar.add(str(source), arcname=target)
            libraries.update(_libraries(source))
        for library in sorted(libraries):
            tar.add(str(library.resolve()), arcname=str(library).lstrip("/"))
        for name, text in (("etc/buildkit/buildkitd.toml", buildkit_config),
                           ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
                           ("etc/group", "root:x:0:\n")):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(link)
    return buffer.getvalue()


def buildkit_config(mirror: str, insecure: list[str]) -> str:
    hosts = dict.fromkeys([mirror, *insecure])
    insecure_toml = "".join(INSECURE.format(host=h) for h in hosts)
    config = CONFIG.format(snapshotter="native", mirror=mirror, insecure=insecure_toml)
    # The container's root is an overlay already; native snapshots always work there.
    return config


class Dockerd:
    """A running dockerd on ``self.socket``; ``stop()`` removes its containers and state."""

    def __init__(self, registry_host: str, *, parent: Path = Path("/tmp")) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bgd-dkr-", dir=parent))
        # Others may look for the socket; its own mode (0660, root) decides who opens it.
        self.dir.chmod(0o755)
        self.socket = self.dir / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.registry_host = registry_host
        self.log_path = self.dir / "dockerd.log"
        config = self.dir / "daemon.json"
        config.write_text(json.dumps({}))
        runtime = self.dir / "runc-filter"
        runtime.write_text(RUNTIME_FILTER)
        runtime.chmod(0o755)
        argv = [
            DOCKERD_BIN,
            "--host", self.host,
            "--data-root", str(self.dir / "data"),
            "--exec-root", str(self.dir / "exec"),
            "--pidfile", str(self.dir / "dockerd.pid"),
            "--config-file", str(config),
            "--iptables=false", "--ip6tables=false", "--bridge=none", "--ip-masq=false",
            "--add-runtime", f"lab-runc={runtime}", "--default-runtime", "lab-runc",
            "--insecure-registry", registry_host,
        ]  # fmt: skip
        self._service: Service | None = Service(f"dockerd {self.host}", argv, self.log_path)
        try:
            self._service.wait_ready(self._answers, timeout=60)
        except BaseException:
            self.stop()
            raise

    def env(self) -> dict[str, str]:
        """The environment a docker CLI needs to talk to this daemon."""
        return {**clean_env(), "DOCKER_HOST": self.host}

    def docker(
        self, *args: str, check: bool = True, stdin: bytes | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[bytes]:
        argv = [docker_cli(), *args]
        done = subprocess.run(argv, input=stdin, capture_output=True, env=self.env(),
                              timeout=timeout, check=False)  # fmt: skip
        if check and done.returncode != 0:
            raise LabError(f"{' '.join(argv)} exited with {done.returncode}: "
                           f"{done.stderr.decode(errors='replace')}")  # fmt: skip
        return done

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return self.docker("version", check=False, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def import_buildkit_image(self, insecure: list[str]) -> str:
        """Import the BuildKit image (no pull); returns its name."""
        config = buildkit_config(self.registry_host, insecure)
        self.docker("import", "-", IMAGE, stdin=rootfs_tar(config), timeout=300)
        return IMAGE

    def run_buildkit(self, name: str, *, start: bool = True) -> None:
        """A privileged container running buildkitd on its default socket."""
        state = self.dir / f"state-{name}"
        state.mkdir()
        self.docker(
            "create", "--name", name, "--privileged", "--network", "host",
            "--volume", f"{state}:/var/lib/buildkit",
            IMAGE, "/usr/bin/buildkitd", "--config", "/etc/buildkit/buildkitd.toml",
        )  # fmt: skip
        if start:
            self.docker("start", name)
            # Ready once buildctl inside answers on the daemon's socket.
            probe = ("exec", name, "buildctl", "debug", "workers")
            for _ in range(600):
                if self.docker(*probe, check=False).returncode == 0:
                    return
            raise LabError(f"buildkitd in container {name} did not answer:\n"
                           + self.docker("logs", name, check=False).stderr.decode()[-3000:])

    def stop(self) -> None:
        if self._service is not None:
            # dockerd stops what it runs on SIGTERM; removing the containers first keeps
            # their state out of the way of the directory's removal.
            with contextlib.suppress(subprocess.TimeoutExpired):
                listed = self.docker("ps", "-aq", check=False, timeout=30).stdout.split()
                if listed:
                    self.docker("rm", "-f", *[c.decode() for c in listed], check=False,
                                timeout=60)
            self._service.stop(grace=30)
            self._service = None
        for mount in sorted(mounts_under(self.dir), key=len, reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def dockerd_available() -> bool:
    return os.access(DOCKERD_BIN, os.X_OK) and shutil.which("docker") is not None
