"""The `%modeldeck` magics in a real IPython shell, against a real platform over HTTP."""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from conftest import Deployment
from modeldeck import examples
from modeldeck.errors import DeckError, InvalidParameter, NotFound
from modeldeck.magics import COMMANDS, ModelDeck, prompt
from modeldeck.profiles import Profile, ProfileFile


@pytest.fixture
def ip(deployment: Deployment) -> Iterator[InteractiveShell]:
    """A fresh shell with the extension loaded, whose default profile (key in the file) is the deployment."""
    file = ProfileFile.load()
    file.profiles["team"] = Profile("team", "server", url=deployment.url, api_key=deployment.admin_key)
    file.default = "team"
    file.save()
    shell = InteractiveShell(config=Config())
    shell.extension_manager.load_extension("modeldeck")
    yield shell
    shell.extension_manager.unload_extension("modeldeck")


def magics(ip: InteractiveShell) -> ModelDeck:
    return ip.magics_manager.registry["ModelDeck"]


def md(ip: InteractiveShell, line: str) -> Any:
    return ip.run_line_magic("modeldeck", line)


def shown(obj: Any) -> str:
    """Everything a notebook could show of a result: its text and its HTML."""
    html = getattr(obj, "_repr_html_", None)
    return repr(obj) + (html() if html else "")


def completions(ip: InteractiveShell, line: str) -> list[str]:
    return list(ip.complete("", line, len(line))[1])


def test_the_extension_loads_lazily_and_unloads():
    probe = "import sys, modeldeck; print('IPython' in sys.modules, 'modeldeck.magics' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.split() == [
        "False", "False"
    ]
    shell = InteractiveShell(config=Config())
    shell.extension_manager.load_extension("modeldeck")
    assert shell.find_line_magic("modeldeck") and shell.find_cell_magic("modeldeck")
    assert magics(shell) in shell.configurables
    shell.extension_manager.unload_extension("modeldeck")
    assert shell.find_line_magic("modeldeck") is None
    assert "%modeldeck" not in shell.strdispatchers["complete_command"].strs


def test_register_approve_list_authorize(ip, deployment: Deployment, tmp_path: Path, capsys):
    path = examples.onnx_linear(tmp_path / "linear.onnx")
    version = md(ip, f"""register iris {shlex.quote(str(path))} --format ONNX --version 1.0.0 --no-progress
                     --metrics '{{"acc": 0.9}}' --label team=cv""")
    assert (version.version_name, version.approval_status, version.metrics, version.labels) == (
        "1.0.0", "Pending", {"acc": 0.9}, {"team": "cv"})  # fmt: skip
    assert md(ip, "approve iris 1.0.0").approval_status == "Approved"
    assert md(ip, "register iris oss://bucket/b.onnx").version_name == "1.1.0"
    assert md(ip, "reject iris 1.1.0").approval_status == "Rejected"

    versions = md(ip, "versions iris")
    assert [v.version_name for v in versions] == ["1.1.0", "1.0.0"]
    assert "<table>" in versions._repr_html_() and "Rejected" in repr(versions)
    assert [v.version_name for v in md(ip, "versions iris --status Approved")] == ["1.0.0"]
    models = md(ip, "models")
    assert [m.name for m in models] == ["iris"] and "1.0.0 (Approved)" in models._repr_html_()  # what `latest` serves
    workspaces = md(ip, "workspaces")
    assert [w.name for w in workspaces] == ["default"] and "current: default" in workspaces._repr_html_()

    deployment.admin.ok("POST", "/api/v1/workspaces", json={"name": "team-b"})
    grant = md(ip, "authorize iris team-b --action inference")
    assert (grant.workspace, grant.actions) == ("team-b", ["inference"])
    md(ip, "revoke iris team-b")
    assert "may no longer use 'iris'" in capsys.readouterr().out
    assert md(ip, "use team-b").name == "team-b"
    assert list(md(ip, "models")) == [] and "current: team-b" in md(ip, "workspaces")._repr_html_()


def test_register_a_sklearn_variable_and_predict_a_dataframe(ip, tmp_path: Path):
    import onnx
    import pandas as pd

    X, _ = examples.tabular_data(n=5)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(4)])
    ip.user_ns.update(clf=examples.sklearn_classifier(), df=frame)
    version = md(ip, "register clf-model $clf --no-progress")
    assert (version.format_type, version.framework_type) == ("SkopsModel", "ScikitLearn")
    md(ip, f"approve clf-model {version.version_name}")
    expected = ip.user_ns["clf"].predict(X).tolist()
    for spelling in ("$df", "df"):
        prediction = md(ip, f"predict clf-model --input {spelling}")
        assert list(prediction.outputs.values())[0] == expected
    literal = md(ip, f"predict clf-model --input {shlex.quote(str(X[:2].tolist()))}")
    assert list(literal.outputs.values())[0] == expected[:2]

    ip.user_ns["proto"] = onnx.load(examples.onnx_linear(tmp_path / "linear.onnx"))
    assert md(ip, "register linear proto --no-progress").format_type == "ONNX"
    ip.user_ns["thing"] = object()
    with pytest.raises(InvalidParameter, match=r"InvalidParameter\.Source.*Hint:"):
        md(ip, "register other $thing")


