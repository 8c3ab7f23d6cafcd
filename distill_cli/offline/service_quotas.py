"""Service Quotas, simulated for the one quota the pipeline reads: Bedrock's "(Model customization) Scheduled
customization jobs" (distill.job_slots.QUOTA_CODE), the limit of ``maxConcurrentJobs: "auto"``.

moto knows no Bedrock quotas (it answers NoSuchResourceException for them and has no GetAWSDefaultServiceQuota),
so the offline world answers here: with ``value`` the quota's applied value, as an account whose quota is that
number; without it NoSuchResourceException for both calls, and the pipeline falls back to its safe default.
The answer's shape is the API's (GetServiceQuota, https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_GetServiceQuota.html).
"""

from __future__ import annotations

from typing import Any

from distill_cli.offline.simulated import SimulatedService


class SimulatedServiceQuotas(SimulatedService):
    service = "service-quotas"

    def __init__(self, *, region: str, account: str, value: int | None = None) -> None:
        super().__init__()
        self.region, self.account, self.value = region, account, value

    def get_service_quota(self, **params: Any) -> dict[str, Any]:
        self._enter("GetServiceQuota", params)
        return {"Quota": self._quota(params, "GetServiceQuota", applied=True)}

    def get_aws_default_service_quota(self, **params: Any) -> dict[str, Any]:
        self._enter("GetAWSDefaultServiceQuota", params)
        return {"Quota": self._quota(params, "GetAWSDefaultServiceQuota", applied=False)}

    def _quota(self, params: dict[str, Any], operation: str, *, applied: bool) -> dict[str, Any]:
        from distill.job_slots import QUOTA_CODE, QUOTA_NAME, QUOTA_SERVICE_CODE

        service, code = params["ServiceCode"], params["QuotaCode"]
        if (service, code) != (QUOTA_SERVICE_CODE, QUOTA_CODE) or self.value is None:
            raise self._error("NoSuchResourceException", f"offline: no value for quota {service}/{code}", operation)
        arn = f"arn:aws:servicequotas:{self.region}:{self.account}:{service}/{code}"
        return {"ServiceCode": service, "QuotaCode": code, "QuotaArn": arn, "QuotaName": QUOTA_NAME,
                "Value": float(self.value), "Unit": "None", "Adjustable": True, "GlobalQuota": False}  # fmt: skip
