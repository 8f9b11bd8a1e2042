"""A throw-away single-node SLURM cluster for the workflow tests.

:func:`slurm_cluster` starts MUNGE, ``slurmctld`` and ``slurmd`` on this machine with a
configuration written to a temporary directory, waits until the node is idle, yields a
:class:`SlurmCluster` handle and, on exit (also when the test body raises), cancels every
job still known to the controller and stops every daemon it started, in reverse order.

The configuration follows the recipe in ``DESIGN.md`` section 7 (Debian 12 packages
``slurm-wlm`` 22.05 and ``munge``): ``proctrack/linuxproc`` and ``task/none`` so that no
cgroup hierarchy is needed, no accounting database (job status comes from ``squeue``, which
keeps finished jobs for ``MinJobAge`` seconds), ``select/cons_tres`` with cores and memory
as consumable resources, one node called ``localhost`` with one fake GPU
(``gres.conf``: ``File=/dev/null``) and two partitions, ``main`` (default) and ``gpu``.
Unlike the recipe, state, spool and log directories live in the temporary directory and
the daemons listen on free ports, so a run never sees jobs from an earlier run and never
collides with another SLURM on the machine. While the cluster runs, ``/etc/slurm/slurm.conf``
is a link to its slurm.conf (``srun`` inside a Snakemake job only looks there, see
:data:`DEFAULT_SLURM_CONF`); the cluster refuses to start where a real file is in the way.

Only root can do this: installing packages, running ``munged`` as user ``munge`` and
running ``slurmd``. :func:`unavailable_reason` says why a machine cannot host the cluster
(tests skip with that reason); :func:`ensure_installed` installs the packages once per
machine when running as root with ``apt-get``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

#: Debian packages that provide the daemons and client commands.
DEBIAN_PACKAGES = ("slurm-wlm", "munge")
#: Executables the cluster and the Snakemake SLURM executor need.
REQUIRED_PROGRAMS = (
    "munged",
    "munge",
    "slurmctld",
    "slurmd",
    "sinfo",
    "sbatch",
    "squeue",
    "scancel",
    "scontrol",
)
#: The node name given to ``slurmd -N`` and used in slurm.conf.
NODE_NAME = "localhost"
#: Default socket of the system-wide MUNGE daemon (slurm's auth/munge uses it).
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
MUNGE_KEY = Path("/etc/munge/munge.key")
#: Where SLURM clients look for slurm.conf when ``SLURM_CONF`` is unset. The Snakemake
#: jobstep plugin removes every ``SLURM_*`` variable except the job's identity before it
#: calls ``srun`` inside a job, ``SLURM_CONF`` included, so that ``srun`` only finds the
#: test cluster through this path: the cluster links it to its own slurm.conf while it runs.
DEFAULT_SLURM_CONF = Path("/etc/slurm/slurm.conf")


def _missing_programs() -> list[str]:
    return [name for name in REQUIRED_PROGRAMS if shutil.which(name) is None]


def unavailable_reason(install: bool = False) -> str | None:
    """Say why this machine cannot host the test cluster, or ``None`` if it can.

    Parameters
    ----------
    install
        If True and the packages are missing, try :func:`ensure_installed` first.

    Returns
    -------
    A sentence suitable for ``pytest.skip``, or ``None``.
    """
    if os.name != "posix" or not hasattr(os, "geteuid"):
        return "a SLURM test cluster needs a POSIX system"
    if os.geteuid() != 0:
        return "a SLURM test cluster needs root (munged runs as user munge, slurmd as root)"
    if DEFAULT_SLURM_CONF.exists() and not DEFAULT_SLURM_CONF.is_symlink():
        return (
            f"{DEFAULT_SLURM_CONF} exists: this machine has its own SLURM configuration, "
            "which the test cluster will not replace"
        )
    if _missing_programs() and install:
        try:
            ensure_installed()
        except (RuntimeError, OSError) as err:
            return f"could not install {' and '.join(DEBIAN_PACKAGES)}: {err}"
    missing = _missing_programs()
    if missing:
        return (
            f"SLURM/MUNGE programs not found: {', '.join(missing)} "
            f"(install the Debian packages {' '.join(DEBIAN_PACKAGES)})"
        )
    return None


def ensure_installed(timeout_s: float = 600) -> None:
    """Install ``slurm-wlm`` and ``munge`` with apt when they are missing (root only).

    Runs ``apt-get update && apt-get install -y slurm-wlm munge`` once per machine; does
    nothing when every program in :data:`REQUIRED_PROGRAMS` is already on ``PATH``.

    Raises
    ------
    RuntimeError
        If not root, if ``apt-get`` is absent, or if apt fails (its output tail is shown).
    """
    if not _missing_programs():
        return
    if os.geteuid() != 0:
        raise RuntimeError("installing packages needs root")
    if shutil.which("apt-get") is None:
        raise RuntimeError("apt-get not found (not a Debian-like system)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    logger.info("installing Debian packages %s with apt-get", " ".join(DEBIAN_PACKAGES))
    for command in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_PACKAGES],
    ):
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if result.returncode != 0:
            tail = (result.stdout + result.stderr)[-2000:]
            raise RuntimeError(f"`{' '.join(command)}` failed ({result.returncode}):\n{tail}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def detect_node_hardware() -> dict[str, int]:
    """CPUs, socket layout and memory of this machine as ``slurmd -C`` reports them.

    Returns
    -------
    Mapping with keys ``CPUs``, ``Boards``, ``SocketsPerBoard``, ``CoresPerSocket``,
    ``ThreadsPerCore`` and ``RealMemory`` (MiB); taking them from slurmd itself means the
    node never registers with less than slurm.conf promises (which would drain it).
    """
    output = subprocess.run(
        ["slurmd", "-C"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    first_line = output.splitlines()[0]
    values = dict(item.split("=", 1) for item in first_line.split() if "=" in item)
    keys = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore")
    hardware = {key: int(values[key]) for key in keys if key in values}
    if "CPUs" not in hardware:
        hardware["CPUs"] = len(os.sched_getaffinity(0))
    hardware["RealMemory"] = int(values.get("RealMemory", 1024))
    return hardware


def write_config(directory: Path, hardware: dict[str, int] | None = None, n_gpus: int = 1) -> Path:
    """Write slurm.conf, gres.conf and cgroup.conf for one node into ``directory``.

    Parameters
    ----------
    directory
        Empty directory; receives the three files plus ``state/``, ``spool/`` and ``log/``.
    hardware
        Output of :func:`detect_node_hardware` (detected when None). The node offers all
        CPUs and 90% of the memory, so a job's ``--mem`` stays below what the OS has.
    n_gpus
        Number of fake GPUs (at most 2); their "device files" are ``/dev/null`` and
        ``/dev/zero``, which is all SLURM needs to hand them out and set
        ``CUDA_VISIBLE_DEVICES``.

    Returns
    -------
    Path of slurm.conf (point ``SLURM_CONF`` at it).
    """
    hardware = detect_node_hardware() if hardware is None else dict(hardware)
    real_memory_mb = max(256, int(hardware.pop("RealMemory") * 0.9))
    layout = " ".join(f"{key}={value}" for key, value in hardware.items())
    for sub in ("state", "spool", "log"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    slurm_conf = f"""\
