"""How often each model was invoked, from CloudWatch: Bedrock's ``AWS/Bedrock`` ``Invocations`` metric by
``ModelId`` (the hourly janitor's idle check)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from distill import aws

# CloudWatch: Bedrock's runtime metrics, namespace AWS/Bedrock, dimension ModelId ("Monitor bedrock-runtime
# inference using CloudWatch metrics", Bedrock user guide). The guide does not say which value ModelId takes for
# a provisioned model or a custom model deployment: the modelId a request names is the serving ARN (Converse,
# InvokeModel), but Bedrock might also report under the custom model's ARN. Both are queried and an invocation
# under either counts: at worst a model served twice hides the idleness of one of them (no false warning).
NAMESPACE, METRIC, DIMENSION = "AWS/Bedrock", "Invocations", "ModelId"
PERIOD_SECONDS = 3600
QUERIES_PER_CALL = 500  # GetMetricData's limit of MetricDataQueries


def invocation_totals(model_ids: Iterable[str], start: datetime, end: datetime) -> dict[str, float]:
    """Sum of ``AWS/Bedrock`` ``Invocations`` per ``ModelId`` value over [start, end) (0 when CloudWatch has no
    data point: Bedrock publishes one only for a period with requests). GetMetricData, 500 queries a call,
    every page (NextToken) read."""
    values = list(dict.fromkeys(model_ids))
    totals = dict.fromkeys(values, 0.0)
    cloudwatch = aws.client("cloudwatch")
    for offset in range(0, len(values), QUERIES_PER_CALL):
        chunk = values[offset : offset + QUERIES_PER_CALL]
        queries = [
            {
                "Id": f"m{index}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": METRIC,
                        "Dimensions": [{"Name": DIMENSION, "Value": value}],
                    },
                    "Period": PERIOD_SECONDS,
                    "Stat": "Sum",
                },
                "ReturnData": True,
            }
            for index, value in enumerate(chunk)
        ]
        token: str | None = None
        while True:
            page = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end,
                                              **({"NextToken": token} if token else {}))  # fmt: skip
            for result in page.get("MetricDataResults", []):
                totals[chunk[int(str(result["Id"])[1:])]] += float(sum(result.get("Values", [])))
            token = page.get("NextToken")
            if not token:
                break
    return totals
