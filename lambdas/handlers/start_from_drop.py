"""Target of the EventBridge rule on objects created under the drop prefix: starts one run per object."""

import os
from typing import Any

from distill import drops
from distill.observability import lambda_entry, logger
from distill.settings import load_settings


@lambda_entry
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = drops.start_run(event, load_settings(), os.environ["STATE_MACHINE_ARN"])
    logger.info("drop handled", extra={"drop": result})
    return result
