"""What ``mailsim run`` shows on stderr while it works: the phase, and how far it has got.

On a terminal: one line, rewritten in place (a carriage return) a few times a second. Anywhere
else (a log file, a pipe): a plain line at each phase change and every ``every_s_not_tty``
seconds, never a carriage return. Nothing shows during a run's first ``quiet_s`` seconds, so a
short run stays silent. The phases are the simulation (told by ``World.run``'s progress
callback) and the steps of writing the result (told by ``Result.save``'s): deriving the tables,
writing the files, drawing the plots, the report, the transcripts and the packet capture.

While the traffic period lasts, the line shows how much of it has been simulated, the ETA (the
wall time the rest of the traffic period will take at the pace of simulated seconds per wall
second so far; the drain after it is not included) and how many messages the run creates per
wall-clock second (user mail, replies, forwards and DSNs: the ``messages_created`` of
:class:`~simulator.world.RunStatus`), in that order and first, so that a terminal of 80 columns,
which cuts the line, shows them. After it, the run drains queues and waits out retries, so the
line shows the next event's time and what remains (messages in queues, open work), with no
percentage, no ETA and no rate: the clock jumps from retry to retry, so simulated time says
nothing of the wall time left, and hardly any message is made. The last line gives the run's rate.
A heartbeat thread shows the line again when one step (deriving the tables of a huge log, say)
gives no news for a while, so a long run is never silent for more than a few seconds.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from .units import format_duration

if TYPE_CHECKING:
    from .world import RunStatus

PHASES: dict[str, str] = {
    "simulate": "simulating",
    "derive": "deriving tables",
    "write": "writing files",
    "plots": "drawing plots",
    "report": "writing the report",
    "transcripts": "writing transcripts",
    "pcap": "writing the packet capture",
}
"""Each phase's name (as the library reports it) and how the display names it."""

QUIET_S = 2.0
"""Nothing is shown before a run has taken this long."""