def test_tasks_list_and_show(ip, tmp_path: Path):
    md(ip, f"register iris {examples.onnx_linear(tmp_path / 'l.onnx')} --format ONNX --no-progress")
    task = magics(ip).deck.predict("iris", [[1.0, 2.0, 3.0, 4.0]], wait=False)
    task.wait()
    listing = md(ip, "tasks")
    assert [t.id for t in listing] == [task.id] and "SUCCEEDED" in listing._repr_html_()
    assert [t.status for t in md(ip, f"tasks {task.id}")] == ["SUCCEEDED"]


def test_config_sets_the_workspace_and_reconnects(ip, deployment: Deployment):
    deployment.admin.ok("POST", "/api/v1/workspaces", json={"name": "team-b"})
    first = magics(ip).deck
    assert first.workspace.name == "default"
    ip.run_line_magic("config", 'ModelDeck.workspace = "team-b"')
    assert magics(ip).deck is not first and magics(ip).deck.workspace.name == "team-b"
    assert "current: team-b" in md(ip, "workspaces")._repr_html_()


def test_the_magics_share_one_deck_and_the_panel_uses_it(ip):
    from modeldeck.panel import Panel

    deck = magics(ip).deck
    md(ip, "models")
    assert magics(ip).deck is deck
    panel = md(ip, "panel")
    assert isinstance(panel, Panel) and panel.deck is deck




class Writes:
    """A stdout that keeps each write apart, to see text arrive in pieces."""

    def __init__(self) -> None:
        self.pieces: list[str] = []

    def write(self, text: str) -> int:
        self.pieces.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_chat_streams_the_reply_once_then_its_usage(ip, llm, monkeypatch):
    ip.user_ns["topic"] = "the river"
    ip.run_line_magic("config", "ModelDeck.max_tokens = 6")
    out = Writes()
    monkeypatch.setattr(sys, "stdout", out)
    returned = ip.run_cell_magic("modeldeck", f"chat {llm} --seed 1", "Tell me about {topic} and {{braces}}.")
    monkeypatch.undo()
    assert returned is None  # nothing for the notebook to show a second time
    reply = ip.user_ns["_modeldeck_reply"]
    streamed = [p for p in out.pieces if p]
    assert len(streamed) > 3  # one write per token, the newline, then the usage line
    usage = f"(stopped: length · {reply.usage['prompt_tokens']} prompt + 6 completion tokens)\n"
    assert "".join(streamed) == reply.text + "\n" + usage and reply.text  # the configured max_tokens applied
    with pytest.raises(UsageError, match="line magic"):
        ip.run_cell_magic("modeldeck", "models", "text")
    with pytest.raises(UsageError, match="cell magic"):
        md(ip, f"chat {llm}")


def test_prompts_insert_variables_and_name_a_missing_one(ip):
    assert prompt(" Summarize {doc} as {{json}} \n", {"doc": "the memo"}) == "Summarize the memo as {json}"
    with pytest.raises(InvalidParameter) as missing:
        ip.run_cell_magic("modeldeck", "chat tiny", "Summarize {nowhere}")
    text = str(missing.value)
    assert "{nowhere}" in text and "[InvalidParameter.Prompt]" in text and "Hint:" in text
    with pytest.raises(InvalidParameter, match=r"InvalidParameter\.Prompt"):
        ip.run_cell_magic("modeldeck", "chat tiny", "a lone } brace")


def test_platform_errors_show_their_line_and_hint_not_usage_error(ip, capsys):
    result = ip.run_cell("%modeldeck versions nowhere")
    shown = capsys.readouterr()
    assert isinstance(result.error_in_exec, NotFound)  # the typed error: a cell may catch it
    assert "Traceback" not in shown.out + shown.err and "UsageError" not in shown.out + shown.err
    line, hint = shown.out.splitlines()
    assert line == "Model 'nowhere' does not exist. [Model.NotFound]" and hint.startswith("Hint: List the models")
    with pytest.raises(DeckError, match=r"no variable 'missing'.*InvalidParameter.Variable.*Hint:"):
        md(ip, "predict iris --input $missing")
    with pytest.raises(UsageError, match="invalid choice"):  # a malformed command line is a usage error
        md(ip, "nonsense")
    assert md(ip, "register -h") is None and "--metrics" in capsys.readouterr().out


def test_help_lists_the_commands_and_explains_one(ip, capsys):
    assert md(ip, "help") is None
    listing = capsys.readouterr().out
    assert all(name in listing for name in COMMANDS) and "usage: %modeldeck" in listing
    md(ip, "help versions")
    assert "--status" in capsys.readouterr().out
    with pytest.raises(UsageError, match="no command 'nope'"):
        md(ip, "help nope")


