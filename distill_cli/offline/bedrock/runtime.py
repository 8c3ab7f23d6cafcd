"""bedrock-runtime Converse against the simulated Bedrock, in three roles (see :mod:`.answers` for what each says):

* the **student**: ``modelId`` a provisioned model that is InService or a custom model deployment that is Active
  (the model it serves now: the old one while an update is under way); anything else under those ARNs is
  ResourceNotFoundException, and an encrypted model needs the caller to be able to decrypt its key;
* the **teacher**: ``modelId`` a foundation model or a cross-Region inference profile, by id or ARN, the forms
  Converse accepts (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html); an id of
  no known provider, an ARN of another Region or a profile of another geography is ValidationException ("The
  provided model identifier is invalid."), as Bedrock answers;
* the **judge**: the same models, when the system prompt asks for the judge's JSON scores.

Each answer has Bedrock's ``usage`` (about 1.3 tokens a word) and ``metrics.latencyMs`` (the role's latency option
+-15% by prompt hash; the judge's is ``judge_latency_ms``), honours ``inferenceConfig.maxTokens`` (cut, with
``stopReason`` "max_tokens") and is recorded with its role (:meth:`SimulatedBedrockRuntime.converse_calls`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from distill_cli.offline.bedrock import answers, contracts
from distill_cli.offline.simulated import SimulatedService

Role = Literal["student", "teacher", "judge"]
ROLES: tuple[Role, ...] = ("student", "teacher", "judge")

# Model providers on Bedrock (loosely: a model id is "<provider>.<model>[:<version>...]").
PROVIDERS = frozenset({"ai21", "amazon", "anthropic", "cohere", "deepseek", "google", "luma", "meta", "minimax",
                       "mistral", "moonshot", "nvidia", "openai", "qwen", "stability", "twelvelabs",
                       "writer"})  # fmt: skip
_MODEL_ID = re.compile(r"[a-z0-9-]{1,63}\.[a-z0-9-]{1,63}([.:][a-z0-9-]{1,63})*")
_ARN = re.compile(r"arn:aws(-[a-z-]+)?:bedrock:(?P<region>[a-z0-9-]*):(?P<account>[0-9]*):(?P<resource>.+)")
# Which Regions a geography's profiles are called from
# (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html).
_GEOGRAPHY_REGIONS = {"us.": ("us-east-", "us-west-"), "eu.": ("eu-",), "apac.": ("ap-",), "ca.": ("ca-",),
                      "jp.": ("ap-northeast-",), "au.": ("ap-southeast-",), "us-gov.": ("us-gov-",)}  # fmt: skip
INVALID_MODEL = "The provided model identifier is invalid."


class SimulatedBedrockRuntime(SimulatedService):
    service = "bedrock-runtime"

    def __init__(self, bedrock: Any) -> None:
        super().__init__()
        self.bedrock = bedrock  # the SimulatedBedrock whose models this serves, and whose options it reads
        self.answered: list[tuple[Role, dict[str, Any]]] = []  # Converse calls that got an answer, with the role
        self.judge = answers.Judge()
        self.malformed_sent = 0

    def converse_calls(self, role: Role | None = None) -> list[dict[str, Any]]:
        """The requests of the Converse calls that were answered, in order; only ``role``'s when given. (Refused
        and throttled calls are only in ``calls_of("Converse")``.)"""
        return [params for who, params in self.answered if role is None or who == role]

    def converse(self, **params: Any) -> dict[str, Any]:
        self._enter("Converse", params)
        with self._lock:
            model = params["modelId"]
            served = self._served(model)
            system = "\n".join(block["text"] for block in params.get("system", []) if "text" in block)
            prompt = _text(params["messages"][-1]) if params["messages"] else ""
            role: Role
            if served is not None:
                role, text, latency = "student", answers.student_answer(prompt), self.bedrock.student_latency_ms
            else:
                self._foundation_model(model)
                if answers.rubric_metrics(system):
                    role, text, latency = "judge", self._judge(system, prompt), self.bedrock.judge_latency_ms
                else:
                    role, text, latency = "teacher", answers.teacher_answer(prompt), self.bedrock.teacher_latency_ms
            self.answered.append((role, dict(params)))
            max_tokens = params.get("inferenceConfig", {}).get("maxTokens")
            text, cut = answers.truncated(text, max_tokens)
            asked = system + " " + " ".join(_text(message) for message in params["messages"])
            input_tokens, output_tokens = answers.tokens(asked), (max_tokens if cut else answers.tokens(text))
            return {
                "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                "stopReason": "max_tokens" if cut else "end_turn",
                "usage": {"inputTokens": input_tokens, "outputTokens": output_tokens,
                          "totalTokens": input_tokens + output_tokens},
                "metrics": {"latencyMs": answers.latency(latency, role, prompt)},
            }  # fmt: skip

    def _judge(self, system: str, user: str) -> str:
        if self.malformed_sent < self.bedrock.judge_malformed:
            self.malformed_sent += 1
            return answers.MALFORMED_REPLY
        return self.judge.reply(system, user, self.bedrock.student_quality)

    def _served(self, model: str) -> str | None:
        """The custom model a provisioned model or deployment ARN serves now; None for other model ids."""
        found = _ARN.fullmatch(model)
        resource = found.group("resource") if found else ""
        if not resource.startswith(("provisioned-model/", "custom-model-deployment/")):
            return None
        b = self.bedrock
        served = next((pt.request["modelId"] for pt in b.throughputs.values()
                       if pt.arn == model and not pt.deleted and pt.status == "InService"), None) or next(
            (d.model_arn for d in b.deployments.values() if d.arn == model and not d.deleted and d.status == "Active"),
            None)  # fmt: skip
        if served is None:
            raise self._error("ResourceNotFoundException", f"{model} not found", "Converse", 404)
        job = b.completed_model(served)
        key = job.request.get("customModelKmsKeyId") if job else None
        if key and b.caller_problem is not None:
            problem = b.caller_problem(contracts.model_key_needs_for_user(key, b.region))
            if problem:
                raise self._error("AccessDeniedException", problem, "Converse", 403)
        return str(served)

    def _foundation_model(self, model: str) -> str:
        """The foundation model id behind a model id, model ARN, profile id or profile ARN; or the error Bedrock
        answers for it."""
        kind = "foundation-model"
        found = _ARN.fullmatch(model)
        if found:
            kind, _, model = found.group("resource").partition("/")
            if kind == "custom-model":
                raise self._error("ValidationException", "A custom model is invoked through its provisioned "
                                  "throughput or a custom model deployment, not its own ARN.", "Converse")  # fmt: skip
            if kind not in ("foundation-model", "inference-profile"):  # e.g. an imported model: there is none here
                raise self._error("ResourceNotFoundException", f"{found.group(0)} not found", "Converse", 404)
            if found.group("region") != self.bedrock.region:
                raise self._error("ValidationException", INVALID_MODEL, "Converse")
        geography = next((g for g in contracts.PROFILE_PREFIXES if model.startswith(g)), None)
        base = model[len(geography) :] if geography else model
        valid = _MODEL_ID.fullmatch(base) is not None and base.split(".", 1)[0] in PROVIDERS
        if geography:  # a profile: by id, or by ARN (not a foundation-model ARN), called from its geography
            from_here = self.bedrock.region.startswith(_GEOGRAPHY_REGIONS.get(geography, ("",)))
            valid = valid and (kind == "inference-profile" or not found) and from_here
        elif kind == "inference-profile":
            valid = False
        if not valid:
            raise self._error("ValidationException", INVALID_MODEL, "Converse")
        return base


def _text(message: dict[str, Any]) -> str:
    return "\n".join(block["text"] for block in message.get("content", []) if "text" in block)
