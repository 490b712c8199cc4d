"""Run one untrusted notebook in its own process, folder and limits: the grader's sandbox.

`run_confined` starts ``python -m nstutils.sandbox`` in a new session. That child confines
itself before it reads anything the student wrote, then runs the notebook with nbclient, and
the kernel it starts inherits every confinement:

- **limits**: memory it may allocate (``memory_mb``: heap and private mappings, which is what
  PyTorch's tensors take, not the libraries' code), size of any one file it writes, no core dumps; the
  parent stops it, its kernel and anything they started, at ``seconds`` of wall time;
- **an empty network** (a new network namespace: no TCP, no UDP, no DNS), where Linux allows it;
- **Landlock** (Linux 5.13+, no install, no root needed), where the kernel offers it: it writes
  only inside its working folder; it reads only what Python and the course need (the Python
  installation, the installed packages, ``/usr``, ``/etc``, ``/proc``, ...), never the folders
  named in ``hidden`` (the instructor notebooks) nor the teacher's home; it cannot signal the
  grader's processes.

What each run actually got is reported in `RunResult.confinement`, so the gradebook can say so.
"""

import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

EXECUTED = "executed.ipynb"         # the child writes the notebook with its outputs here
_PASSED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX",
               "TORCH_HOME", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES")
_EXIT_TIMEOUT, _EXIT_KERNEL_DIED, _EXIT_FAILED = 2, 3, 4
_STATUS = {0: "finished", _EXIT_TIMEOUT: "timeout", _EXIT_KERNEL_DIED: "kernel died"}
_GRACE_S = 20           # for the child to save the notebook after its own time limit
_LOG_BYTES = 64_000


@dataclass(frozen=True)
class Limits:
    """What one submission may use: wall time, allocated memory and the size of a file."""

    seconds: float = 600.0
    memory_mb: int = 4096
    file_mb: int = 256


@dataclass(frozen=True)
class RunResult:
    """How a confined run ended.

    ``status`` is ``"finished"``, ``"timeout"``, ``"kernel died"`` (a cell exited the kernel or it
    crashed, for example out of memory) or ``"failed"`` (the notebook could not run at all);
    ``detail`` is the end of the child's error output; ``confinement`` names what applied.
    """

    status: str
    seconds: float
    detail: str
    confinement: tuple[str, ...]


def run_confined(notebook: Path, folder: Path, limits: Limits = Limits(),
                 env: dict[str, str] | None = None, hidden: tuple[Path, ...] = ()) -> RunResult:
    """Run a notebook in ``folder`` in a confined child process, and stop it at the time limit.

    Args:
        notebook: the .ipynb to run, inside ``folder``; the executed copy goes to
            ``folder / EXECUTED``.
        folder: the run's working folder, the only place it may write.
        limits: time, memory and file-size limits.
        env: extra environment variables for the kernel.
        hidden: folders the run must not read, even where they lie inside a readable one.

    Returns:
        RunResult: how it ended.
    """
    folder = Path(folder).resolve()
    for sub in ("home", "tmp", "runtime", "config", "cache"):
        (folder / sub).mkdir(exist_ok=True)
    settings = {"folder": str(folder), "notebook": str(Path(notebook).resolve()),
                "memory_mb": limits.memory_mb, "file_mb": limits.file_mb,
                "deadline": time.time() + limits.seconds, "reads": _readable(),
                "hidden": [str(Path(h).resolve()) for h in hidden]}
    before = _children_of(os.getpid())
    _become_subreaper()
    start = time.monotonic()
    with tempfile.TemporaryFile() as log:  # outside the folder: the run cannot replace it
        child = subprocess.Popen([sys.executable, "-m", "nstutils.sandbox", json.dumps(settings)],
                                 cwd=folder, env=_child_env(folder, env or {}),
                                 start_new_session=True, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT)
        try:  # the child stops itself at the limit and saves; this is the backstop
            child.wait(timeout=limits.seconds + _GRACE_S)
            status = _STATUS.get(child.returncode, "failed")
        except subprocess.TimeoutExpired:
            status = "timeout"
        finally:
            _stop_all(child, before)
        log.seek(0)
        lines = log.read(_LOG_BYTES).decode("utf-8", "replace").splitlines()
    applied = next((line.split(":", 1)[1].strip() for line in lines
                    if line.startswith("confinement:")), "")
    return RunResult(status, time.monotonic() - start, "\n".join(lines[-8:]),
                     tuple(applied.split(",")) if applied else ())


def _child_env(folder: Path, extra: dict[str, str]) -> dict[str, str]:
    """The child's environment: a few of the teacher's variables, every cache in ``folder``."""
    env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
    env.update(HOME=str(folder / "home"), TMPDIR=str(folder / "tmp"),
               MPLCONFIGDIR=str(folder / "config"), IPYTHONDIR=str(folder / "config"),
               JUPYTER_CONFIG_DIR=str(folder / "config"), JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
               XDG_CACHE_HOME=str(folder / "cache"), XDG_CONFIG_HOME=str(folder / "config"),
               PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="module://matplotlib_inline.backend_inline",
               JUPYTER_PLATFORM_DIRS="1")
    env.update(extra)
    return env


def _readable() -> list[str]:
    """What a run may read: the system, Python and its packages, the course package, weights."""
    import torch.hub

    import nstutils

    places = {"/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/proc", "/sys", "/dev",
              sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(nstutils.__file__).parent),
              torch.hub.get_dir()}
    places |= {p for p in sys.path if "site-packages" in p or p.endswith(".zip")}
    return sorted(p for p in places if os.path.exists(p))


