"""No secret in any repr, str, log line or error; nothing heavy on `import modeldeck` or in the kernel."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

import modeldeck as md
from conftest import Deployment
from modeldeck import embedded
from modeldeck.profiles import Profile


def test_no_secret_in_reprs_logs_or_errors(deployment: Deployment, caplog: pytest.LogCaptureFixture, tmp_path: Path):
    caplog.set_level(logging.DEBUG)
    secrets = [deployment.admin_key]
    texts: list[str] = []
    with md.connect(url=deployment.url, api_key=deployment.admin_key) as deck:
        alice = deck.create_subaccount("alice")
        secrets.append(alice.api_key)
        deck.create_workspace("team-b")
        deck.add_member("team-b", alice)
        texts += [repr(deck), str(deck), repr(deck._transport.settings), repr(deck._transport.client.auth),
                  repr(alice), str(alice), alice._repr_html_(), repr(deck.accounts()), repr(deck.members("team-b")),
                  json.dumps(alice.raw), repr(Profile("p", "server", url="u", api_key=alice.api_key)),
                  repr(embedded.Target("u", deployment.admin_key))]  # fmt: skip
        for bad in (alice.api_key + "x", "mdk-" + deployment.admin_key[::-1]):
            try:
                md.connect(url=deployment.url, api_key=bad)
            except md.errors.DeckError as exc:
                texts += [str(exc), repr(exc), json.dumps(exc.to_dict()), traceback.format_exc()]
        with md.connect(url=deployment.url, api_key=alice.api_key) as as_alice:
            try:
                as_alice.models().list()
            except md.errors.DeckError as exc:
                texts += [str(exc), traceback.format_exc()]
    texts += [r.getMessage() for r in caplog.records]
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_embedded_server_log_holds_no_key(isolated_user: Path):
    with md.connect() as deck:
        deck.create_subaccount("bob")
        try:
            md.connect(api_key="mdk-not-a-real-key-0123456789")
        except md.errors.InvalidApiKey:
            pass
        key = embedded.read_admin_key(embedded.home_dir(None))
    log = (embedded.home_dir(None) / "run" / "platform.log").read_text()
    assert key and key not in log and "mdk-not-a-real-key" not in log


HEAVY = ("sqlalchemy", "fastapi", "starlette", "onnxruntime", "pandas", "transformers", "torch", "alembic",
         "uvicorn", "modeldeck.platform", "numpy", "sklearn", "xgboost")  # fmt: skip


def loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    modules = set(json.loads(out.stdout.strip().splitlines()[-1]))
    return {h for h in HEAVY if h in modules}


def test_import_modeldeck_loads_nothing_heavy():
    assert loaded_after("import modeldeck") == set()
    assert loaded_after("import modeldeck as md; md.errors.DeckError") == set()


def test_the_client_in_a_kernel_stays_light(deployment: Deployment):
    code = (
        "import modeldeck as md\n"
        f"deck = md.connect(url={deployment.url!r}, api_key={deployment.admin_key!r})\n"
        "deck.create_model('m'); deck.models().list(); deck.workspaces()\n"
    )
    assert loaded_after(code) == set()