def test_completion_of_subcommands_workspaces_models_and_profiles(ip, deployment: Deployment, tmp_path: Path):
    deployment.admin.ok("POST", "/api/v1/workspaces", json={"name": "team-b"})
    md(ip, f"register iris {examples.onnx_linear(tmp_path / 'l.onnx')} --format ONNX --no-progress")
    ip.run_line_magic("config", "ModelDeck.completion_timeout = 120")  # a loaded machine must not flake
    assert completions(ip, "%modeldeck ") == list(COMMANDS)
    assert completions(ip, "%modeldeck ver") == ["versions"]
    assert completions(ip, "%modeldeck use ") == ["default", "team-b"]
    assert completions(ip, "%modeldeck use te") == ["team-b"]
    assert completions(ip, "%modeldeck versions ir") == ["iris"]
    assert completions(ip, "%modeldeck authorize iris t") == ["team-b"]
    assert completions(ip, "%%modeldeck chat ") == ["iris"]
    assert completions(ip, "%modeldeck profile ") == ["team"]
    md(ip, "register iris-2 oss://bucket/k.onnx")  # a register refreshes the names
    assert completions(ip, "%modeldeck predict ") == ["iris", "iris-2"]
    assert completions(ip, "%modeldeck help app") == ["approve"]
    ip.user_ns.update(frame=1, framed=2, _hidden=3)
    assert completions(ip, "%modeldeck predict iris --input $fr") == ["$frame", "$framed"]


def test_jupyter_completion_offers_model_names_before_python_keywords(ip, tmp_path: Path):
    """JupyterLab asks `Completer.completions` (Jedi's keywords first): where a name goes, only names."""
    from IPython.core.completer import provisionalcompleter

    md(ip, f"register import-model {examples.onnx_linear(tmp_path / 'l.onnx')} --format ONNX --no-progress")
    ip.run_line_magic("config", "ModelDeck.completion_timeout = 120")
    with provisionalcompleter():
        for line in ("%modeldeck versions i", "x = %modeldeck predict i", "%%modeldeck chat i"):
            offered = list(ip.Completer.completions(line, len(line)))
            assert [(c.text, c.start) for c in offered] == [("import-model", len(line) - 1)], line
        assert "import" in [c.text for c in ip.Completer.completions("impo", 4)]  # Python cells keep theirs


def test_completion_answers_nothing_when_the_platform_is_unreachable(ip):
    """Nothing from the magic, so IPython's own completions (files, magics) stand, and no traceback."""
    ip.run_line_magic("config", 'ModelDeck.profile = "no-such-profile"')
    ip.run_line_magic("config", "ModelDeck.completion_timeout = 120")
    for line in ("%modeldeck use ", "%modeldeck versions ", "%modeldeck approve "):
        assert magics(ip).complete(line) == []
        assert "default" not in completions(ip, line)


def test_no_key_in_any_output(ip, deployment: Deployment, tmp_path: Path, capsys):
    key = deployment.admin_key
    path = examples.onnx_linear(tmp_path / "l.onnx")
    lines = ("workspaces", "models", "tasks", "profile", "doctor", "profile team", f"register iris {path} --no-progress")
    outputs = [md(ip, line) for line in lines]
    ip.run_cell("%modeldeck use nowhere")
    captured = capsys.readouterr()
    assert "team" in captured.out and "in file" in captured.out  # the profile listing says where the key is
    assert "this notebook uses profile 'team'" in captured.out
    for text in [captured.out, captured.err, *map(shown, outputs), repr(magics(ip).deck)]:
        assert key not in text and key[8:] not in text


def test_a_magic_the_platform_cannot_do_is_refused_with_the_hint(ip, deployment: Deployment):
    file = ProfileFile.load()
    file.profiles["vllm"] = Profile("vllm", "openai", url=f"{deployment.url}/v1", api_key=deployment.admin_key)
    file.save()
    md(ip, "profile vllm")
    assert [w.name for w in md(ip, "workspaces")] == ["default"]
    for line in ("versions m", "approve m 1.0.0", "predict m --input [[1]]", "tasks", "register m x.onnx"):
        with pytest.raises(DeckError) as err:
            md(ip, line)
        assert "Provider.Unsupported" in str(err.value) and "local or server" in str(err.value)


def test_workspaces_members_subaccounts_and_keys_share_the_clis_arguments(ip, capsys):
    assert md(ip, "workspaces create team-c").name == "team-c"
    account = md(ip, "subaccounts create erin")
    assert account.api_key and account.api_key not in shown(account)  # there once, masked when shown
    assert md(ip, "members team-c add erin --role admin").role == "admin"
    assert [(m.name, m.role) for m in md(ip, "members team-c")] == [("erin", "admin")]
    key = md(ip, "keys create --description ci")
    assert key.secret and key.secret not in shown(key)
    assert key.id in [k.id for k in md(ip, "keys list")]
    assert md(ip, f"keys revoke {key.id}") is None
    assert md(ip, "members team-c remove erin") is None
    assert md(ip, "workspaces delete team-c") is None
    assert "team-c" not in [w.name for w in md(ip, "workspaces")]
