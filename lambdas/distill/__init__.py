"""The shared core of the Bedrock distillation pipeline.

Pure logic (records, dataset rules, naming, run settings, status handling) plus one adapter per AWS
service. Every Lambda handler and the ``distill`` CLI import from here; nothing else talks to boto3.
"""

from distill.invocation_logs import request_metadata as request_metadata  # tag live traffic (loads only `re`)