# Single-node test cluster (tests/slurm_cluster.py); see DESIGN.md section 7.
ClusterName=sivaetest
SlurmctldHost={NODE_NAME}
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={directory}/state
SlurmdSpoolDir={directory}/spool
SlurmctldPidFile={directory}/slurmctld.pid
SlurmdPidFile={directory}/slurmd.pid
SlurmctldLogFile={directory}/log/slurmctld.log
SlurmdLogFile={directory}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: processes are tracked through /proc and tasks are not bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# No slurmdbd: squeue (not sacct) reports job states, kept for MinJobAge seconds.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=3600
# A cancelled job's processes get SIGKILL 5 s after SIGTERM (default 30 s).
KillWait=5
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
ReturnToService=2
GresTypes=gpu
NodeName={NODE_NAME} {layout} RealMemory={real_memory_mb} Gres=gpu:{n_gpus} State=UNKNOWN
PartitionName=main Nodes={NODE_NAME} Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes={NODE_NAME} MaxTime=INFINITE State=UP
"""
    (directory / "slurm.conf").write_text(slurm_conf)
    # Fake GPUs: SLURM only needs a device file per GPU to hand out.
    devices = ("/dev/null", "/dev/zero")
    if not 1 <= n_gpus <= len(devices):
        raise ValueError(f"n_gpus must be 1 or 2 for the test cluster, got {n_gpus}")
    (directory / "gres.conf").write_text(
        "".join(f"NodeName={NODE_NAME} Name=gpu File={dev}\n" for dev in devices[:n_gpus])
    )
    # Nothing is constrained through cgroups (task/none, proctrack/linuxproc).
    (directory / "cgroup.conf").write_text(
        "CgroupAutomount=no\nConstrainCores=no\nConstrainRAMSpace=no\nConstrainDevices=no\n"
    )
    return directory / "slurm.conf"


@dataclass
class SlurmCluster:
    """Handle on a running test cluster.

    Attributes
    ----------
    directory
        Temporary directory with the configuration, state and daemon logs.
    conf
        slurm.conf; :attr:`env` carries it as ``SLURM_CONF`` for client commands.
    cpus, real_memory_mb
        What the single node offers.
    """

    directory: Path
    conf: Path
    cpus: int
    real_memory_mb: int
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a SLURM client command (``squeue``, ``scancel``, ...) against this cluster."""
        return subprocess.run(
            list(command), env=self.env, capture_output=True, text=True, check=check, timeout=60
        )

    def jobs(self) -> list[dict[str, str]]:
        """Every job the controller knows: dicts with ``id``, ``name``, ``state``, ``comment``."""
        out = self.run("squeue", "--states=all", "--noheader", "--format=%i|%j|%T|%k").stdout
        rows = [line.split("|", 3) for line in out.splitlines() if line.strip()]
        return [dict(zip(("id", "name", "state", "comment"), row, strict=True)) for row in rows]

    def cancel_all(self, timeout_s: float = 60) -> None:
        """Cancel every pending or running job and wait until none is left active."""
        active = ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED")
        deadline = time.monotonic() + timeout_s
        while True:
            live = [job["id"] for job in self.jobs() if job["state"] in active]
            if not live:
                return
            if time.monotonic() > deadline:
                logger.warning("SLURM jobs still active after cancelling: %s", live)
                return
            self.run("scancel", *live, check=False)
            time.sleep(1)

    def log_tail(self, n_chars: int = 3000) -> str:
        """The end of the daemon logs, for failure messages."""
        parts = []
        for log in sorted((self.directory / "log").glob("*.log")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-n_chars:]}")
        return "\n".join(parts)


