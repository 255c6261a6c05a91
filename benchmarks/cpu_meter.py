"""Where the CPU went during a benchmark step, read from ``/proc`` (Linux; no psutil needed).

A benchmark registers its processes under labels ("harness: generator", "ristapo serve :8001",
"postgres") and takes a :class:`CpuMeter` snapshot before and after the timed part; the
difference, divided by the events processed, is the CPU each process spent per event. A label
counts a whole process tree: the root's own time, the time of children it has already reaped
(``cutime``/``cstime``: PostgreSQL's postmaster reaps its backends) and its live descendants, so
a backend that exits between the two snapshots is neither lost nor counted twice.
"other" is the machine's busy time (``/proc/stat``) minus every registered tree: whatever
else ran on the same cores (another benchmark, a test suite, the kernel's own threads).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(ppid, own CPU s, reaped children's CPU s) of one process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # why rpartition: the command name in parentheses may itself contain spaces or ")"
    fields = raw.rpartition(")")[2].split()
    ppid = int(fields[1])
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return ppid, (utime + stime) / _TICK, (cutime + cstime) / _TICK


def _children_by_parent() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None:
                out.setdefault(st[0], []).append(int(entry.name))
    return out


def tree_cpu(pid: int, children: dict[int, list[int]] | None = None) -> float:
    """CPU seconds of ``pid``, its reaped children and its live descendants (0.0 once it is gone)."""
    children = _children_by_parent() if children is None else children
    root = _stat(pid)
    if root is None:
        return 0.0
    total = root[1] + root[2]
    stack = list(children.get(pid, ()))
    while stack:
        child = stack.pop()
        st = _stat(child)
        if st is not None:
            total += st[1]
            stack.extend(children.get(child, ()))
    return total


def machine_busy() -> float:
    """CPU seconds all cores spent not idle since boot (``/proc/stat``)."""
    first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in first[1:9])
    return (user + nice + system + irq + softirq + steal) / _TICK


def postmaster_pid(data_dir: str | os.PathLike) -> int | None:
    """The postmaster of a cluster directory (first line of ``postmaster.pid``), if running."""
    try:
        return int(Path(data_dir, "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


@dataclass
class Snapshot:
    wall: float
    busy: float
    per_label: dict[str, float]


class CpuMeter:
    """Labels → process trees; :meth:`snapshot` before and after, :meth:`report` the difference."""

    def __init__(self) -> None:
        self.labels: dict[str, list[int]] = {}

    def add(self, label: str, pid: int | None) -> None:
        if pid is not None:
            self.labels.setdefault(label, []).append(pid)

    def snapshot(self) -> Snapshot:
        import time

        children = _children_by_parent()
        # why a label's trees are summed without overlap checks: callers register disjoint
        # trees (this process is registered alone and its subprocesses under their own labels)
        per_label = {}
        for label, pids in self.labels.items():
            per_label[label] = sum(self._own_tree(pid, children) for pid in pids)
        return Snapshot(time.perf_counter(), machine_busy(), per_label)

    def _own_tree(self, pid: int, children: dict[int, list[int]]) -> float:
        if pid == os.getpid():
            st = _stat(pid)  # this process only: its subprocesses are registered separately
            return 0.0 if st is None else st[1]
        return tree_cpu(pid, children)

    def per_event(self, before: Snapshot, after: Snapshot, events: int) -> dict[str, float]:
        """ms of CPU per event: each label, ``harness``, ``system`` (under test) and ``other``."""
        used = {k: after.per_label.get(k, 0.0) - before.per_label.get(k, 0.0) for k in self.labels}
        per = 1000 / events if events else float("nan")
        out = {k: v * per for k, v in used.items()}
        out["harness"] = sum(v for k, v in used.items() if k.startswith("harness")) * per
        out["system"] = sum(v for k, v in used.items() if not k.startswith("harness")) * per
        out["other"] = max(0.0, (after.busy - before.busy) - sum(used.values())) * per
        return out

    def report(self, before: Snapshot, after: Snapshot, events: int, *, indent: str = "  ", unit: str = "processed event") -> str:
        """A few lines: ms of CPU per event per label, harness share, other load, cores used."""
        wall = after.wall - before.wall
        used = {k: after.per_label.get(k, 0.0) - before.per_label.get(k, 0.0) for k in self.labels}
        other = max(0.0, (after.busy - before.busy) - sum(used.values()))
        per = 1000 / events if events else float("nan")
        harness = sum(v for k, v in used.items() if k.startswith("harness"))
        system = sum(v for k, v in used.items() if not k.startswith("harness"))
        cores = os.cpu_count() or 1
        lines = [f"{indent}CPU per {unit} ({events} in {wall:.2f} s; {cores} cores = {cores * wall:.1f} CPU-s available):"]
        other_label = "other (not ours: machine busy minus the above)"
        width = max(len(k) for k in [*used, other_label])
        for label, secs in used.items():
            lines.append(f"{indent}  {label:<{width}} {secs * per:6.2f} ms/ev  ({secs / wall * 100:5.1f}% of one core)")
        lines.append(f"{indent}  {other_label:<{width}} {other * per:6.2f} ms/ev  ({other / wall * 100:5.1f}% of one core)")
        total = harness + system
        lines.append(
            f"{indent}  harness {harness * per:.2f} ms/ev = {harness / total * 100 if total else 0:.0f}% of our CPU; "
            f"system under test {system * per:.2f} ms/ev; both cores busy {(harness + system + other) / (cores * wall) * 100:.0f}%"
        )
        return "\n".join(lines)
