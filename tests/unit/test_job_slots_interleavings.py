"""The job-slot ledger under every interleaving (distill.job_slots): no order of takes, releases, retried tasks,
timed-out tokens and crashes puts more runs in slots than the limit, skips a run in line, or leaves one waiting
for ever."""

from __future__ import annotations

import itertools

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from distill import job_slots
from distill.job_slots import Grant, Ledger, Limit, Outcome

ARN = "arn:aws:states:us-east-1:123456789012:execution:DistillPipeline:{}"


class SlotWorld(RuleBasedStateMachine):
    """Runs take, give back, time out, retry and crash in any order; the step functions that deliver tokens are
    simulated (a closed token answers "closed"). A model says where each run must be; every grant from the line
    must be for the run at its head (first come, first served)."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0
        self.names = itertools.count()
        self.ledger = Ledger()
        self.limit = 1
        self.line: list[str] = []  # the model of the waiting line
        self.aware: set[str] = set()  # hold a slot and know it (their token was answered)
        self.unaware: set[str] = set()  # hold a slot, token not (known to be) answered: a crash, a closed resend
        self.dropped: set[str] = set()  # their grant found the task gone: they must take again
        self.token: dict[str, str] = {}
        self.closed: set[str] = set()  # tokens whose task timed out (or was answered)
        self.ever_aware: set[str] = set()
        self.arrived: list[str] = []
        self.aborted: set[str] = set()

    @initialize(limit=st.integers(min_value=1, max_value=3))
    def set_limit(self, limit: int) -> None:
        self.limit = limit
        self.ledger = Ledger(limit=Limit(value=limit, source="config"))

    def _new_token(self, run: str) -> str:
        if run in self.token:
            self.closed.add(self.token[run])  # a new task attempt: the old one timed out
        self.token[run] = f"{run}/{next(self.names)}"
        return self.token[run]

    def _deliver(self, grants: list[Grant]) -> None:
        for _ in range(50):
            if not grants:
                return
            outcomes: list[tuple[Grant, Outcome]] = []
            for grant in grants:
                if grant.first_send:
                    assert self.line and self.line[0] == grant.run_id, ("not first come first served", grant)
                    self.line.pop(0)
                outcome: Outcome = "closed" if grant.token in self.closed else "delivered"
                self.closed.add(grant.token)  # answered once: a second send is told TaskTimedOut
                if outcome == "delivered":
                    self.unaware.discard(grant.run_id)
                    self.aware.add(grant.run_id)
                    self.ever_aware.add(grant.run_id)
                elif grant.first_send:
                    self.dropped.add(grant.run_id)
                else:
                    self.unaware.add(grant.run_id)  # stranded until its own task takes again
                outcomes.append((grant, outcome))
            self.ledger, grants = job_slots.settle(self.ledger, outcomes, self.now)
        raise AssertionError("grants kept coming")

    def _granted_without_delivery(self, grants: list[Grant]) -> None:
        for grant in grants:  # a crash after the ledger was written, before any token was sent
            assert self.line and self.line[0] == grant.run_id
            self.line.pop(0)
            self.unaware.add(grant.run_id)

    @rule()
    def arrive(self) -> None:
        run = f"run{next(self.names)}"
        self.arrived.append(run)
        self.line.append(run)
        self.now += 1
        self.ledger, grants = job_slots.take(self.ledger, run, self._new_token(run), self.now, ARN.format(run))
        self._deliver(grants)

    @precondition(lambda self: self.line or self.aware or self.unaware or self.dropped)
    @rule(data=st.data())
    def take_again(self, data: st.DataObject) -> None:
        run = data.draw(st.sampled_from(sorted({*self.line, *self.aware, *self.unaware, *self.dropped})))
        if run in self.dropped:
            self.dropped.discard(run)
            self.line.append(run)  # its grant went to a dead token: it joins the end of the line
        self.now += 1
        self.ledger, grants = job_slots.take(self.ledger, run, self._new_token(run), self.now, ARN.format(run))
        self._deliver(grants)

    @precondition(lambda self: self.line)
    @rule(data=st.data())
    def time_out(self, data: st.DataObject) -> None:
        run = data.draw(st.sampled_from(self.line))
        self.closed.add(self.token[run])  # its task timed out; the retry has not come yet

    @precondition(lambda self: self.aware)
    @rule(data=st.data(), crash=st.booleans())
    def finish(self, data: st.DataObject, crash: bool) -> None:
        run = data.draw(st.sampled_from(sorted(self.aware)))
        self.aware.discard(run)
        self.now += 1
        self.ledger, grants = job_slots.release(self.ledger, [run], self.now)
        if crash:
            self._granted_without_delivery(grants)
        else:
            self._deliver(grants)

    @precondition(lambda self: self.line or self.aware or self.unaware)
    @rule(data=st.data())
    def abort(self, data: st.DataObject) -> None:
        run = data.draw(st.sampled_from(sorted({*self.line, *self.aware, *self.unaware})))
        if run in self.line:
            self.line.remove(run)
        self.aware.discard(run)
        self.unaware.discard(run)
        self.aborted.add(run)
        self.now += 1
        self.ledger, grants = job_slots.release(self.ledger, [run], self.now)
        self._deliver(grants)

    @rule()
    def redeliver(self) -> None:
        self.now += job_slots.REDELIVER_AFTER_SECONDS
        self._deliver(job_slots.redeliveries(self.ledger, self.now))

    @invariant()
    def never_over_the_limit(self) -> None:
        assert len(self.ledger.running) <= self.limit

    @invariant()
    def no_idle_slot_while_someone_waits(self) -> None:
        assert not self.ledger.waiting or len(self.ledger.running) == self.limit

    @invariant()
    def the_ledger_is_the_model(self) -> None:
        assert set(self.ledger.running) == self.aware | self.unaware
        assert [w.run_id for w in self.ledger.waiting] == self.line
        assert self.dropped.isdisjoint({*self.ledger.running, *self.line})

    @invariant()
    def a_run_is_counted_once(self) -> None:
        assert set(self.ledger.running).isdisjoint(w.run_id for w in self.ledger.waiting)
        assert len({w.run_id for w in self.ledger.waiting}) == len(self.ledger.waiting)

    @invariant()
    def the_ledger_survives_json(self) -> None:
        assert job_slots.decode(job_slots.encode(self.ledger)) == self.ledger

    def teardown(self) -> None:
        """Every run that was not aborted gets its slot in the end, once the others finish and retried tasks
        come back."""
        for _ in range(10 * len(self.arrived) + 10):
            if not (self.line or self.aware or self.unaware or self.dropped):
                break
            for run in sorted(self.unaware | self.dropped):
                if run in self.dropped:
                    self.dropped.discard(run)
                    self.line.append(run)
                self.now += 1
                self.ledger, grants = job_slots.take(self.ledger, run, self._new_token(run), self.now)
                self._deliver(grants)
            for run in sorted(self.aware):
                self.aware.discard(run)
                self.now += 1
                self.ledger, grants = job_slots.release(self.ledger, [run], self.now)
                self._deliver(grants)
        assert not (self.line or self.aware or self.unaware or self.dropped)
        assert self.ledger.running == {} and self.ledger.waiting == []
        assert {r for r in self.arrived if r not in self.aborted} <= self.ever_aware


SlotWorld.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
test_given_any_interleaving_of_runs_when_they_share_slots_then_the_limit_order_and_liveness_hold = SlotWorld.TestCase
