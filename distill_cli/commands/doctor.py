"""distill doctor : a read-only pre-flight of the deployed pipeline, to run before the first drop.

It finds the stacks as ``distill start`` does, then checks, without changing anything: that every role a run uses
(the functions', the state machine's, Bedrock's service role) allows what the run will ask of it
(iam:SimulatePrincipalPolicy on the run plan, distill_cli.doctor.plan) and trusts the service that assumes it, that
the teacher and the student are offered in the Region (and not at their end of life), the Bedrock quotas a run
needs, and whether on-demand deployment is offered in the Region.

One table (check, status ok/warn/FAIL, detail, fix) and the verdict as the last line: ``READY`` (exit 0, warnings
allowed) or ``NOT READY: ...`` (exit 1). The pipeline not found, or options the deployed allow-lists refuse:
a message, exit 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _units(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError("must be 1 to 100 model units")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from distill_cli.deployed import add_location_arguments

    parser.add_argument("--teacher", metavar="MODEL", help="check this teacher instead of the deployed default")
    parser.add_argument("--student", metavar="MODEL", help="check this student instead of the deployed default")
    serving = parser.add_mutually_exclusive_group()
    serving.add_argument("--provision", action="store_true",
                         help="runs will use provisioned throughput: its quota must allow them (else a warning)")
    serving.add_argument("--on-demand", action="store_true",
                         help="runs will use on-demand deployment: the Region must offer it (else a warning)")
    parser.add_argument("--model-units", type=_units, default=1, metavar="N",
                        help="model units a provisioned run asks for (default 1)")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    add_location_arguments(parser)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from distill import aws
    from distill.errors import InvalidRunInput
    from distill_cli import deployed
    from distill_cli.doctor import iam, models, pipeline, quotas, report
    from distill_cli.doctor.plan import BEDROCK_ROLE, STATE_MACHINE_ROLE, RunPlan

    prefix = getattr(args, "stack_prefix", None) or deployed.DEFAULT_PREFIX
    try:
        where = deployed.find(args)
        found = pipeline.discover(f"{prefix}Pipeline", where.state_machine_arn)
    except deployed.NotDeployed as error:
        print(f"distill doctor: {error}", file=sys.stderr)
        return 2
    checks = [_pipeline_row(found, where, given_bucket=bool(getattr(args, "bucket", None))), *found.problems]
    region = found.account.region
    about: dict[str, Any] = {"stack": found.stack, "region": region, "account": found.account.account}
    if found.settings is not None:
        try:
            plan = RunPlan(found.settings, found.account, where.state_machine_arn, topic_key=found.topic_key,
                           functions={f.module: f.facts for f in found.functions}, machine=found.machine,
                           teacher=args.teacher, student=args.student, model_units=args.model_units)  # fmt: skip
        except InvalidRunInput as error:  # --teacher/--student outside the deployed allow-lists
            print(f"distill doctor: {str(error).removeprefix('execution input: ')}", file=sys.stderr)
            return 2
        about.update(teacher=plan.teacher, student=plan.student)
        roles = {f.module: f.role_arn for f in found.functions}
        roles[BEDROCK_ROLE] = plan.settings.bedrock_role_arn
        if found.machine_role:
            roles[STATE_MACHINE_ROLE] = found.machine_role
        checks += iam.check_roles(aws.client("iam"), plan, roles)
        checks += models.check_models(aws.client("bedrock"), plan, datetime.now(UTC))
    limit = found.settings.max_concurrent_jobs if found.settings is not None else None
    checks += quotas.check_quotas(aws.client("service-quotas"), region, provision=args.provision,
                                  model_units=args.model_units, max_concurrent_jobs=limit)  # fmt: skip
    checks.append(quotas.on_demand_check(region, required=args.on_demand))
    heading = f"distill doctor: {found.stack} in {region}, account {found.account.account}" + (
        f" (teacher {about['teacher']}, student {about['student']})" if "teacher" in about else "")
    report.write(checks, sys.stdout, heading, about, as_json_output=args.json)
    return report.exit_code(checks)


def _pipeline_row(found: Any, where: Any, *, given_bucket: bool) -> Any:
    """The stack as a whole: its functions' settings readable, and naming the bucket the data stack (or --bucket)
    names."""
    from distill_cli.doctor import report

    settings = found.settings
    if settings is None:
        return report.fail("pipeline", f"stack {found.stack}: no function's PIPELINE_SETTINGS could be read, so "
                           "the run plan cannot be built", "see the rows below, then run doctor again")  # fmt: skip
    compared = [("bucket", where.bucket, settings.bucket_name)]
    if not given_bucket:  # the drop prefix is looked up only with the bucket
        compared.append(("drop prefix", where.drop_prefix, settings.layout.drop_prefix))
    mismatched = [f"{what} {theirs!r} (the functions use {ours!r})" for what, theirs, ours in compared
                  if theirs and theirs != ours]  # fmt: skip
    if mismatched:
        source = "--bucket names" if given_bucket else "the data stack names"
        return report.fail("pipeline", f"{source} {'; '.join(mismatched)}",
                           "pass the pipeline's own bucket, or deploy both stacks from the same version "
                           "(make deploy)")  # fmt: skip
    used = {arn.rsplit("/", 1)[-1] for arn in (*(f.role_arn for f in found.functions), settings.bedrock_role_arn,
                                               found.machine_role) if arn}  # fmt: skip
    other = sorted(name for arn in found.role_arns if (name := arn.rsplit("/", 1)[-1]) not in used)
    also = f"; not checked (a run does not use them): {', '.join(other)}" if other else ""
    return report.ok("pipeline", f"stack {found.stack}: {len(found.functions)} functions, {len(found.role_arns)} "
                     f"roles, bucket {settings.bucket_name}, drop zone {settings.layout.drop_prefix}{also}")  # fmt: skip