def _link_default_conf(conf: Path) -> bool:
    """Point :data:`DEFAULT_SLURM_CONF` at ``conf``; False if another cluster owns it."""
    if DEFAULT_SLURM_CONF.is_symlink():
        target = Path(os.readlink(DEFAULT_SLURM_CONF))
        if target.exists():
            return False
        # Left behind by a test session that was killed before it could clean up.
        logger.info("removing stale link %s -> %s", DEFAULT_SLURM_CONF, target)
        DEFAULT_SLURM_CONF.unlink()
    elif DEFAULT_SLURM_CONF.exists():
        return False
    DEFAULT_SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    DEFAULT_SLURM_CONF.symlink_to(conf)
    return True


def _unlink_default_conf(conf: Path) -> None:
    if DEFAULT_SLURM_CONF.is_symlink() and Path(os.readlink(DEFAULT_SLURM_CONF)) == conf:
        DEFAULT_SLURM_CONF.unlink()


def _munge_works(env: dict[str, str]) -> bool:
    if not MUNGE_SOCKET.exists():
        return False
    probe = subprocess.run(
        "munge -n | unmunge", shell=True, env=env, capture_output=True, timeout=30, check=False
    )
    return probe.returncode == 0


def _start_munged(directory: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start ``munged`` in the foreground as user munge on the default socket."""
    import grp
    import pwd

    user = pwd.getpwnam("munge")
    group = grp.getgrnam("munge")
    MUNGE_SOCKET.parent.mkdir(parents=True, exist_ok=True)
    os.chown(MUNGE_SOCKET.parent, user.pw_uid, group.gr_gid)
    os.chmod(MUNGE_SOCKET.parent, 0o755)
    if not MUNGE_KEY.exists():
        # The Debian package creates the key on install; recreate it if someone removed it.
        subprocess.run(["mungekey", "--create", "--keyfile", str(MUNGE_KEY)], check=True)
        os.chown(MUNGE_KEY, user.pw_uid, group.gr_gid)
        os.chmod(MUNGE_KEY, 0o600)
    # munged (user munge) cannot write into the root-owned test directory: keep its
    # default log, /var/log/munge/munged.log, and send only its console output here.
    log = open(directory / "log" / "munged.out", "w")  # noqa: SIM115
    return subprocess.Popen(
        ["munged", "--foreground"],
        user=user.pw_uid,
        group=group.gr_gid,
        extra_groups=[],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )


def _wait_for(predicate, timeout_s: float, what: str, cluster: SlurmCluster) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise RuntimeError(
        f"timed out after {timeout_s:.0f} s waiting for {what}\n{cluster.log_tail()}"
    )


def _stop(process: subprocess.Popen, name: str, timeout_s: float = 15) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        logger.warning("%s (pid %d) ignored SIGTERM; killing it", name, process.pid)
        process.kill()
        process.wait(timeout=timeout_s)


@contextlib.contextmanager
def slurm_cluster(
    directory: Path, n_gpus: int = 1, start_timeout_s: float = 60
) -> Iterator[SlurmCluster]:
    """Run a single-node SLURM cluster for the duration of a ``with`` block.

    Parameters
    ----------
    directory
        Empty directory for configuration, state and logs (e.g. pytest's ``tmp_path``).
        Keep it short: slurmd puts sockets under it (UNIX socket paths hold 107 bytes).
    n_gpus
        Fake GPUs on the node (1 or 2), see :func:`write_config`.
    start_timeout_s
        How long to wait for the node to reach ``idle``.

    Yields
    ------
    SlurmCluster
        Its ``env`` (``os.environ`` plus ``SLURM_CONF``) must be passed to every SLURM
        client and to Snakemake.

    Raises
    ------
    RuntimeError
        If the machine cannot host the cluster or the node does not become idle; the
        message includes the tails of the daemon logs.
    """
    reason = unavailable_reason(install=False)
    if reason:
        raise RuntimeError(reason)
    directory = Path(directory)
    conf = write_config(directory, n_gpus=n_gpus)
    env = dict(os.environ, SLURM_CONF=str(conf))
    node_line = next(line for line in conf.read_text().splitlines() if line.startswith("NodeName"))
    node = dict(item.split("=", 1) for item in node_line.split())
    cluster = SlurmCluster(
        directory=directory,
        conf=conf,
        cpus=int(node["CPUs"]),
        real_memory_mb=int(node["RealMemory"]),
        env=env,
    )
    started: list[tuple[str, subprocess.Popen]] = []

    def launch(name: str, command: list[str]) -> None:
        out = open(directory / "log" / f"{name}.out", "w")  # noqa: SIM115
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        started.append((name, process))
        logger.info("started %s (pid %d)", name, process.pid)

    if not _link_default_conf(conf):
        raise RuntimeError(
            f"{DEFAULT_SLURM_CONF} belongs to another running SLURM (test) cluster "
            f"(-> {os.readlink(DEFAULT_SLURM_CONF)}); refusing to replace it"
        )
    try:
        if _munge_works(env):
            logger.info("reusing the MUNGE daemon already listening on %s", MUNGE_SOCKET)
        else:
            started.append(("munged", _start_munged(directory, env)))
            _wait_for(lambda: _munge_works(env), 20, "munged", cluster)
        # -D: stay in the foreground so that we own the process; -c: no saved state.
        launch("slurmctld", ["slurmctld", "-D", "-c", "-f", str(conf)])
        _wait_for(
            lambda: cluster.run("scontrol", "ping", check=False).stdout.count("UP") > 0,
            start_timeout_s,
            "slurmctld to answer `scontrol ping`",
            cluster,
        )
        launch("slurmd", ["slurmd", "-D", "-N", NODE_NAME, "-f", str(conf)])

        def node_idle() -> bool:
            out = cluster.run("sinfo", "--noheader", "--format=%t", check=False).stdout
            return "idle" in out.split()

        _wait_for(node_idle, start_timeout_s, f"node {NODE_NAME} to become idle", cluster)
        yield cluster
    finally:
        if any(name == "slurmctld" for name, _ in started):
            with contextlib.suppress(Exception):
                cluster.cancel_all()
        for name, process in reversed(started):
            _stop(process, name)
            logger.info("stopped %s (pid %d)", name, process.pid)
        _unlink_default_conf(conf)
