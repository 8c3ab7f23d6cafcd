"""bedrock-runtime Converse against what the simulated Bedrock serves: a provisioned model, an active deployment."""

from __future__ import annotations

from typing import Any

from distill_cli.offline.bedrock import contracts
from distill_cli.offline.simulated import SimulatedService


class SimulatedBedrockRuntime(SimulatedService):
    service = "bedrock-runtime"

    def __init__(self, bedrock: Any) -> None:
        super().__init__()
        self.bedrock = bedrock

    def converse(self, **params: Any) -> dict[str, Any]:
        self._enter("Converse", params)
        model = params["modelId"]
        served = next((pt.request["modelId"] for pt in self.bedrock.throughputs.values()
                       if pt.arn == model and not pt.deleted and pt.status == "InService"), None) or next(
            (d.request["modelArn"] for d in self.bedrock.deployments.values()
             if d.arn == model and not d.deleted and d.status == "Active"), None)  # fmt: skip
        if served is None:
            raise self._error("ResourceNotFoundException", f"{model} not found", "Converse", 404)
        job = self.bedrock.completed_model(served)
        key = job.request.get("customModelKmsKeyId") if job else None
        if key and self.bedrock.caller_problem is not None:
            problem = self.bedrock.caller_problem(contracts.model_key_needs_for_user(key, self.bedrock.region))
            if problem:
                raise self._error("AccessDeniedException", problem, "Converse", 403)
        prompt = params["messages"][-1]["content"][0]["text"]
        text = f"(distilled model) Thanks for reaching out. Here is what to do about: {prompt[:80]}"
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": len(prompt.split()), "outputTokens": len(text.split()), "totalTokens": 0},
            "metrics": {"latencyMs": 120},
        }
