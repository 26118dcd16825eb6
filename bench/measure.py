"""What bench/run.py measures besides throughput, and how it summarises repeated rounds: CPU
seconds of the service, of PostgreSQL and of the load generator per request (from /proc and
getrusage), how long the service's threads waited for a core (schedstat), medians with their
spread, and the ratio chart (an SVG drawn here, no plotting library needed).
"""

from __future__ import annotations

import html
import os
import resource
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces and
    parentheses, hence the last `)`), or None for a process that is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def _seconds(fields: list[str], with_children: bool = False) -> float:
    # utime, stime (and the reaped children's cutime, cstime): fields 14 to 17 of proc(5),
    # counted here from the state field, which is field 3.
    used = int(fields[11]) + int(fields[12])
    if with_children:
        used += int(fields[13]) + int(fields[14])
    return used / CLOCK_TICKS


class CpuMeter:
    """CPU seconds used so far by the service (all its threads) and by the PostgreSQL cluster:
    the postmaster, every live child (backends, autovacuum, the writers) and the children it
    has already reaped (a pgbench run's backends exit when it ends)."""

    def __init__(self, service_pid: int, postmaster_pid_file: Path):
        self.service_pid = service_pid
        self.postmaster_pid_file = postmaster_pid_file

    def postmaster_pid(self) -> int:
        return int(self.postmaster_pid_file.read_text().splitlines()[0])

    def seconds(self) -> tuple[float, float]:
        service = _stat_fields(self.service_pid)
        postmaster = self.postmaster_pid()
        postgres = 0.0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            fields = _stat_fields(entry.name)
            if fields is None:
                continue
            if int(entry.name) == postmaster:
                postgres += _seconds(fields, with_children=True)
            elif int(fields[1]) == postmaster:
                postgres += _seconds(fields)
        return (_seconds(service) if service else 0.0), postgres

    def service_waiting(self) -> float:
        """Seconds the service's threads have spent runnable but not running, waiting for a core
        (the second field of each thread's /proc schedstat; threads that have exited are not
        counted, and the service's threads live as long as it does)."""
        waited_ns = 0
        try:
            tasks = list(Path(f"/proc/{self.service_pid}/task").iterdir())
        except OSError:
            return 0.0
        for task in tasks:
            try:
                waited_ns += int((task / "schedstat").read_text().split()[1])
            except (OSError, IndexError, ValueError):
                continue
        return waited_ns / 1e9


def _children_seconds() -> float:
    """CPU seconds of this script's children that have been waited for: a load generator run
    with `subprocess.run` counts once it has exited (the service and PostgreSQL, still running,
    do not)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Run:
    """One timed run of a scenario: wrk against the service, or pgbench against PostgreSQL."""
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int = 0
    raw: str = field(default="", repr=False)
    requests: int = 0
    service_cpu_s: float = 0.0
    postgres_cpu_s: float = 0.0
    # The load generator's own CPU (wrk or pgbench), and the time the service's threads spent
    # waiting for a core: on a machine the three share, what the service's rate is bounded by.
    load_cpu_s: float = 0.0
    service_wait_s: float = 0.0

    def per_thousand(self, seconds: float) -> float:
        return seconds * 1000 / self.requests if self.requests else 0.0

    @property
    def service_cpu_per_k(self) -> float:
        return self.per_thousand(self.service_cpu_s)

    @property
    def postgres_cpu_per_k(self) -> float:
        return self.per_thousand(self.postgres_cpu_s)

    @property
    def load_cpu_per_k(self) -> float:
        return self.per_thousand(self.load_cpu_s)

    @property
    def service_waiting_share(self) -> float:
        """Of the time the service's threads were runnable, the share they waited for a core."""
        runnable = self.service_cpu_s + self.service_wait_s
        return self.service_wait_s / runnable if runnable else 0.0


def metered(meter: CpuMeter | None, action) -> Run:
    """Runs `action` (which returns a Run, its load generator run to its end as a child of this
    script) and charges it the CPU the service, PostgreSQL and the load generator used meanwhile,
    and the time the service's threads waited for a core."""
    before = meter.seconds() if meter else (0.0, 0.0)
    waited_before = meter.service_waiting() if meter else 0.0
    load_before = _children_seconds()
    result = action()
    result.load_cpu_s = _children_seconds() - load_before
    if meter:
        after = meter.seconds()
        result.service_cpu_s = after[0] - before[0]
        result.postgres_cpu_s = after[1] - before[1]
        result.service_wait_s = meter.service_waiting() - waited_before
    return result


@dataclass
class Spread:
    median: float
    low: float
    high: float

    @staticmethod
    def of(values: list[float]) -> "Spread | None":
        return Spread(statistics.median(values), min(values), max(values)) if values else None

    def text(self, digits: int = 2, suffix: str = "×") -> str:
        if self.low == self.high:
            return f"{self.median:,.{digits}f}{suffix}"
        return (f"{self.median:,.{digits}f}{suffix} ({self.low:,.{digits}f}–"
                f"{self.high:,.{digits}f})")


