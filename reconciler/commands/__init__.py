"""Subcommands that live outside cli.py: each module has ``add_arguments`` and ``run``.

``run(args, out)`` returns the exit code and writes through ``out`` (a line printer
the CLI passes in), so the modules never print and tests capture output simply.
"""
