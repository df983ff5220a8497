"""Renderers: a Plan (or an apply result) as text for a terminal, Markdown for a PR, JSON."""

# The summary view (the default of `plan` and `apply`): at most this many operations
# of each kind, sections of each sort and members of each operation are shown, with
# the complete counts; `--detail full` shows all and JSON always holds everything.
# Here, free of imports, so the CLI can state it in --help without loading pydantic.
SUMMARY_SHOWN = 20
