"""`ndoto serve --ssl-certfile --ssl-keyfile` serves https (the Ruby example bot needs it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.serve_process import start_serve


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_serve_over_tls(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True,
    )
    served = start_serve(tmp_path / "home", args=["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)])
    try:
        assert served.base_url.startswith("https://")
        r = httpx.get(f"{served.base_url}/api/v1/accounts/1/inboxes", headers={"Api-Access-Token": served.token or ""}, verify=str(cert))
        assert r.status_code == 200 and r.json() == {"payload": []}
    finally:
        assert served.stop() == 0
