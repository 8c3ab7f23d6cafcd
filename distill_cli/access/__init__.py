"""IAM as AWS applies it, offline: a policy evaluator and the table of what each AWS call the project makes is
authorized against. Pure Python; boto3 is not imported."""

from __future__ import annotations

from distill_cli.access.operations import (
    OPERATIONS,
    Requirement,
    UnknownOperation,
    Where,
    denied_error_code,
    denied_message,
    required,
)
from distill_cli.access.policy import Decision, Request, evaluate, evaluate_resource_policy
from distill_cli.access.principals import Principal

__all__ = [
    "OPERATIONS",
    "Decision",
    "Principal",
    "Request",
    "Requirement",
    "UnknownOperation",
    "Where",
    "denied_error_code",
    "denied_message",
    "evaluate",
    "evaluate_resource_policy",
    "required",
]
