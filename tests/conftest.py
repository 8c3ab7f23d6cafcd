"""Suite-wide set-up: no test may reach AWS, and Powertools stays quiet."""

from __future__ import annotations

import os

# Set before any boto3 client exists, so nothing can find real credentials or a real region.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": "distill-pipeline",
        "POWERTOOLS_METRICS_NAMESPACE": "DistillPipeline",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
)
os.environ.pop("AWS_PROFILE", None)
