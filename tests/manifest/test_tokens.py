"""The secret-token detector: catches pasted tokens, leaves ordinary text alone."""

from __future__ import annotations

import pytest

from reconciler.manifest.tokens import looks_like_token, token_runs


@pytest.mark.parametrize(
    "text",
    [
        "7Hq2xK9mPz4RvT1nWb8YcL3dFj6GsA0eUo5",
        "3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
        "ghp_R1c8gt00grUzF4gZ2TmEgtuRamnhjELhIqXM",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9x1y2",
        # Some services issue UUIDs as API keys, and no manifest field holds one.
        "123e4567-e89b-12d3-a456-426614174000",
    ],
)
def test_random_looking_runs_are_flagged_as_tokens(text: str) -> None:
    assert list(token_runs(f"key: {text}"))


@pytest.mark.parametrize(
    "text",
    [
        "display_name: Engineering-Platform-Infrastructure-Team2024",
        "name: data-science-team-2024-q3-analytics-and-reporting",
        "email: svc-3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c@acme.io",
        "# see https://github.com/acme/access/commit/3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
        "given_name: Supercalifragilisticexpialidocious",
        "family_name: aaaaaaaaaaaaaaaaaaaaaaaa11111111111111",
    ],
)
def test_names_emails_and_links_are_not_flagged(text: str) -> None:
    assert list(token_runs(text)) == []


def test_a_token_is_located_at_its_first_character() -> None:
    assert [
        (line, col) for line, col, _ in token_runs("a: 1\n# x 3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c\n")
    ] == [(2, 5)]


def test_a_short_run_is_never_a_token() -> None:
    assert not looks_like_token("3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5")
