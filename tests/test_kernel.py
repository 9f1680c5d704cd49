"""What simulator.kernel relies on in SimPy's private API, pinned: a SimPy release that changes
any of it fails here, not as wrong results. Also the end-of-run counter's contract."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pytest
import simpy

from simulator import kernel
from simulator.end_of_run import EndOfRun


def test_simpy_version_is_within_the_bound_pyproject_declares() -> None:
    major, minor = (int(part) for part in version("simpy").split(".")[:2])
    assert (major, minor) >= (4, 1)
    assert (major, minor) < (4, 2)


def test_clock_and_now_read_the_environment_time() -> None:
    env = simpy.Environment(initial_time=2.5)
    clock = kernel.clock(env)
    assert clock() == kernel.now(env) == 2.5
    env.timeout(1.25)
    env.step()
    assert clock() == kernel.now(env) == env.now == 3.75


def test_mark_done_makes_an_unscheduled_event_read_as_processed() -> None:
    env = simpy.Environment()
    event = env.event()
    assert not event.triggered
    kernel.mark_done(event)
    assert event.triggered and event.processed and event.ok
    assert event.value is None
    assert env.peek() == float("inf")  # nothing was scheduled

    def waiter() -> Any:
        value = yield event  # a process yielding it goes on at once
        return ("went on", value, env.now)

    process = env.process(waiter())
    env.run()
    assert process.value == ("went on", None, 0.0)


def test_call_soon_runs_where_a_process_started_now_takes_its_first_step() -> None:
    env = simpy.Environment()
    order: list[str] = []

    def process(name: str) -> Any:
        order.append(name)
        yield env.timeout(0)

    def starter(_event: simpy.Event) -> None:
        env.timeout(0).callbacks.append(lambda _e: order.append("timer scheduled first"))
        env.process(process("process A"))
        kernel.call_soon(env, lambda _e: order.append("call_soon B"))
        env.process(process("process C"))
        order.append("starter done")

    env.timeout(1).callbacks.append(starter)
    env.run()
    assert order == ["starter done", "process A", "call_soon B", "process C", "timer scheduled first"]


def test_call_soon_runs_where_an_interrupted_process_is_resumed() -> None:
    env = simpy.Environment()
    order: list[str] = []

    def sleeper() -> Any:
        try:
            yield env.timeout(10)
        except simpy.Interrupt:
            order.append("interrupted")

    victim = env.process(sleeper())

    def outage(_event: simpy.Event) -> None:
        env.timeout(0).callbacks.append(lambda _e: order.append("ordinary event"))
        victim.interrupt("cut")
        kernel.call_soon(env, lambda _e: order.append("cut callback"))

    env.timeout(1).callbacks.append(outage)
    env.run()
    assert order == ["interrupted", "cut callback", "ordinary event"]
    assert env.now == 10  # the abandoned timeout still fires, without effect


def test_repoint_lets_an_interrupt_unhook_a_process_from_the_event_it_was_moved_to() -> None:
    env = simpy.Environment()
    old, new = env.event(), env.event()
    seen: list[str] = []

    def waiter() -> Any:
        try:
            yield old
            seen.append("woke")
        except simpy.Interrupt:
            seen.append("cut")

    process = env.process(waiter())
    env.step()  # the process starts and hooks itself to ``old``
    waiters = list(old.callbacks)
    assert len(waiters) == 1
    old.callbacks.clear()
    new.callbacks.extend(waiters)
    kernel.repoint(waiters, old, new)
    process.interrupt("cut")
    env.run()
    assert seen == ["cut"]
    assert new.callbacks == []  # the interrupt removed it from the event it now waits on


def test_end_of_run_fires_when_work_and_sources_are_spent() -> None:
    env = simpy.Environment()
    end = EndOfRun(env, lambda: 0.0)
    end.source_started()
    end.hold(2)
    end.release()
    end.source_ended()
    assert not end.done.triggered and end.count == 1
    end.release()
    assert end.done.triggered and end.count == 0


def test_end_of_run_waits_for_a_tail_still_in_flight() -> None:
    env = simpy.Environment()
    end = EndOfRun(env, lambda: 5.0)
    end.hold()
    end.release()
    assert not end.done.triggered
    env.run(until=end.done)
    assert env.now == pytest.approx(5.0)


def test_run_events_processes_events_as_step_does() -> None:
    def world(log: list[tuple[float, str]]) -> simpy.Environment:
        env = simpy.Environment()

        def ticker(name: str, gap_s: float) -> Any:
            for _ in range(4):
                yield env.timeout(gap_s)
                log.append((env.now, name))

        env.process(ticker("a", 1.0))
        env.process(ticker("b", 1.5))
        return env

    stepped: list[tuple[float, str]] = []
    env = world(stepped)
    steps = 0
    while env.peek() != float("inf"):
        env.step()
        steps += 1
    batched: list[tuple[float, str]] = []
    env = world(batched)
    assert kernel.run_events(env, 3) == (3, False)
    assert kernel.run_events(env, 100) == (steps - 3, False)  # the schedule ran out
    assert kernel.run_events(env, 5) == (0, False)
    assert batched == stepped and env.now == 6.0


def test_run_events_stops_where_a_callback_stops_the_simulation_and_keeps_the_rest() -> None:
    env = simpy.Environment()
    seen: list[str] = []
    event = env.timeout(1)
    event.callbacks.extend([lambda _e: seen.append("first"), simpy.core.StopSimulation.callback,
                            lambda _e: seen.append("after the stop")])
    env.timeout(2).callbacks.append(lambda _e: seen.append("later"))
    assert kernel.run_events(env, 10) == (1, True)
    assert seen == ["first"] and env.now == 1
    assert kernel.run_events(env, 10) == (2, False)  # resumed: the rest of the callbacks, then on
    assert seen == ["first", "after the stop", "later"]


def test_run_events_raises_a_failure_nobody_defused() -> None:
    env = simpy.Environment()
    env.event().fail(RuntimeError("boom"))
    with pytest.raises(RuntimeError, match="boom"):
        kernel.run_events(env, 10)


def test_timer_is_scheduled_as_env_timeout_is_and_fires_its_callback() -> None:
    env = simpy.Environment()
    fired: list[tuple[str, float]] = []
    public = env.timeout(2.0)
    public.callbacks.append(lambda _e: fired.append(("public", env.now)))
    ours = kernel.timer(env, 2.0, lambda _e: fired.append(("ours", env.now)))
    later = env.timeout(2.0)
    later.callbacks.append(lambda _e: fired.append(("later", env.now)))
    entries = sorted(env._queue)
    # the same time and priority as a public timeout, and the next event id: first come, first fired
    assert [(t, p) for t, p, _, _ in entries] == [(2.0, 1)] * 3
    assert [e for _, _, _, e in entries] == [public, ours, later]
    assert isinstance(ours, simpy.Timeout) and ours._delay == 2.0
    env.run()
    assert fired == [("public", 2.0), ("ours", 2.0), ("later", 2.0)]
    assert ours.processed and ours.ok and ours.value is None


def test_timer_refuses_a_negative_delay() -> None:
    env = simpy.Environment()
    with pytest.raises(ValueError, match="negative delay"):
        kernel.timer(env, -1.0, lambda _e: None)


def test_schedule_puts_an_object_in_the_schedule_as_a_timer_is_and_calls_its_callbacks_with_it() -> None:
    class Ending:
        _ok = True
        _value = None

        def __init__(self) -> None:
            self.callbacks: list[Any] | None = [lambda e: fired.append(("own", env.now, e is ending))]

    env = simpy.Environment()
    fired: list[tuple[str, float, bool]] = []
    ending = Ending()
    kernel.timer(env, 2.0, lambda _e: fired.append(("before", env.now, False)))
    kernel.schedule(env, 2.0, ending)
    kernel.timer(env, 2.0, lambda _e: fired.append(("after", env.now, False)))
    entries = sorted(env._queue)
    assert [(t, p) for t, p, _, _ in entries] == [(2.0, 1)] * 3 and entries[1][3] is ending
    env.run()
    assert fired == [("before", 2.0, False), ("own", 2.0, True), ("after", 2.0, False)]
    assert ending.callbacks is None  # processed, as an event reads
    with pytest.raises(ValueError, match="negative delay"):
        kernel.schedule(env, -0.5, Ending())


def test_alarm_is_scheduled_as_a_timer_is_fires_with_itself_and_can_be_set_again() -> None:
    env = simpy.Environment()
    fired: list[tuple[str, float]] = []

    def rang(alarm: Any) -> None:
        fired.append(("alarm", env.now))
        if env.now < 3.0:
            alarm.set(1.0)  # set again from its own callback

    alarm = kernel.Alarm(env, rang)
    kernel.timer(env, 2.0, lambda _e: fired.append(("before", env.now)))
    alarm.set(2.0)
    kernel.timer(env, 2.0, lambda _e: fired.append(("after", env.now)))
    entries = sorted(env._queue)
    assert [e for _, _, _, e in entries][1] is alarm
    assert [(t, p) for t, p, _, _ in entries] == [(2.0, 1)] * 3
    env.run()
    assert fired == [("before", 2.0), ("alarm", 2.0), ("after", 2.0), ("alarm", 3.0)]


def test_alarm_refuses_a_negative_delay_and_a_second_setting_before_it_fired() -> None:
    env = simpy.Environment()
    alarm = kernel.Alarm(env, lambda _a: None)
    with pytest.raises(ValueError, match="negative delay"):
        alarm.set(-1.0)
    alarm.set(1.0)
    with pytest.raises(ValueError, match="before it fired"):
        alarm.set(2.0)
    env.run()
    alarm.set(2.0)  # fired: it can be set again
    assert env.peek() == 3.0


def _schedule_mix(env: simpy.Environment, seen: list[tuple[float, int]]) -> None:
    """Events near and far (days ahead), some at equal times, some scheduled by callbacks."""
    def note(tag: int) -> Any:
        return lambda _e: seen.append((env.now, tag))

    def chain(tag: int, gaps_s: list[float]) -> Any:
        def fire(_e: Any) -> None:
            seen.append((env.now, tag))
            if gaps_s:
                kernel.timer(env, gaps_s.pop(0), fire)
        return fire

    def sleeper(tag: int, wait_s: float) -> Any:
        yield env.timeout(wait_s)
        seen.append((env.now, tag))
        yield env.timeout(0)
        seen.append((env.now, tag + 1000))

    for k in range(40):
        env.process(sleeper(k, 7 * 86400.0 + (k % 3)))  # waiting days, three to an instant
    for k in range(30):
        kernel.timer(env, 0.5 * (k % 7), note(100 + k))
    kernel.timer(env, 0.1, chain(200, [1.0, 5000.0, 0.0, 90000.0, 3599.0, 3600.0, 3601.0]))
    kernel.timer(env, 3600.0, chain(300, [0.0, 7200.0, 1.5]))
    env.timeout(86400.0).callbacks.append(note(400))


def test_environment_processes_events_in_simpys_order_with_far_events_kept_apart() -> None:
    reference: list[tuple[float, int]] = []
    plain = simpy.Environment()
    _schedule_mix(plain, reference)
    plain.run()

    batched: list[tuple[float, int]] = []
    env = kernel.Environment()
    _schedule_mix(env, batched)
    total = 0
    while True:
        processed, stopped = kernel.run_events(env, 7)  # small batches: settling between them
        assert not stopped
        total += processed
        if processed < 7:
            break
        if 0 < env.now < 7 * 86400.0:  # the sleepers have started and wait in the second heap
            assert len(env._later) >= 40 and len(env._queue) < 40
    assert batched == reference and env.now == plain.now == 7 * 86400.0 + 2

    stepped: list[tuple[float, int]] = []
    env = kernel.Environment()
    _schedule_mix(env, stepped)
    peeks = []
    while env.peek() != float("inf"):
        peeks.append(env.peek())
        env.step()
    assert stepped == reference and len(peeks) == total
    assert peeks == sorted(peeks)

    until: list[tuple[float, int]] = []
    env = kernel.Environment()
    _schedule_mix(env, until)
    env.run(until=90000.0)  # SimPy's run, on the environment's step
    assert until == [entry for entry in reference if entry[0] < 90000.0]
