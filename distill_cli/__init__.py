"""The ``distill`` command line: the same core as the Lambda functions, on a laptop."""
