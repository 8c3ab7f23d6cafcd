"""``distill doctor``: a read-only pre-flight of a deployed pipeline in a real account.

plan (with basics and services): what a typical run asks of each role, pure; pipeline: finding the deployed
functions, roles, state machine and settings; iam: simulating the plan against the deployed roles and reading their
trust policies; models and quotas: what Bedrock offers in the Region; report: the table and the verdict.
The command is distill_cli/commands/doctor.py.
"""
