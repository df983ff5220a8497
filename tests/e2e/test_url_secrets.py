"""A secret in the base URL's query or fragment is never echoed, over real HTTP.

Some SCIM apps hand out URLs like ``.../scim/v2?access_token=...``; pasting one into
``MIXPANEL_SCIM_URL`` or ``--url`` is refused (the token goes in its own variable),
and the refusal must not print the query into a terminal or a CI log.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scim_sandbox import Sandbox
from tests.e2e.conftest import TODAY, TOKEN, person, run, write_manifest

SECRET = "q-SECRET-5f1e9a7c3b"


@pytest.mark.parametrize(
    "suffix", [f"?access_token={SECRET}", f"#token={SECRET}", f"?a=1#{SECRET}", f"/?{SECRET}"]
)
@pytest.mark.parametrize("command", ["plan", "doctor", "report", "apply"])
def test_a_secret_in_the_url_query_is_refused_without_being_echoed(
    suffix: str,
    command: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MIXPANEL_SCIM_TOKEN", TOKEN)
    monkeypatch.setenv("RECONCILER_TODAY", TODAY)
    manifest = write_manifest(tmp_path / "org.yaml", [person("ann@acme.io")], [])
    with Sandbox(token=TOKEN) as box:
        monkeypatch.setenv("MIXPANEL_SCIM_URL", box.base_url + suffix)
        argv = {"plan": ["-m", str(manifest)], "apply": ["-m", str(manifest), "--auto-approve"]}
        assert run(command, *argv.get(command, [])) == 1
        assert box.store.users() == []  # nothing was sent, let alone written
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err
    assert "must not have a query or fragment" in out.err
    assert "not shown: it may hold a secret" in out.err
