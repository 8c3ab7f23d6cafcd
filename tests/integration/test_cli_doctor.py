"""distill doctor against a stand-in account (tests/support/doctor_account.py): moto CloudFormation, Lambda and IAM
holding the synthesized pipeline's roles and functions, iam:SimulatePrincipalPolicy answered by the project's own
evaluator, Bedrock and Service Quotas through botocore Stubbers.

Exit 0 READY (warnings allowed), 1 NOT READY (each failing row says how to fix it), 2 pipeline not found or an
option the deployed allow-lists refuse; never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from distill_cli.doctor.plan import HANDLER_MODULES
from distill_cli.main import main
from distill_cli.offline.synthesis import SynthesizedApp
from distill_cli.offline.world import OfflinePipeline
from tests.support.doctor_account import (
    JOBS_QUOTA,
    THROUGHPUT_QUOTA,
    deploy_stand_ins,
    doctor_clients,
    drop_statement,
    model,
    quota,
)

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS.+WaitConditionHandle:UserWarning")

TEACHER, STUDENT = "amazon.nova-pro-v1:0", "amazon.nova-micro-v1:0:128k"
ACTIVE = {TEACHER: model(TEACHER), STUDENT: model(STUDENT, customizations=("FINE_TUNING", "DISTILLATION"))}
# Two pages, so the doctor must follow NextToken to find the throughput quota.
QUOTAS = [[quota(JOBS_QUOTA, 2)], [quota(THROUGHPUT_QUOTA, 1)]]


@pytest.fixture
def account(synthesized: SynthesizedApp) -> Iterator[Callable[..., OfflinePipeline]]:
    """account(edit=None) -> the offline world with both stand-in stacks deployed in its moto account."""
    opened: list[OfflinePipeline] = []

    def open_account(edit=None, deploy: bool = True) -> OfflinePipeline:
        pipeline = OfflinePipeline(synthesized=synthesized).__enter__()
        opened.append(pipeline)
        if deploy:
            deploy_stand_ins(pipeline, edit)
        return pipeline

    yield open_account
    for pipeline in opened:
        pipeline.__exit__(None, None, None)


def doctor(capsys, *argv: str) -> tuple[int, list[str], str]:
    code = main(["doctor", *argv])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def table(out: list[str]) -> dict[str, tuple[str, str]]:
    """check -> (status, the rest of its row with the wrapped lines joined), read by the header's columns."""
    header = next(n for n, line in enumerate(out) if line.startswith("CHECK"))
    column = out[header].index("STATUS")
    found: dict[str, tuple[str, str]] = {}
    last = ""
    for line in out[header + 1 :]:
        if not line:
            break
        if line[:column].strip():
            last = line[:column].strip()
            status, _, rest = line[column:].partition(" ")
            found[last] = (status, rest.strip())
        else:
            found[last] = (found[last][0], f"{found[last][1]} {line.strip()}")
    return found


def as_json(out: list[str]) -> dict:
    return json.loads("\n".join(out))


def test_given_a_ready_account_when_doctor_runs_then_every_check_is_ok_and_it_exits_0(capsys, account):
    pipeline = account()

    with doctor_clients(pipeline, ACTIVE, QUOTAS, page_size=2) as simulator:
        code, out, err = doctor(capsys)

    assert code == 0, "\n".join(out) + err
    assert out[-1] == "READY"
    assert out[0].startswith("distill doctor: DistillPipeline in us-east-1, account 123456789012")
    rows = table(out)
    assert {status for status, _ in rows.values()} == {"ok"}, rows
    assert {f"role: {m}" for m in HANDLER_MODULES} | {"role: Bedrock service role", "role: state machine", "trust",
                                                       "model: teacher", "model: student"} <= set(rows)  # fmt: skip
    # The simulation got each role's ARN, the plan's resources and the table's context, typed for the API.
    assert simulator.requests, "no SimulatePrincipalPolicy call"
    listing = [r for r in simulator.requests if r["ActionNames"] == ["s3:ListBucket"]
               and "PrepareDataset" in r["PolicySourceArn"]]  # fmt: skip
    (request,) = listing
    assert request["ResourceArns"] == [f"arn:aws:s3:::{pipeline.bucket}"]
    entries = {e["ContextKeyName"]: e for e in request["ContextEntries"]}
    assert entries["s3:prefix"]["ContextKeyValues"] == ["incoming/doctor-check.jsonl"]
    assert entries["aws:SecureTransport"]["ContextKeyType"] == "boolean"
    assert any(r.get("Marker") for r in simulator.requests), "results were never paged"


