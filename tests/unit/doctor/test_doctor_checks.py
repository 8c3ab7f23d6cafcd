"""The pure parts of doctor's model, quota and report checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from distill_cli.doctor import models, quotas, report

NOW = datetime(2026, 6, 1, tzinfo=UTC)
FIX = "choose another teacher"


@pytest.mark.parametrize(("model_id", "base"), [
    ("us.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
    ("eu.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
    ("global.amazon.nova-premier-v1:0", "amazon.nova-premier-v1:0"),
    ("amazon.nova-pro-v1:0", None),
])  # fmt: skip
def test_given_a_model_id_when_read_then_a_profile_names_its_base_model(model_id, base) -> None:
    assert models.profile_base(model_id) == base


def test_given_a_customization_id_when_read_then_its_base_model_is_the_id_without_the_variant() -> None:
    assert models.customization_base("amazon.nova-micro-v1:0:128k") == "amazon.nova-micro-v1:0"
    assert models.customization_base("amazon.nova-micro-v1:0") is None


def test_given_an_active_model_when_checked_then_ok_and_a_coming_legacy_date_is_shown() -> None:
    row = models.lifecycle_check("model: teacher", "m", {"modelLifecycle": {
        "status": "ACTIVE", "legacyTime": NOW + timedelta(days=40)}}, NOW, FIX)  # fmt: skip

    assert (row.status, row.detail) == ("ok", "m: ACTIVE; LEGACY from 2026-07-11")


def test_given_a_legacy_model_when_checked_then_a_warning_gives_both_dates_and_the_days_left() -> None:
    lifecycle = {"status": "LEGACY", "legacyTime": NOW - timedelta(days=10), "endOfLifeTime": NOW + timedelta(days=61)}

    row = models.lifecycle_check("model: teacher", "m", {"modelLifecycle": lifecycle}, NOW, FIX)

    assert row.status == "warn"
    assert row.detail == "m is LEGACY since 2026-05-22; end of life 2026-08-01 (61 days left)"
    assert row.fix == f"move to an ACTIVE model before then: {FIX}"


def test_given_a_legacy_model_without_dates_when_checked_then_still_a_warning() -> None:
    row = models.lifecycle_check("model: teacher", "m", {"modelLifecycle": {"status": "LEGACY"}}, NOW, FIX)

    assert row.status == "warn" and "no end-of-life date given" in row.detail


def test_given_a_model_past_its_end_of_life_when_checked_then_it_fails() -> None:
    lifecycle = {"status": "LEGACY", "endOfLifeTime": NOW - timedelta(days=1)}

    row = models.lifecycle_check("model: teacher", "m", {"modelLifecycle": lifecycle}, NOW, FIX)

    assert row.status == "FAIL" and "reached its end of life on 2026-05-31" in row.detail


@pytest.mark.parametrize("name", [
    "(Model customization) Scheduled customization jobs",
    "Scheduled model customization jobs",
    "(Model customization) Concurrent customization jobs",
    "Customization jobs in-progress",
])  # fmt: skip
def test_given_a_reworded_jobs_quota_when_searched_then_it_is_found_by_name(name) -> None:
    found = quotas.find([{"QuotaCode": "L-1", "QuotaName": "Batch inference job size"},
                         {"QuotaCode": "L-2", "QuotaName": name}], quotas.JOBS)  # fmt: skip

    assert found is not None and found["QuotaCode"] == "L-2"


def test_given_quotas_when_searched_then_the_code_wins_and_an_unrelated_name_is_not_taken() -> None:
    by_code = [{"QuotaCode": "L-BE77399C", "QuotaName": "renamed"}]
    assert quotas.find(by_code, quotas.THROUGHPUT) == by_code[0]
    hyphenless = [{"QuotaCode": "L-X", "QuotaName": "Model units no commitment Provisioned Throughputs across custom models"}]
    assert quotas.find(hyphenless, quotas.THROUGHPUT) == hyphenless[0]
    base_models = [{"QuotaCode": "L-FE44174A",
                    "QuotaName": "Model units no-commitment Provisioned Throughputs across base models"}]  # fmt: skip
    assert quotas.find(base_models, quotas.THROUGHPUT) is None


@pytest.mark.parametrize(("value", "required", "status"), [(0, True, "FAIL"), (0, False, "warn"), (1, True, "ok")])
def test_given_a_quota_value_when_checked_then_a_shortfall_fails_only_when_the_runs_need_it(value, required, status):
    quota = {"QuotaCode": "L-BE77399C", "QuotaName": "Model units ...", "Value": value}

    row = quotas.quota_check(quotas.THROUGHPUT, quota, False, "eu-west-1", needed=1, required=required,
                             consequence="runs fail")  # fmt: skip

    assert row.status == status
    if status != "ok":
        assert row.fix.startswith('request a quota increase to at least 1: Service Quotas > Amazon Bedrock > "Model')


def test_given_a_quota_without_a_value_when_checked_then_it_warns_with_the_reason() -> None:
    quota = {"QuotaCode": "L-0406044C", "ErrorReason": {"ErrorCode": "SERVICE_QUOTA_NOT_AVAILABLE_ERROR",
                                                        "ErrorMessage": "not available"}}  # fmt: skip

    row = quotas.quota_check(quotas.JOBS, quota, False, "us-east-1", needed=1, required=True, consequence="x")

    assert row.status == "warn" and "not available" in row.detail


@pytest.mark.parametrize(("region", "required", "status"), [
    ("us-east-1", True, "ok"), ("us-west-2", False, "ok"), ("eu-west-1", False, "warn"), ("eu-west-1", True, "FAIL"),
])  # fmt: skip
def test_given_a_region_when_on_demand_is_checked_then_only_the_documented_regions_offer_it(region, required, status):
    assert quotas.on_demand_check(region, required=required).status == status


def test_given_a_failing_check_without_a_fix_when_made_then_it_is_refused() -> None:
    with pytest.raises(ValueError, match="says how to fix it"):
        report.Check("x", "FAIL", "broken")


def test_given_checks_when_judged_then_warnings_keep_it_ready_and_a_failure_does_not() -> None:
    passing = [report.ok("a", "fine"), report.warn("b", "hmm", "look")]
    failing = [*passing, report.fail("c", "broken", "mend it")]

    assert (report.verdict(passing), report.exit_code(passing)) == ("READY (1 warning(s))", 0)
    assert (report.verdict(failing), report.exit_code(failing)) == ("NOT READY: 1 check(s) failed, 1 warning(s)", 1)
    assert report.verdict([report.ok("a", "fine")]) == "READY"


def test_given_long_cells_when_tabled_then_they_wrap_inside_their_columns() -> None:
    arn = "arn:aws:s3:::" + "b" * 80
    lines = report.table([report.fail("role: prepare_dataset", f"denies s3:ListBucket on {arn}", f"add it to {arn}")])

    header = lines[0]
    status_at, detail_at, fix_at = (header.index(word) for word in ("STATUS", "DETAIL", "FIX"))
    assert lines[1][status_at:].startswith("FAIL")
    assert all(len(line) <= fix_at + report.FIX_WIDTH for line in lines)
    continuation = lines[2]
    assert continuation[:detail_at].strip() == ""  # no check or status on a wrapped line
    assert "".join(line[detail_at:fix_at].strip() for line in lines[1:]).replace(" ", "") == \
        f"denies s3:ListBucket on {arn}".replace(" ", "")


@pytest.mark.parametrize(("configured", "quota", "says"), [
    ("auto", 5.0, "; maxConcurrentJobs auto: the job queue lets 5 run(s) have a job at once"),
    ("auto", None, "; maxConcurrentJobs auto: the job queue will use 2 (the quota gives no value)"),
    (3, 5.0, "; maxConcurrentJobs 3"),
    (8, 5.0, "; maxConcurrentJobs 8 is above the quota: runs over it back off and queue again"),
    (None, 5.0, ""),
])  # fmt: skip
def test_given_the_job_queue_setting_when_the_jobs_quota_row_is_written_then_it_says_what_the_queue_will_do(
    configured, quota, says
):
    assert quotas.queue_note(configured, quota) == says