# --- the parent: stop the child, its kernel and whatever they started --------------------------

def _become_subreaper() -> None:
    """Adopt orphaned descendants, so a process that leaves its session is still found."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _children_of(pid: int) -> set[int]:
    """Every live descendant of ``pid``, from ``/proc``."""
    parents = {}
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        try:
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        except (ValueError, OSError, IndexError):
            continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _stop_all(child: subprocess.Popen, keep: set[int]) -> None:
    """Kill the child's session and every descendant the run left behind, then reap them."""
    if child.poll() is None:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except (AttributeError, ProcessLookupError, PermissionError):
            child.kill()
    for _ in range(3):
        strays = _children_of(os.getpid()) - keep
        if not strays:
            break
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in strays:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    child.wait()


# --- the child: confine itself, then run the notebook ------------------------------------------

def _confine(settings: dict) -> list[str]:
    """Apply the limits, an empty network and Landlock to this process; return what applied."""
    try:
        import resource
    except ImportError:  # Windows: the time limit is all there is
        return []
    mb = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (settings["memory_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (settings["file_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    applied = ["limits"]
    if not sys.platform.startswith("linux"):
        return applied
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with the grader
    if _empty_network(libc):
        applied.append("no network")
    applied += _landlock(libc, Path(settings["folder"]), settings["reads"],
                         [Path(h) for h in settings["hidden"]])
    return applied


def _empty_network(libc) -> bool:
    """Move into a new, empty network namespace (as root directly, else in a user namespace)."""
    clone_newnet, clone_newuser = 0x40000000, 0x10000000
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(clone_newnet) == 0:
        return True
    if libc.unshare(clone_newuser | clone_newnet) != 0:
        return False
    try:  # keep our own user and group ids inside the namespace
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    except OSError:
        pass
    return True


# Landlock's access rights (linux/landlock.h) and the ABI version that brought them.
_FS_RIGHTS = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_READ = (1 << 0) | (1 << 2) | (1 << 3)          # execute, read a file, read a directory
_FILE_ONLY = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 14) | (1 << 15)


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _landlock(libc, folder: Path, reads: list[str], hidden: list[Path]) -> list[str]:
    """Restrict this process with Landlock; return what applied (nothing where unsupported)."""
    create, add_rule, restrict = 444, 445, 446
    abi = libc.syscall(create, None, 0, 1)
    if abi < 1:
        return []
    fs = _FS_RIGHTS[max(v for v in _FS_RIGHTS if v <= abi)]
    attr = _RulesetAttr(fs, 0b11 if abi >= 4 else 0, 0b11 if abi >= 6 else 0)
    ruleset = libc.syscall(create, ctypes.byref(attr), ctypes.sizeof(attr), 0)
    if ruleset < 0:
        return []

    def allow(path: Path, rights: int) -> None:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return
        rule = _PathBeneath((rights if path.is_dir() else rights & _FILE_ONLY) & fs, fd)
        libc.syscall(add_rule, ruleset, 1, ctypes.byref(rule), 0)
        os.close(fd)

    for place in reads:
        for path in _around(Path(place), hidden):
            allow(path, _READ)
    allow(Path("/dev/null"), fs)
    allow(folder, fs)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS, which Landlock requires
    if libc.syscall(restrict, ruleset, 0) != 0:
        return []
    return ["files"] + (["no tcp"] if abi >= 4 else []) + (["no signals out"] if abi >= 6 else [])


def _around(place: Path, hidden: list[Path]) -> list[Path]:
    """``place`` itself, or where it holds a hidden folder, everything in it but that folder."""
    inside = [h for h in hidden if h == place or place in h.parents]
    if not inside:
        return [place]
    if place in inside:
        return []
    out = []
    for child in place.iterdir():
        out += _around(child, inside)
    return out


def _run(settings: dict) -> int:
    """The child: confine, run the notebook with an IPC kernel, save it; return the exit code."""
    applied = _confine(settings)
    print("confinement:", ",".join(applied), flush=True)
    import nbformat
    from jupyter_client import AsyncKernelManager
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from .course import notebook_client

    folder = Path(settings["folder"])
    nb = nbformat.read(settings["notebook"], as_version=4)
    manager = AsyncKernelManager(transport="ipc", kernel_name="python3",
                            connection_file=str(folder / "runtime" / "kernel.json"))
    client = notebook_client(nb, folder, 1, allow_errors=True, km=manager)
    client.timeout_func = lambda cell: max(1, int(settings["deadline"] - time.time()))
    client.interrupt_on_timeout = False
    try:
        client.execute(cwd=str(folder))
        code = 0
    except CellTimeoutError:
        print("the time limit was reached", flush=True)
        code = _EXIT_TIMEOUT
    except DeadKernelError as err:
        print(f"the kernel died: {err}", flush=True)
        code = _EXIT_KERNEL_DIED
    except Exception as err:  # anything else: report it; the parent grades what was recorded
        print(f"the notebook could not run: {type(err).__name__}: {err}", flush=True)
        code = _EXIT_FAILED
    nbformat.write(nb, folder / EXECUTED)
    return code


if __name__ == "__main__":
    sys.exit(_run(json.loads(sys.argv[1])))
