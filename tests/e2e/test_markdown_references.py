"""Live names never mention, reference or autolink anything in a GitHub comment.

A live team named ``@acme/security #1 https://evil.example www.evil.example`` and
a user with the same given name, on the real sandbox / scim2-server over HTTP,
rendered by the real CLI as the Markdown plan (the PR comment) and report.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reconciler.scim import builders
from tests.e2e.conftest import Server, person, run, write_manifest

HOSTILE = "@acme/security #1 https://evil.example www.evil.example"


@pytest.mark.parametrize("command", ["plan", "report"])
def test_live_names_are_not_mentions_issue_links_or_autolinks_in_markdown(
    command: str, server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = server.client()
    client.create_group(builders.group_resource(HOSTILE))
    client.create_user(builders.user_resource("ann@acme.io", HOSTILE, "F", None, True))
    manifest = write_manifest(tmp_path / "org.yaml", [person("ann@acme.io")], [])

    code = run(command, "-m", str(manifest), "--format", "markdown")

    out = capsys.readouterr().out
    assert code == 0
    assert "&#64;acme/security &#35;1 https&#58;//evil.example www&#46;evil.example" in out
    prose = re.sub(r"`[^`\n]*`", "", out)  # GitHub links nothing inside a code span
    for raw in ("@acme/security", "#1", "https://evil", "www.evil"):
        assert raw not in prose
    assert "ann@acme.io" in out  # an email address is not a mention: left readable