def test_given_a_ready_account_when_doctor_runs_with_json_then_the_checks_are_machine_readable(capsys, account):
    pipeline = account()

    with doctor_clients(pipeline, ACTIVE, QUOTAS):
        code, out, _ = doctor(capsys, "--json")

    report = as_json(out)
    assert code == 0 and report["ready"] is True and report["verdict"] == "READY"
    assert (report["teacher"], report["student"], report["region"]) == (TEACHER, STUDENT, "us-east-1")
    checks = {c["check"]: c for c in report["checks"]}
    assert checks["quota: customization jobs"]["detail"].endswith(
        ": 2; maxConcurrentJobs auto: the job queue lets 2 run(s) have a job at once")
    assert checks["trust"]["detail"] == ("each of the 25 roles may be assumed by its service (bedrock.amazonaws.com, "
                                         "lambda.amazonaws.com, states.amazonaws.com)")
    assert "(lambda 19, logs 8, xray 2)" in checks["role: state machine"]["detail"]
    # The topic is under the stack's own key: doctor found it, so publishers are checked for it.
    assert "kms 2" in checks["role: finish_run"]["detail"] and "kms 2" in checks["role: notify_failure"]["detail"]
    assert checks["model: student"]["detail"].startswith(f"{STUDENT} in us-east-1 (a customization variant of")


def test_given_a_role_without_a_permission_when_doctor_runs_then_a_fail_row_names_action_resource_and_fix(
    capsys, account
):
    pipeline = account(drop_statement("PrepareDataset", "ListDropZone"))

    with doctor_clients(pipeline, ACTIVE, QUOTAS):
        code, out, _ = doctor(capsys, "--json")

    assert code == 1
    report = as_json(out)
    assert report["verdict"].startswith("NOT READY: 1 check(s) failed")
    (row,) = [c for c in report["checks"] if c["status"] == "FAIL"]
    bucket = f"arn:aws:s3:::{pipeline.bucket}"
    assert row["check"] == "role: prepare_dataset"
    assert f"denies s3:ListBucket on {bucket} with s3:prefix incoming/doctor-check.jsonl" in row["detail"]
    assert row["fix"].startswith(f"add s3:ListBucket on {bucket} with s3:prefix incoming/doctor-check.jsonl to role "
                                 "DistillPipeline-FunctionsPrepareDatasetRole")  # fmt: skip
    assert row["fix"].endswith("redeploy the pipeline (cdk deploy)")
    # The same check as a table: the verdict last, the row's words in its columns.
    with doctor_clients(pipeline, ACTIVE, QUOTAS):
        code, out, _ = doctor(capsys)
    assert code == 1 and out[-1].startswith("NOT READY")
    status, text = table(out)["role: prepare_dataset"]
    assert status == "FAIL" and "denies s3:ListBucket" in text and "add s3:ListBucket" in text


def test_given_a_legacy_teacher_when_doctor_runs_then_a_warning_gives_its_end_of_life_and_it_is_still_ready(
    capsys, account
):
    pipeline = account()
    legacy = {**ACTIVE, TEACHER: model(TEACHER, "LEGACY", end_days=90)}

    with doctor_clients(pipeline, legacy, QUOTAS):
        code, out, _ = doctor(capsys, "--json")

    assert code == 0
    report = as_json(out)
    assert report["verdict"] == "READY (1 warning(s))"
    (row,) = [c for c in report["checks"] if c["check"] == "model: teacher"]
    end = model(TEACHER, "LEGACY", end_days=90)["modelDetails"]["modelLifecycle"]["endOfLifeTime"]
    assert row["status"] == "warn"
    assert "is LEGACY since" in row["detail"] and f"end of life {end.date().isoformat()}" in row["detail"]
    assert "choose another teacher" in row["fix"]


def test_given_zero_quotas_when_doctor_runs_then_jobs_fail_and_throughput_fails_only_when_runs_will_provision(
    capsys, account
):
    pipeline = account()
    zero = [[quota(JOBS_QUOTA, 0), quota(THROUGHPUT_QUOTA, 0)]]

    with doctor_clients(pipeline, ACTIVE, zero):
        code, out, _ = doctor(capsys, "--json")

    assert code == 1
    checks = {c["check"]: c for c in as_json(out)["checks"]}
    jobs, throughput = checks["quota: customization jobs"], checks["quota: provisioned throughput"]
    assert jobs["status"] == "FAIL" and "no run can start its distillation job" in jobs["detail"]
    assert jobs["fix"].startswith("request a quota increase to at least 1: Service Quotas > Amazon Bedrock > "
                                  '"(Model customization) Scheduled customization jobs" (L-0406044C) in us-east-1')  # fmt: skip
    assert throughput["status"] == "warn"

    with doctor_clients(pipeline, ACTIVE, zero):
        code, out, _ = doctor(capsys, "--json", "--provision", "--model-units", "2")

    throughput = {c["check"]: c for c in as_json(out)["checks"]}["quota: provisioned throughput"]
    assert code == 1 and throughput["status"] == "FAIL"
    assert "provisionedThroughput of 2 model unit(s) fails with QuotaExceeded" in throughput["detail"]


