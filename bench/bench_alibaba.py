"""The `alibaba` provider's cost per call vs the official SDKs making the same call, against the same local
facades of one platform server in the same run, and its import vs `import dashscope`.

1. DashScope text generation, not streamed: `deck.chat(MODEL, MESSAGES, max_tokens=1)` on an `alibaba`
   profile vs `dashscope.Generation.call(model=MODEL, messages=MESSAGES, result_format="message",
   max_tokens=1)` (the SDK pointed at the facade by `dashscope.base_http_api_url`). One generated token keeps
   the model's share small; it is the same on both sides, as is the rest of the facade's time.
2. Model Studio management, ListWorkspaces (ACS3-signed): `deck.workspaces()` vs the official
   `alibabacloud_modelstudio20260210` client's `list_workspaces` (`Config(endpoint=..., protocol="HTTP")`).
   Both clients are made once, as a user keeps them.
   After a warm-up, `--rounds` rounds of `--calls / --rounds` calls a side, the sides alternating call by
   call (each first every other call); target for each: the median of the paired ratios (our call over
   the SDK's call beside it) at most 1.0x (all calls' medians, the paired differences' median and each
   round's ratio of medians are printed too).
3. `import modeldeck` plus the alibaba provider (`modeldeck.providers.for_kind("alibaba")`) vs `import
   dashscope`, each in a fresh interpreter, alternated; target: at most 0.25x at the median.

    python bench/bench_alibaba.py [--calls 300] [--rounds 6] [--imports 15]

Needs the test extra's SDKs (`dashscope`, `alibabacloud-modelstudio20260210`).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from _common import Server, alternate, env_line, fresh_imports, median, verdict, versus_sdk

MODEL = "tiny-chat"
MESSAGES = [{"role": "user", "content": "the cat sat on the mat"}]
VARIABLES = ("DASHSCOPE_API_KEY", "DASHSCOPE_WORKSPACE", "DASHSCOPE_WORKSPACE_ID", "DASHSCOPE_HTTP_BASE_URL",
             "DASHSCOPE_BASE_URL", "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
             "ALIBABA_CLOUD_SECURITY_TOKEN")  # fmt: skip


def bench_calls(calls: int, rounds: int, work: Path) -> bool:
    import dashscope
    from alibabacloud_modelstudio20260210 import models as ms
    from alibabacloud_modelstudio20260210.client import Client
    from alibabacloud_tea_openapi.models import Config

    import modeldeck as md
    from modeldeck import examples
    from modeldeck.profiles import Profile, ProfileFile

    with Server(work / "home") as server:
        with md.connect(url=server.url, api_key=server.key) as admin:
            admin.register(MODEL, examples.tiny_causal_lm(work / "lm", seed=3), format="SafeTensors",
                           framework="Transformers", progress=False)  # fmt: skip
            admin.create_workspace("team-b")
            pair = admin.create_access_key("bench")
        os.environ["MODELDECK_CONFIG"] = str(work / "profiles.toml")  # the bench's own profile, credentials in it
        for name in VARIABLES:  # which the cloud's variables would otherwise replace
            os.environ.pop(name, None)
        file = ProfileFile.load()
        file.profiles["ali"] = Profile("ali", "alibaba", url=f"{server.url}/dashscope",
                                       endpoints={"modelstudio": server.url}, api_key=server.key,
                                       access_key_id=pair.id, access_key_secret=pair.secret)  # fmt: skip
        file.save()
        deck = md.connect("ali")
        dashscope.base_http_api_url = f"{server.url}/dashscope/api/v1"
        management = Client(Config(access_key_id=pair.id, access_key_secret=pair.secret, protocol="HTTP",
                                   endpoint=urlsplit(server.url).netloc, region_id="cn-beijing"))  # fmt: skip
        try:

            def ours_generate() -> None:
                assert deck.chat(MODEL, MESSAGES, max_tokens=1, temperature=0).finish_reason

            def sdk_generate() -> None:
                answer = dashscope.Generation.call(model=MODEL, messages=MESSAGES, api_key=server.key,
                                                   result_format="message", max_tokens=1, temperature=0)  # fmt: skip
                assert answer.status_code == 200, answer

            def ours_list() -> None:
                assert len(deck.workspaces()) == 2

            def sdk_list() -> None:
                assert len(management.list_workspaces(ms.ListWorkspacesRequest(max_results=100)).body.workspaces) == 2

            ok = versus_sdk("generation_call", "DashScope generation (1 token)",
                            alternate(ours_generate, sdk_generate, calls, rounds))
            ok &= versus_sdk("management_list", "Model Studio ListWorkspaces", alternate(ours_list, sdk_list, calls, rounds))
        finally:
            deck.close()
    return ok


def bench_import(rounds: int, work: Path) -> bool:
    ours_code = "import modeldeck; from modeldeck.providers import for_kind; for_kind('alibaba')"
    ours, theirs = fresh_imports(ours_code, "import dashscope", rounds, work)
    ratio = median(ours) / median(theirs)
    print(f"import modeldeck + the alibaba provider: p50 {median(ours) * 1000:.1f} ms; "
          f"import dashscope: p50 {median(theirs) * 1000:.1f} ms ({rounds} fresh interpreters each)")  # fmt: skip
    return verdict("import", f"{ratio:.2f}x of import dashscope (target <= 0.25x)", ratio <= 0.25)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300, help="timed calls per side and operation")
    parser.add_argument("--rounds", type=int, default=6, help="rounds the timed calls are split into")
    parser.add_argument("--imports", type=int, default=15, help="fresh interpreters per side")
    args = parser.parse_args()
    print(env_line())
    with tempfile.TemporaryDirectory() as tmp:
        ok = bench_calls(args.calls, args.rounds, Path(tmp))
        ok &= bench_import(args.imports, Path(tmp))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
