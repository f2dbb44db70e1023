"""The `huawei` provider's cost per call vs the official SDKs making the same call, against the same local
facades of one platform server in the same run; its IAM token reuse; its import vs the SDK's.

1. ModelArts, AK/SK-signed (SDK-HMAC-SHA256) on both sides: `deck.workspaces()` vs `ListWorkspace`,
   `huawei.authorization_mode(deck)` vs `ShowAuthmodeDetail`, `huawei.check(deck, ACTION)` vs
   `ValidateAuthorization` in workspace "0". The SDK is `huaweicloudsdkmodelarts` 3.1.219 configured only
   through its documented settings (`BasicCredentials(ak, sk, project_id)`, `with_endpoints`); the provider
   through a `huawei` profile and `HUAWEICLOUD_SDK_PROJECT_ID`, so neither looks the project up.
2. Pangu v1 chat, not streamed, one token from a tiny language model's deployment:
   `deck.chat(DEPLOYMENT_ID, MESSAGES, max_tokens=1)` vs `huaweicloudsdkpangulargemodels` v1
   `ExecuteChatCompletion` (skipped, with the reason, when the deployment does not come up).
   After a warm-up, `--rounds` rounds of `--calls / --rounds` calls a side, the sides alternating call by
   call (each first every other call); target for each: the median of the paired ratios (our call over
   the SDK's call beside it) at most 1.0x (all calls' medians, the paired differences' median and each
   round's ratio of medians are printed too).
3. Token reuse: a deck on a password profile (`HUAWEICLOUD_USER_NAME` / `HUAWEICLOUD_PASSWORD`, the IAM
   password flow) makes `--calls` listings; the server's own counters (`/metrics`) say how many
   `POST /v3/auth/tokens` it answered. Target: exactly one (a token lasts 12 h on the platform and is
   replaced 15 min before it expires: one IAM round trip per token lifetime, not per call).
4. `import modeldeck` plus the huawei provider vs `from huaweicloudsdkmodelarts.v1 import ModelArtsClient`
   (`import huaweicloudsdkmodelarts` alone is an empty package: nothing to compare), each in a fresh
   interpreter, alternated; informational.

    python bench/bench_huawei.py [--calls 300] [--rounds 6] [--imports 15]

Needs the test extra's SDKs (`huaweicloudsdkmodelarts`, `huaweicloudsdkpangulargemodels`, 3.1.219).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from _common import Server, alternate, env_line, fresh_imports, median, verdict, versus_sdk

MODEL = "tiny"
MESSAGES = [{"role": "user", "content": "the cat sat on the mat"}]
ACTION = "modelarts:model:create"
REGION = "cn-north-4"
VARIABLES = ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN", "HUAWEICLOUD_SDK_PROJECT_ID",
             "HUAWEICLOUD_SDK_REGION", "HUAWEICLOUD_SDK_IAM_ENDPOINT", "HUAWEICLOUD_USER_NAME", "HUAWEICLOUD_PASSWORD",
             "HUAWEICLOUD_DOMAIN_NAME", "HUAWEICLOUD_MODELARTS_WORKSPACE_ID")  # fmt: skip
_COUNTER = re.compile(r'^modeldeck_requests_total\{method="(\w+)",route="([^"]*)",status="\d+"\} (\d+)$', re.MULTILINE)


def requests_seen(server: Server) -> Counter[tuple[str, str]]:
    """The server's request counters by (method, route template), all statuses together."""
    text = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {server.key}"}).text
    seen: Counter[tuple[str, str]] = Counter()
    for method, route, n in _COUNTER.findall(text):
        seen[(method, route)] += int(n)
    return seen


def setup(server: Server, work: Path) -> dict:
    """`tiny` 1.0.0 registered and deployed (its id, or why not), an AccessKey pair, the main account's name
    and its project id (from an IAM token, as a user reads it from the console)."""
    import modeldeck as md
    from modeldeck import examples

    with md.connect(url=server.url, api_key=server.key) as admin:
        admin.register(MODEL, examples.tiny_causal_lm(work / "lm", seed=3), version="1.0.0", format="SafeTensors",
                       framework="Transformers", progress=False)  # fmt: skip
        admin.create_workspace("team-b")
        pair = admin.create_access_key("bench")
    with server.client() as http:
        main = http.get("/api/v1/whoami").json()["account"]["name"]
        user = {"name": main, "password": server.key, "domain": {"name": main}}
        asked = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}},
                          "scope": {"project": {"name": REGION}}}}  # fmt: skip
        issued = httpx.post(f"{server.url}/v3/auth/tokens", json=asked).raise_for_status()  # IAM: no platform key
        project = issued.json()["token"]["project"]["id"]
        made = http.post("/api/v1/deployments", json={"name": MODEL, "model": MODEL, "version": "1.0.0"})
        ready = http.get(f"/api/v1/deployments/{MODEL}", params={"wait": 60}) if made.is_success else made
    running = ready.is_success and ready.json().get("status") == "Running"
    why = None if running else f"the tiny deployment did not come up ({ready.status_code}: {ready.text[:200]})"
    return {"pair": pair, "main": main, "project": project, "deployment": made.json().get("id") if running else None,
            "why_no_pangu": why}  # fmt: skip


def profile(server: Server, name: str, **credentials: str) -> str:
    from modeldeck.profiles import Profile, ProfileFile

    file = ProfileFile.load()
    file.profiles[name] = Profile(name, "huawei", url=server.url, endpoints={"iam": server.url, "pangu": server.url},
                                  **credentials)  # fmt: skip
    file.save()
    return name


