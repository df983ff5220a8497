"""Subcommands that live outside cli.py: each module has ``add_arguments`` and ``run``.

For: one module per subcommand, the CLI's edge: flags in, one orchestration call, words
out through the renderers. Must not: hold rules of its own (they belong to the layers
below), talk HTTP or write to the server except through those layers.

``run(args, out)`` returns the exit code and writes through ``out`` (a line printer
the CLI passes in), so the modules never print and tests capture output simply.
"""
