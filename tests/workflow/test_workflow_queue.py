"""Many runs at once: twenty files dropped together share the account's job quota through the job queue, each
waiting its turn without polling, none refused by Bedrock, every slot given back."""

from __future__ import annotations

from distill_cli.offline.world import OfflinePipeline

SLOTS = 2  # maxConcurrentJobs "auto": the quota cannot be read offline, so the safe default (2) applies


def test_given_twenty_drops_and_two_slots_when_they_run_then_all_succeed_and_never_more_than_two_jobs_run(
    synthesized, dataset_file
):
    # The simulated Bedrock here refuses no job, so at most two at once is the queue's doing alone.
    with OfflinePipeline(synthesized=synthesized, job_seconds=600) as world:
        results = world.drop_many(dataset_file, 20)

        assert [r.status for r in results] == ["SUCCEEDED"] * 20, [r.message for r in results if not r.succeeded]
        assert world.bedrock.peak_running_jobs == SLOTS  # from the simulated Bedrock's own record
        # ... and in arrival order: the runs (in drop order) start their jobs one after the other.
        starts = [next(e["timestamp"] for e in r.history if e.get("stateEnteredEventDetails", {}).get("name")
                       == "Start distillation job") for r in results]  # fmt: skip
        assert starts == sorted(starts)
        assert len(world.bedrock.jobs) == 20
        assert len(world.bedrock.calls_of("CreateModelCustomizationJob")) == 20  # none refused and tried again
        # Every slot came back, nobody is left in line; the limit's origin is recorded.
        ledger = world.read_json("queue/ledger.json")
        assert ledger["running"] == {} and ledger["waiting"] == []
        assert ledger["limit"]["value"] == SLOTS
        # Runs waited their turn in arrival order, answered by the release that freed a slot (no hot polling:
        # a waiting run looks at the queue itself only once an hour).
        waited = sum(1 for r in results if r.states_entered().count("Wait for a job slot") == 1
                     and "Give back the job slot" in r.states_entered())  # fmt: skip
        assert waited == 20
        takes = len(world.invocations_of("take_job_slot"))
        assert takes < 20 * 3, f"{takes} looks at the queue for 20 runs"
        assert not world.denials