def test_given_quotas_missing_from_the_applied_list_when_doctor_runs_then_defaults_are_used_or_not_found_warns(
    capsys, account
):
    pipeline = account()
    renamed = {"QuotaCode": "L-00000000", "QuotaName": "Concurrent model customization jobs"}

    with doctor_clients(pipeline, ACTIVE, [[]], default_quotas=[quota(renamed, 3)]):
        code, out, _ = doctor(capsys, "--json")

    checks = {c["check"]: c for c in as_json(out)["checks"]}
    assert code == 0
    assert checks["quota: customization jobs"]["status"] == "ok"
    assert "Concurrent model customization jobs (L-00000000): 3 (the default value" in (
        checks["quota: customization jobs"]["detail"])
    assert checks["quota: provisioned throughput"]["status"] == "warn"
    assert checks["quota: provisioned throughput"]["detail"].startswith("not found")


def test_given_a_profile_teacher_when_doctor_runs_then_its_base_model_is_checked_and_the_roles_for_the_profile(
    capsys, account
):
    pipeline = account()
    base = {"amazon.nova-pro-v1:0": model("amazon.nova-pro-v1:0"), STUDENT: ACTIVE[STUDENT]}

    with doctor_clients(pipeline, base, QUOTAS) as simulator:
        _, out, _ = doctor(capsys, "--json", "--teacher", "us.amazon.nova-pro-v1:0")

    report = as_json(out)
    teacher = {c["check"]: c for c in report["checks"]}["model: teacher"]
    assert teacher["status"] == "ok"
    assert teacher["detail"].startswith("us.amazon.nova-pro-v1:0 is a cross-Region inference profile; its base model "
                                        "amazon.nova-pro-v1:0 in us-east-1")  # fmt: skip
    service_role = [r for r in simulator.requests if "BedrockServiceRole" in r["PolicySourceArn"]
                    and r["ActionNames"] == ["bedrock:InvokeModel"]]  # fmt: skip
    simulated = {arn for r in service_role for arn in r["ResourceArns"]}
    assert "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0" in simulated
    assert {f"arn:aws:bedrock:{r}::foundation-model/amazon.nova-pro-v1:0" for r in ("us-east-1", "us-east-2",
                                                                                     "us-west-2")} <= simulated  # fmt: skip


def test_given_an_unknown_model_when_doctor_runs_then_it_fails_as_not_offered(capsys, account):
    pipeline = account()
    missing = {TEACHER: "ResourceNotFoundException", STUDENT: "ValidationException",
               "amazon.nova-micro-v1:0": "ValidationException"}  # fmt: skip

    with doctor_clients(pipeline, missing, QUOTAS):
        code, out, _ = doctor(capsys, "--json")

    checks = {c["check"]: c for c in as_json(out)["checks"]}
    assert code == 1
    assert checks["model: teacher"]["status"] == "FAIL" and "not offered in us-east-1" in checks["model: teacher"]["detail"]
    assert checks["model: student"]["status"] == "FAIL"


@pytest.mark.parametrize(("argv", "message"), [
    (["--stack-prefix", "Elsewhere"], "stack ElsewherePipeline not found"),
    (["--teacher", "meta.llama3-70b-instruct-v1:0"], "teacherModelId"),
])  # fmt: skip
def test_given_no_pipeline_or_a_refused_option_when_doctor_runs_then_exit_2_with_a_message(
    capsys, account, argv, message
):
    pipeline = account()

    with doctor_clients(pipeline, {}, []):
        code, out, err = doctor(capsys, *argv)

    assert code == 2
    assert out == []
    assert message in err and err.startswith("distill doctor: ")
    assert "Traceback" not in err


def test_given_another_bucket_when_doctor_runs_then_the_pipeline_row_fails_naming_both(capsys, account):
    pipeline = account()

    with doctor_clients(pipeline, ACTIVE, QUOTAS):
        code, out, _ = doctor(capsys, "--json", "--bucket", "someone-elses-bucket")

    (row,) = [c for c in as_json(out)["checks"] if c["check"] == "pipeline"]
    assert code == 1 and row["status"] == "FAIL"
    assert row["detail"] == f"--bucket names bucket 'someone-elses-bucket' (the functions use '{pipeline.bucket}')"


def test_given_the_console_script_when_asked_for_help_then_boto3_is_not_imported() -> None:
    command = [sys.executable, "-X", "importtime", "-m", "distill_cli.main", "doctor", "--help"]

    done = subprocess.run(command, capture_output=True, text=True, check=False)

    assert done.returncode == 0, done.stderr
    assert "--provision" in done.stdout
    assert "boto3" not in done.stderr and "botocore" not in done.stderr