@dataclass
class Rounds:
    """A scenario's runs: the service's and, interleaved with them, pgbench's."""
    name: str
    title: str
    ours: list[Run] = field(default_factory=list)
    pg: list[Run] = field(default_factory=list)

    def rps(self) -> Spread | None:
        return Spread.of([run.rps for run in self.ours])

    def ratio(self) -> Spread | None:
        """The service's rate over pgbench's, round by round (each pair ran back to back)."""
        return Spread.of([ours.rps / pg.rps for ours, pg in zip(self.ours, self.pg) if pg.rps])

    def median(self, attribute: str, pg: bool = False) -> float | None:
        runs = self.pg if pg else self.ours
        values = [getattr(run, attribute) for run in runs]
        return statistics.median(values) if values else None

    def summary(self) -> dict:
        strip = (lambda run: {k: v for k, v in asdict(run).items() if k != "raw"})
        return {"title": self.title, "ours": [strip(r) for r in self.ours],
                "pg": [strip(r) for r in self.pg]}

    @staticmethod
    def from_summary(name: str, data: dict) -> "Rounds":
        return Rounds(name, data["title"], [Run(**r) for r in data["ours"]],
                      [Run(**r) for r in data["pg"]])


# The chart's geometry (pixels), and the ratio its axis ends at: a longer bar is cut there and
# labelled with its value, so that one 7× row does not squeeze the rows near the targets.
AXIS_END = 3.0
LABEL_WIDTH = 330
PLOT_WIDTH = 520
ROW_HEIGHT = 34
TOP = 48
COLOURS = {"before": "#9a9a9a", "after": "#1f6fb2"}


def ratio_chart(rows: list[tuple[str, float, Spread | None, Spread | None]], title: str) -> str:
    """Horizontal bars, one pair per row (label, target, before, after): the median ratio as a
    bar, its min–max as a whisker, the target (if any) as a red tick. Ratios share one scale from
    0 to at most `AXIS_END`."""
    highest = min(AXIS_END, max([1.0] + [s.high for _, _, b, a in rows for s in (b, a) if s]
                                + [target for _, target, _, _ in rows]))
    scale = PLOT_WIDTH / (highest * 1.08)
    height = TOP + ROW_HEIGHT * len(rows) + 40
    width = LABEL_WIDTH + PLOT_WIDTH + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" role="img" '
           f'aria-label="{html.escape(title)}">',
           f'<title>{html.escape(title)}</title>',
           '<rect width="100%" height="100%" fill="#ffffff"/>',
           f'<text x="10" y="20" font-size="14" font-weight="bold">{html.escape(title)}</text>']
    legend_x = LABEL_WIDTH
    for label, colour in COLOURS.items():
        out.append(f'<rect x="{legend_x}" y="28" width="12" height="10" fill="{colour}"/>'
                   f'<text x="{legend_x + 16}" y="37">{label}</text>')
        legend_x += 70
    out.append(f'<line x1="{legend_x}" y1="27" x2="{legend_x}" y2="39" stroke="#c0392b" '
               f'stroke-width="2"/><text x="{legend_x + 6}" y="37">target</text>')
    step = 0.5 if highest <= 3 else 1.0
    tick = 0.0
    while tick <= highest * 1.08:
        x = LABEL_WIDTH + tick * scale
        out.append(f'<line x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{height - 36}" '
                   f'stroke="#e3e3e3"/><text x="{x:.1f}" y="{height - 22}" '
                   f'text-anchor="middle">{tick:g}×</text>')
        tick += step
    for index, (label, target, before, after) in enumerate(rows):
        y = TOP + index * ROW_HEIGHT
        out.append(f'<text x="{LABEL_WIDTH - 8}" y="{y + 20}" text-anchor="end">'
                   f'{html.escape(label)}</text>')
        for offset, (name, spread) in enumerate((("before", before), ("after", after))):
            if not spread:
                continue
            bar_y = y + 5 + offset * 12
            end = highest * 1.04
            out.append(f'<rect x="{LABEL_WIDTH}" y="{bar_y}" '
                       f'width="{min(spread.median, end) * scale:.1f}" '
                       f'height="10" fill="{COLOURS[name]}"><title>{name}: '
                       f'{html.escape(spread.text())}</title></rect>')
            if spread.high > end:
                out.append(f'<text x="{LABEL_WIDTH + end * scale + 4:.1f}" y="{bar_y + 9}">'
                           f'{spread.median:.1f}×</text>')
            low = LABEL_WIDTH + min(spread.low, end) * scale
            high = LABEL_WIDTH + min(spread.high, end) * scale
            out.append(f'<line x1="{low:.1f}" y1="{bar_y + 5}" x2="{high:.1f}" y2="{bar_y + 5}" '
                       f'stroke="#222" stroke-width="1.5"/>')
        if target:
            target_x = LABEL_WIDTH + target * scale
            out.append(f'<line x1="{target_x:.1f}" y1="{y + 2}" x2="{target_x:.1f}" '
                       f'y2="{y + 29}" stroke="#c0392b" stroke-width="2"/>')
    out.append(f'<text x="10" y="{height - 6}" fill="#555">Bars: median of the rounds; '
               'whiskers: lowest to highest round.</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
