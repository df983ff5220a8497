"""Out-of-range flag values are usage errors (exit 64) before anything runs or is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import main


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_a_sandbox_port_out_of_range_is_a_usage_error(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["sandbox", f"--port={port}"])

    err = capsys.readouterr().err
    assert stop.value.code == 64 and "must be between 0 and 65535" in err
    assert "Traceback" not in err and "bug" not in err


@pytest.mark.parametrize("domain", ["x y", "", "acme"])
def test_a_bad_claimed_domain_for_import_is_refused_before_anything_is_written(
    domain: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "imported"
    with pytest.raises(SystemExit) as stop:
        main(["import", "--out", str(out), "--claimed-domain", domain])

    err = capsys.readouterr().err
    assert stop.value.code == 64 and "is not a domain name; write it like acme.io" in err
    assert not out.exists() and "bug" not in err
