"""Secrets are never written or printed: header values (Authorization and
any --secret-header) and the URL's password, in stdout, stderr, the CSV and the export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer import redact
from tests.support.cli_runs import run_cli as _cli

TOKEN = "tok-SECRET-1234"
KEY = "key-SECRET-5678"
PASSWORD = "pw-SECRET-9012"


@pytest.mark.server
def test_no_secret_in_any_output_of_a_real_run(triton: Any, tmp_path: Path) -> None:
    csv_path, export = tmp_path / "perf.csv", tmp_path / "run.json"
    url = f"http://alice:{PASSWORD}@{triton.http_url}"
    r = _cli("-m", "add_sub", "-u", url, "-H", f"Authorization: Bearer {TOKEN}",
             "-H", f"X-Api-Key: {KEY}", "--secret-header", "x-api-key", "--request-count", "20",
             "-v", "-f", str(csv_path), "--profile-export-file", str(export))
    assert r.returncode == 0, r.stderr
    texts = {"stdout": r.stdout, "stderr": r.stderr, "csv": csv_path.read_text(),
             "export": export.read_text()}
    for where, text in texts.items():
        assert "SECRET" not in text, where
    config = json.loads(texts["export"])["perfanalyzer"]["config"]
    assert dict(map(tuple, config["headers"])) == {"Authorization": redact.MASK,
                                                   "X-Api-Key": redact.MASK}
    assert config["url"] == f"http://{redact.MASK}@{triton.http_url}"


def test_no_secret_in_error_messages() -> None:
    from perfanalyzer.server.launcher import free_port

    r = _cli("-m", "simple", "-u", f"http://alice:{PASSWORD}@127.0.0.1:{free_port()}",
             "-H", f"Authorization: Bearer {TOKEN}")
    assert r.returncode == 99 and "SECRET" not in r.stderr + r.stdout
    r = _cli("-m", "simple", "-H", f"Bearer {TOKEN}")  # no ':' — the text is not echoed
    assert r.returncode == 3 and "SECRET" not in r.stderr + r.stdout


def test_redaction_units() -> None:
    assert redact.redact_url(f"https://u:{PASSWORD}@h:1/p") == f"https://{redact.MASK}@h:1/p"
    assert redact.redact_url("h:8000") == "h:8000"
    assert redact.redact_headers([("cookie", "a"), ("X", "b")], ["x"]) == (
        ("cookie", redact.MASK), ("X", redact.MASK))
    redact.register_run(f"u:{PASSWORD}@h", [("Proxy-Authorization", f"Basic {TOKEN}")])
    try:
        assert redact.scrub(f"a {PASSWORD} b Basic {TOKEN}") == \
            f"a {redact.MASK} b {redact.MASK}"
    finally:
        redact.clear()
