"""Run the synthesized pipeline offline: moto's Step Functions interpreter, the real handlers, a simulated Bedrock.

``harness.OfflinePipeline`` is the API (used by ``distill local-run`` and tests/workflow); ``template`` resolves
CloudFormation intrinsics of the synthesized templates; ``trace`` turns the execution history into lines.
"""
