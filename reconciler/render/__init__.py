"""Renderers: a Plan (or an apply result) as text for a terminal, Markdown for a PR, JSON."""
