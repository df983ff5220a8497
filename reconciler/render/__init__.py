"""Renderers: a Plan (or an apply result) as text for a terminal, Markdown for a PR, JSON.

For: turning values (plans, results, reports, findings) into words, each through the
one escaper of its sink (``escape``), so nothing from the server or a manifest can
move a cursor, forge a line or break a table.

Must not: read or write the server, load manifests, decide anything (a renderer that
needs a rule imports it from the layer that owns it), or print: it returns strings.
"""

# The summary view (the default of `plan` and `apply`): at most this many operations
# of each kind, sections of each sort and members of each operation are shown, with
# the complete counts; `--detail full` shows all and JSON always holds everything.
# Here, free of imports, so the CLI can state it in --help without loading pydantic.
SUMMARY_SHOWN = 20
