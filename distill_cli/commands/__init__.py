"""One module per sub-command, each with ``add_arguments(parser)`` and ``run(args) -> int``.

Modules are imported only when their command runs, so ``distill --help`` and ``distill validate`` start fast.
"""
