"""The offline world: the deployable pipeline run end to end on this machine, as strict as AWS where it matters.

``world.OfflinePipeline`` is the API (``distill local-run`` and tests/workflow). One job per module:
``synthesis`` (the CDK app), ``template`` (CloudFormation intrinsics), ``resources`` (what the templates deploy),
``deploy`` (wiring it up), ``asl`` (the state machine interpreter), ``clock`` (virtual time), ``stepfunctions``,
``bedrock`` and ``simulated`` (the simulated services), ``authorizer`` (IAM), ``lambda_runner`` (the Lambda
service), ``events`` (EventBridge), ``limits`` (service limits), ``trace`` and ``results`` (what a run shows).
"""