def bench_calls(server: Server, found: dict, calls: int, rounds: int) -> bool:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkmodelarts.v1 import ModelArtsClient
    from huaweicloudsdkmodelarts.v1 import model as ma
    from huaweicloudsdkpangulargemodels import v1 as pangu

    import modeldeck as md
    from modeldeck.providers import huawei

    pair, project = found["pair"], found["project"]
    os.environ["HUAWEICLOUD_SDK_PROJECT_ID"] = project
    deck = md.connect(profile(server, "hw", access_key_id=pair.id, access_key_secret=pair.secret))
    credentials = BasicCredentials(pair.id, pair.secret, project)
    modelarts = ModelArtsClient.new_builder().with_credentials(credentials).with_endpoints([server.url]).build()
    chat = pangu.PanguLargeModelsClient.new_builder().with_credentials(credentials).with_endpoints([server.url]).build()
    validate = ma.ValidateAuthorizationRequest(workspace_id="0", body=ma.ValidateAuthorizationRequestBody(
        requests=[ma.AuthRequests(action=ACTION, action_id="0")]))  # fmt: skip
    try:
        pairs = {
            "modelarts_list": ("ModelArts ListWorkspace",
                               lambda: len(deck.workspaces()) == 2,
                               lambda: modelarts.list_workspace(ma.ListWorkspaceRequest()).total_count == 2),
            "modelarts_auth_mode": ("ModelArts ShowAuthmodeDetail",
                                    lambda: huawei.authorization_mode(deck) == "strict",
                                    lambda: modelarts.show_authmode_detail(ma.ShowAuthmodeDetailRequest()).mode == "strict"),
            "modelarts_validate": ("ModelArts ValidateAuthorization",
                                   lambda: huawei.check(deck, ACTION)[0]["allowed"],
                                   lambda: modelarts.validate_authorization(validate).results[0].verdict == "allow"),
        }  # fmt: skip
        if found["deployment"]:
            dep = found["deployment"]
            body = pangu.ChatCompletionReq(messages=[pangu.Message(**m) for m in MESSAGES], max_tokens=1, temperature=0)
            sent = pangu.ExecuteChatCompletionRequest(deployment_id=dep, body=body)
            pairs["pangu_chat"] = ("Pangu v1 chat (1 token)",
                                   lambda: bool(deck.chat(dep, MESSAGES, max_tokens=1, temperature=0).text),
                                   lambda: bool(chat.execute_chat_completion(sent).choices[0].message.content))  # fmt: skip
        else:
            print(f"SKIP pangu_chat: {found['why_no_pangu']}")
        ok = True
        for name, (what, ours, theirs) in pairs.items():
            assert ours() and theirs(), f"{what}: a side did not answer as expected"
            ok &= versus_sdk(name, what, alternate(ours, theirs, calls, rounds))
    finally:
        deck.close()
        del os.environ["HUAWEICLOUD_SDK_PROJECT_ID"]
    return ok


def bench_token_reuse(server: Server, found: dict, calls: int) -> bool:
    """N calls on a password profile, and the IAM token requests the server answered meanwhile."""
    import modeldeck as md

    os.environ["HUAWEICLOUD_USER_NAME"] = found["main"]
    os.environ["HUAWEICLOUD_PASSWORD"] = server.key
    before = requests_seen(server)
    start = time.monotonic()
    with md.connect(profile(server, "hw-token")) as deck:
        for _ in range(calls):
            assert len(deck.workspaces()) == 2
        counted = deck._transport.client.auth.iam_round_trips
    hours = (time.monotonic() - start) / 3600
    seen = requests_seen(server) - before
    tokens = seen[("POST", "/v3/auth/tokens")]
    listings = sum(n for (method, route), n in seen.items() if method == "GET" and route.endswith("/workspaces"))
    print(f"token reuse: {listings} ListWorkspace calls at the server, {tokens} IAM token request(s) "
          f"(the provider counted {counted}) in {hours * 3600:.1f} s; "
          f"baseline: one token request per call would be {listings}")  # fmt: skip
    ok = listings == calls and tokens == 1
    return verdict("token_reuse", f"{tokens} token request(s) for {listings} calls (target 1 per hour of calls)", ok)


def bench_import(rounds: int, work: Path) -> None:
    ours_code = "import modeldeck; from modeldeck.providers import for_kind; for_kind('huawei')"
    sdk_code = "from huaweicloudsdkmodelarts.v1 import ModelArtsClient"
    ours, theirs = fresh_imports(ours_code, sdk_code, rounds, work)
    print(f"import modeldeck + the huawei provider: p50 {median(ours) * 1000:.1f} ms; "
          f"from huaweicloudsdkmodelarts.v1 import ModelArtsClient: p50 {median(theirs) * 1000:.1f} ms "
          f"({rounds} fresh interpreters each)")  # fmt: skip
    print(f"INFO import: {median(ours) / median(theirs):.2f}x of the SDK's import (informational, no target)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300, help="timed calls per side and operation; token-reuse calls")
    parser.add_argument("--rounds", type=int, default=6, help="rounds the timed calls are split into")
    parser.add_argument("--imports", type=int, default=15, help="fresh interpreters per side")
    args = parser.parse_args()
    print(env_line())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["MODELDECK_CONFIG"] = str(work / "profiles.toml")  # the bench's own profiles
        os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # credentials stay in that file
        for name in VARIABLES:  # which the cloud's settings would otherwise replace
            os.environ.pop(name, None)
        with Server(work / "home") as server:
            found = setup(server, work)
            ok = bench_calls(server, found, args.calls, args.rounds)
            ok &= bench_token_reuse(server, found, args.calls)
        bench_import(args.imports, work)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