class StatusLine:
    """One status line on ``stream``: on a terminal rewritten in place (a carriage return, padded
    over the longer line it replaces, cut to the terminal's width), elsewhere a plain line each."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.width = 0  # characters of the line on the terminal now

    def show(self, line: str) -> None:
        if self.tty:
            line = line[:shutil.get_terminal_size((100, 24)).columns - 1]
            self.stream.write("\r" + line + " " * max(0, self.width - len(line)))
            self.width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def end(self, keep: bool) -> None:
        """On a terminal, end the line shown: keep it (a line end) or clear it."""
        if self.tty and self.width:
            self.stream.write("\n" if keep else "\r" + " " * self.width + "\r")
            self.stream.flush()
        self.width = 0


class RunProgress:
    """The progress display of one ``mailsim run``: pass :meth:`simulation` to ``run`` and
    :meth:`step` to ``Result.save``, and close it (or use it in a ``with`` block) at the end."""

    def __init__(
        self,
        stream: TextIO,
        enabled: bool = True,
        quiet_s: float | None = None,
        every_s: float = 0.25,
        every_s_not_tty: float = 10.0,
        heartbeat_s: float | None = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``heartbeat_s``: how often the heartbeat thread looks whether to show the line again
        (None: no thread). ``quiet_s`` defaults to :data:`QUIET_S`. Not ``enabled`` (``--quiet``):
        shows nothing."""
        self.line = StatusLine(stream)
        self.enabled = enabled
        self.tty = self.line.tty
        self.every_s = every_s if self.tty else every_s_not_tty
        self.quiet_s = QUIET_S if quiet_s is None else quiet_s
        self.clock = clock
        self.start_s = clock()
        self.phase = ""
        self.detail = ""
        self.shown_phase = ""  # the phase of the last line shown
        self.pace: Pace | None = None  # set by the first simulation report
        self.last_shown_s = -float("inf")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if enabled and heartbeat_s is not None:
            self._thread = threading.Thread(target=self._beat, args=(heartbeat_s,), daemon=True,
                                            name="mailsim-progress")
            self._thread.start()

    # ---- what the library tells -----------------------------------------------------------

    def simulation(self, status: RunStatus) -> None:
        """``World.run``'s progress callback."""
        if not self.enabled:
            return
        now = self.clock()
        if self.pace is None:
            self.pace = Pace(now, status.now_s, status.messages_created)
        if now - self.start_s < self.quiet_s or (now - self.last_shown_s < self.every_s
                                                 and self.shown_phase == "simulate"):
            return  # cheap: the status is read only when it is shown
        self._update("simulate", simulation_text(status, self.pace.text(status, now)))

    def step(self, phase: str, detail: str) -> None:
        """``Result.save``'s progress callback: a step of writing the result starts."""
        if self.enabled:
            self._update(phase, detail)

    def note(self, text: str) -> None:
        """A line that must show whatever the timing or ``enabled`` (what the run does after a
        Ctrl-C, say): on a terminal it ends the status line first, and the line comes back after."""
        with self._lock:
            self.line.end(keep=True)
            self.line.stream.write(text + "\n")
            self.line.stream.flush()
            self.shown_phase = ""  # the next update shows at once

    # ---- showing ---------------------------------------------------------------------------

    def _update(self, phase: str, detail: str) -> None:
        with self._lock:
            self.phase, self.detail = phase, detail
            self._show(force=phase != self.shown_phase)

    def _beat(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            with self._lock:
                if self.phase:
                    self._show(force=False)

    def _show(self, force: bool) -> None:
        """Show the line if it is time to (the lock is held)."""
        now = self.clock()
        elapsed_s = now - self.start_s
        if elapsed_s < self.quiet_s or (not force and now - self.last_shown_s < self.every_s):
            return
        self.last_shown_s = now
        self.shown_phase = self.phase
        self.line.show(f"  {PHASES.get(self.phase, self.phase)}: {self.detail} [{_wall(elapsed_s)}]")

    def close(self, completed: bool = True) -> None:
        """Stop the heartbeat; on a terminal clear the line, in a log say when it finished."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            if not self.tty and self.shown_phase and completed:
                self.line.show(f"  finished [{_wall(self.clock() - self.start_s)}]")
            self.line.end(keep=False)
            self.shown_phase = ""

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, _value: BaseException | None,
                 _traceback: TracebackType | None) -> None:
        self.close(completed=kind is None)


def simulation_text(status: RunStatus, pace: str = "") -> str:
    """How far the simulation has got: the share of the traffic period while it lasts, then
    what remains to drain (after the traffic period a percentage would tell nothing). ``pace``
    (:meth:`Pace.text`: the ETA and the rate) comes right after the share, or after "done", and
    the counts last, so a terminal of 80 columns, which cuts the line, keeps what matters."""
    now_s, duration_s, until_s = status.now_s, status.duration_s, status.until_s
    counts = f"{_n(status.messages_created, 'message')}, {_n(status.events, 'event')}"
    stop = f"; hard stop at {_sim(until_s)}" if until_s is not None else ""
    if status.finished:
        return f"{'stopped' if status.stopped else 'done'} at {_sim(now_s)}{pace}; {counts}"
    if now_s < duration_s:
        share = now_s / duration_s
        return f"{share:.0%} of the {_sim(duration_s)} traffic period{pace}{stop}; at {_sim(now_s)}, {counts}"
    next_s = status.next_event_s
    following = f", next event at {_sim(next_s)}" if next_s is not None else ""
    return (f"draining{following}; {_n(status.queued_messages, 'message')} queued, {_n(status.busy, 'task')} open; "
            f"at {_sim(now_s)}, traffic ended at {_sim(duration_s)}{stop}; {counts}")


class Pace:
    """How fast a simulation goes in wall-clock time, measured from its first progress report:
    messages created per second, and the ETA of the traffic period (see the module's docstring)."""

    __slots__ = ("messages", "sim_s", "wall_s")

    def __init__(self, wall_s: float, sim_s: float, messages: int) -> None:
        self.wall_s, self.sim_s, self.messages = wall_s, sim_s, messages  # at the first report

    def text(self, status: RunStatus, wall_s: float) -> str:
        """``, ETA 2m5s, 1,234 messages/s`` during the traffic period; ``, 1,234 messages/s`` (the
        rate over the whole run) once it is finished; nothing while it drains (it creates no
        messages then, but for DSNs), nor before any wall time has passed since the first report."""
        spent_s = wall_s - self.wall_s
        now_s = status.now_s
        end_s = status.duration_s if status.until_s is None else min(status.duration_s, status.until_s)
        if spent_s <= 0 or (not status.finished and now_s >= end_s):
            return ""
        rate = f"{(status.messages_created - self.messages) / spent_s:,.0f} messages/s"
        if status.finished:
            return f", {rate}"
        sim_per_wall = (now_s - self.sim_s) / spent_s
        eta = "--" if sim_per_wall <= 0 else _wall((end_s - now_s) / sim_per_wall)
        return f", ETA {eta}, {rate}"


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _sim(seconds: float) -> str:
    """A simulated time: ``2d 3h 4m 5s``, to the second (``0s`` for less)."""
    return format_duration(round(seconds))


def _wall(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 60 else format_duration(round(seconds))
