"""The building blocks the stacks compose."""

from stacks.constructs.bedrock_role import BedrockServiceRole
from stacks.constructs.functions import PipelineFunctions

__all__ = ["BedrockServiceRole", "PipelineFunctions"]
