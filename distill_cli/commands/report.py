"""distill report [EXECUTION] [--open] [--out FILE]: download a run's evaluation report (``report.html``).

The run is found as ``distill status`` finds it (ARN, name, or the newest); its reports are under
``reports/<run id>/`` of the data bucket, the run id derived from the execution as the pipeline derives it.
Exit 0 with the file's path on stdout; 1 when the run has no report (not evaluated, or not that far yet);
2 when the pipeline or the run cannot be found.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from distill_cli.deployed import add_location_arguments

    parser.add_argument("execution", nargs="?", help="execution ARN or name (default: the newest run)")
    parser.add_argument("--out", type=Path, help="where to write it (default: ./report-<run id>.html)")
    parser.add_argument("--open", action="store_true", help="open it in the default browser")
    add_location_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from distill import aws, naming
    from distill.evaluation_plan import REPORT
    from distill.settings import BucketLayout
    from distill_cli import deployed

    try:
        arn = deployed.execution_of(args)
        bucket = deployed.find(args).bucket
    except (deployed.NotDeployed, deployed.NoRuns, BotoCoreError, ClientError) as error:
        print(f"distill report: {deployed.aws_error(error)}", file=sys.stderr)
        return 2
    run_id = naming.run_id(arn.rsplit(":", 1)[-1], arn)
    key = f"{BucketLayout().reports_prefix}{run_id}/{REPORT}"
    try:
        body = aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404"):
            print(f"distill report: no report at s3://{bucket}/{key}: the run was not evaluated or has not got "
                  "that far (distill status shows where it is; its summary.json says why it was not evaluated)",
                  file=sys.stderr)  # fmt: skip
            return 1
        print(f"distill report: s3://{bucket}/{key}: {deployed.aws_error(error)}", file=sys.stderr)
        return 2
    out = args.out or Path(f"report-{run_id}.html")
    out.write_bytes(body)
    print(out)
    if args.open:
        import webbrowser

        webbrowser.open(out.resolve().as_uri())
    return 0
