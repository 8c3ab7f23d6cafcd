"""After the smoke test: is the student good enough? Compare it with its teacher on held-out prompts, then
promote it behind an existing deployment, keep it as served, or remove its serving and fail the run.

    Evaluate the student? -> Prepare the evaluation -> Are there prompts to evaluate?
      -> Answer and judge the held-out prompts (Map of batches) -> Decide the verdict -> Did the student earn it?
         yes -> Promote behind a deployment? -> Promote the student -> Wait/Check the promotion -> ...summary
         no  -> Remove the student's serving -> Student below teacher (Fail: StudentBelowTeacher or
                EvaluationInconclusive, the numbers in the cause)
"""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from stacks.constructs.functions import PipelineFunctions

RUN = {"run.$": "$.run"}
RUN_AND_JOB = {**RUN, "job.$": "$.job"}
RUN_AND_SERVING = {**RUN, "serving.$": "$.serving"}


class EvaluationStates:
    def __init__(self, scope: Construct, fn: PipelineFunctions, task: Any, *, summarize: sfn.IChainable,
                 max_concurrency: int) -> None:  # fmt: skip
        prepare = task("Prepare the evaluation", fn.prepare_evaluation, {**RUN, "dataset.$": "$.dataset"},
                       "$.evaluation")  # fmt: skip
        # Items name slices of the prompts file; answers and scores go to S3, only counts come back.
        batch = task("Answer and judge a batch", fn.evaluate_batch, {**RUN_AND_SERVING, "batch.$": "$.batch"},
                     bedrock=True)  # fmt: skip
        answer_all = sfn.Map(scope, "Answer and judge the held-out prompts", items_path="$.evaluation.batches",
                             max_concurrency=max_concurrency, result_path="$.evaluation.batchResults",
                             item_selector={**RUN_AND_SERVING, "batch.$": "$$.Map.Item.Value"})  # fmt: skip
        answer_all.item_processor(batch)
        verdict = task("Decide the verdict", fn.decide_verdict, {"state.$": "$"}, "$.evaluation.verdict")

        promote = task("Promote the student", fn.promote_student, RUN_AND_JOB, "$.promotion", bedrock=True)
        wait = sfn.Wait(scope, "Wait for the promotion", time=sfn.WaitTime.seconds_path("$.promotion.waitSeconds"))
        check = task("Check the promotion", fn.promote_student, {**RUN_AND_JOB, "promotion.$": "$.promotion"},
                     "$.promotion", bedrock=True)  # fmt: skip
        # With promoteTo the run's own serving was only for the evaluation: the promoted deployment serves now.
        retire = task("Remove the evaluation serving", fn.remove_serving, RUN_AND_SERVING, "$.removed", bedrock=True)
        remove = task("Remove the student's serving", fn.remove_serving, RUN_AND_SERVING, "$.removed", bedrock=True)
        below = sfn.Fail(scope, "Student below teacher", error_path="$.evaluation.verdict.error",
                         cause_path="$.evaluation.verdict.cause")  # fmt: skip

        promotion_done = (
            sfn.Choice(scope, "Is the promotion done?")
            .when(sfn.Condition.string_equals("$.promotion.updateStatus", "Updating"), wait)
            .when(sfn.Condition.string_equals("$.promotion.updateStatus", "UpdateCompleted"), retire.next(summarize))
            .when(sfn.Condition.string_equals("$.promotion.updateStatus", "UpdateFailed"),
                  sfn.Fail(scope, "Promotion failed", error="PromotionFailed", cause_path="$.promotion.failureMessage"))
            .otherwise(sfn.Fail(scope, "Unexpected promotion status", error="UnexpectedPromotionStatus"))
        )  # fmt: skip
        promote.next(wait).next(check).next(promotion_done)
        promote_or_keep = (
            sfn.Choice(scope, "Promote behind a deployment?")
            .when(sfn.Condition.is_not_null("$.run.evaluation.request.promoteTo"), promote)
            .otherwise(summarize)
        )
        earned = (
            sfn.Choice(scope, "Did the student earn it?")
            .when(sfn.Condition.boolean_equals("$.evaluation.verdict.passed", True), promote_or_keep)
            .otherwise(remove.next(below))
        )
        anything = (
            sfn.Choice(scope, "Are there prompts to evaluate?")
            .when(sfn.Condition.number_greater_than("$.evaluation.prompts", 0),
                  answer_all.next(verdict).next(earned))
            .otherwise(summarize)
        )  # fmt: skip
        self.start = (
            sfn.Choice(scope, "Evaluate the student?")
            .when(sfn.Condition.is_not_null("$.run.evaluation"), prepare.next(anything))
            .otherwise(summarize)
        )
