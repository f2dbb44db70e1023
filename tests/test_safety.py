"""The path-traversal and SSRF corpus (MLflow's CVE cluster and friends) against modeldeck's safety checks."""

from __future__ import annotations

import os
import socket
from ipaddress import ip_network

import pytest

from modeldeck.errors import InvalidParameter
from modeldeck.platform import safety
from modeldeck.platform.safety import (
    MAX_COMPONENT_LENGTH,
    MAX_PATH_LENGTH,
    check_host,
    confined_path,
    resolve_public,
    safe_relpath,
    validate_uri,
)

DIGEST = "0123456789abcdef" * 4


def refused(call, *args, code: str | tuple[str, ...], **kwargs) -> InvalidParameter:
    """Assert a refusal with the subcode (or one of them) and a hint; return it for further checks."""
    with pytest.raises(InvalidParameter) as info:
        call(*args, **kwargs)
    error = info.value
    assert error.code in ((code,) if isinstance(code, str) else code)
    assert error.status == 400
    assert error.hint and error.hint.strip()
    assert error.message.endswith(".") and "Traceback" not in str(error)
    return error


# --- safe_relpath ---------------------------------------------------------------------------------

GOOD_PATHS = [
    "model.onnx",
    "weights/part-00001.bin",
    "tokenizer/vocab.json",
    "模型/权重.bin",
    "a/b/c/d.e.f",
    ".gitattributes",
    "my model/v1 final.bin",
    "..a/b..c",
    "COM10.txt",
    "console.log",
    "x" * MAX_COMPONENT_LENGTH,
    "/".join(["d"] * 10 + ["f" * 200]),
]

BAD_PATHS = [
    "",
    "../",
    "..\\",
    "..",
    ".",
    "a/../../b",
    "a/..",
    "%2e%2e/",
    "%2e%2e%2f",
    "%252e%252e%252f",
    "..%2f",
    ".%2e/",
    "%2f",
    "a%2Fb",
    "%u002e%u002e/x",
    "100%.bin",
    ";..",
    "a;b/../c",
    "#/../",
    "a#b",
    "a?x=..",
    "/etc/passwd",
    "/",
    "C:\\Windows",
    "C:/x",
    "c:/x",
    "C:x",
    "a:b",
    "file.bin:stream",
    "\\\\server\\share\\x",
    "//server/share",
    "\\x",
    "a\\b",
    "a\x00b",
    "a\nb",
    "a\tb",
    "a\x7fb",
    "a\x85b",
    "a\u202egnp.exe",
    "a\u200bb",
    "a\u2028b",
    "\ud800",
    "\ue000",
    "a//b",
    "a/",
    "./a",
    "a/./b",
    "CON",
    "con",
    "nul.txt",
    "NUL.tar.gz",
    "aux",
    "PRN.json",
    "COM1",
    "lpt9.bin",
    "COM\u00b9",
    "CON .txt",
    "CONIN$",
    "dir/CON/x",
    "a. ",
    "a.",
    "a/b./c",
    "...",
    " a",
    "a ",
    "a\u3000",
    "a*",
    "a<b>",
    "a|b",
    'a"b',
    "\uff0e\uff0e/x",
    "\uff0e/x",
    "a/\u2024\u2024/b",
    "\u2025/x",
    "a\uff0fb",
    "a\u2215b",
    "a\u29f8b",
    "a\u2044b",
    "a\uff3cb",
    "a\ufe68b",
    "\ufe52\ufe52/x",
    "a\u2100",
    "a\uff05b",
    "a\u037eb",
    "x" * 300,
    "a/" + "x" * (MAX_COMPONENT_LENGTH + 1),
    "模" * 86,
    "/".join(["abcdefghi"] * 200),
    "a/" * 1000 + "b",
]


@pytest.mark.parametrize("path", GOOD_PATHS)
def test_safe_relpath_accepts_plain_relative_paths(path: str) -> None:
    assert safe_relpath(path) == path


@pytest.mark.parametrize("path", BAD_PATHS)
def test_safe_relpath_refuses(path: str) -> None:
    refused(safe_relpath, path, code="InvalidParameter.Path")


@pytest.mark.parametrize("value", [None, 3, b"model.onnx", ["a"]])
def test_safe_relpath_refuses_non_strings(value: object) -> None:
    refused(safe_relpath, value, code="InvalidParameter.Path")


def test_safe_relpath_returns_nfc() -> None:
    assert safe_relpath("cafe\u0301/mode\u0300le.bin") == "caf\u00e9/mod\u00e8le.bin"


def test_safe_relpath_length_limits_count_utf8_bytes() -> None:
    assert safe_relpath("模" * 85) == "模" * 85  # 255 bytes
    longest = "/".join(["x" * 100] * 10) + "/" + "y" * (MAX_PATH_LENGTH - 1010)
    assert len(longest.encode()) == MAX_PATH_LENGTH
    assert safe_relpath(longest) == longest
    refused(safe_relpath, longest + "z", code="InvalidParameter.Path")


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/etc/passwd", "absolute"),
        ("//server/share", "UNC"),
        ("C:\\Windows", "drive"),
        ("a/../../b", "'..'"),
        ("%252e%252e%252f", "percent"),
        ("a\x00b", "control"),
        ("\uff0e\uff0e/x", "look-alike"),
        ("nul.txt", "device"),
        ("x" * 300, "longer"),
    ],
)
def test_safe_relpath_names_the_kind_of_problem(path: str, words: str) -> None:
    assert words in refused(safe_relpath, path, code="InvalidParameter.Path").message


@pytest.mark.parametrize("path", ["secret\x00/../token-XYZ", "token-XYZ/" + "q" * 5000, "token-XYZ\u202e"])
def test_path_messages_do_not_echo_the_input(path: str) -> None:
    error = refused(safe_relpath, path, code="InvalidParameter.Path")
    for text in (str(error), error.hint, repr(error)):
        assert "token-XYZ" not in text and "\x00" not in text and "\u202e" not in text
    assert len(error.message) < 200


# --- validate_uri ---------------------------------------------------------------------------------

GOOD_URIS = [
    "oss://my-bucket/models/m1/model.onnx",
    "obs://bucket/a/b.bin",
    "s3://bucket/models/m1/",
    "gs://my_bucket.example/k",
    "hf://org/repo/model.safetensors",
    "hf://Org-Name/Repo.v2",
    "s3://bucket/模型/权重.bin",
    "https://example.com/models/m.onnx",
    "https://example.com",
    "https://example.com/",
    "http://example.com:8080/m.onnx",
    "https://example.com./m.onnx",
    "https://cdn.example.com/a/b?X-Amz-Signature=abc&X-Amz-Expires=60",
    "https://example.com/%E6%A8%A1%E5%9E%8B.bin",
    "https://example.com/my%20model.bin",
    "https://8.8.8.8/m.onnx",
    "https://[2606:4700:4700::1111]/m",
    "https://[::ffff:8.8.8.8]/m",
    "https://[2002:808:808::1]/m",
    "https://[64:ff9b::808:808]/m",
    "https://xn--fiqs8s.example/m",
    f"artifact://sha256:{DIGEST}",
]

BAD_URIS = [
    "",
    "file:///etc/passwd",
    "file://host/x",
    "FILE:///etc/passwd",
    "/abs",
    "relative/path",
    "C:/x",
    "mlflow-artifacts:/x",
    "mlflow-artifacts://host/x",
    "ftp://example.com/x",
    "javascript:alert(1)",
    "data:text/plain,x",
    "jar:file:///x!/y",
    "gopher://127.0.0.1:6379/_x",
    "HTTPS://example.com/",
    "S3://bucket/k",
    "artifact://sha256:XYZ",
    f"artifact://sha256:{DIGEST.upper()}",
    f"artifact://sha256:{DIGEST}0",
    f"artifact://sha256:{DIGEST}/../x",
    "artifact://sha256:",
    "oss://bucket/../x",
    "oss://bucket/a/../../x",
    "oss://bucket/a/%2e%2e/b",
    "oss://bucket/a/%2E%2E%2Fb",
    "obs://b/a/..%252f",
    "s3://bucket/k#/../x",
    "s3://bucket/a;x/../../k",
    "s3://bucket/k?versionId=1",
    "s3://bucket/a//b",
    "s3://bucket/a\\..\\b",
    "s3://bucket/./k",
    "s3://bucket/CON",
    "s3://bucket/\uff0e\uff0e/k",
    "s3://bucket",
    "s3://bucket/",
    "s3://bucket//",
    "s3:///key",
    "s3://",
    "s3:bucket/key",
    "s3://user@bucket/k",
    "s3://-bucket/k",
    "s3://buck*et/k",
    "s3://bucket:80/k",
    "https://169.254.169.254/latest/meta-data",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0x7f.0.0.1/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://127.0.0.1./",
    "http://localhost:8080/",
    "http://LOCALHOST./",
    "http://foo.localhost/",
    "http://metadata.google.internal/",
    "http://100.100.100.200/",
    "http://10.0.0.5/",
    "http://192.168.1.1/",
    "http://172.16.0.1/",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://[::1]:8080/",
    "http://user:pw@example.com/",
    "http://user@example.com/",
    "http://example.com@127.0.0.1/",
    "http://example.com\\@127.0.0.1/",
    "http:///x",
    "http://:80/x",
    "http:example.com/x",
    "http://example.com:0/",
    "http://example.com:65536/",
    "http://example.com:/",
    "http://example.com:8o/",
    "http://[::1/",
    "http://a:b:c/",
    "http://ex ample.com/",
    "http://example.com/a b",
    "http://example.com/\x00",
    "http://example.com/\u202e",
    " https://example.com/",
    "https://example.com/\n",
    "https://example.com/a/../../admin",
    "https://example.com/a/%2e%2e/admin",
    "https://example.com/a/%252e%252e/admin",
    "https://example.com/a/%25252e%25252e/admin",
    "https://example.com/a%2fb",
    "https://example.com/a%5cb",
    "https://example.com/a%00b",
    "https://example.com/%ff",
    "https://example.com/a;jsessionid=1/b",
    "https://example.com/m.onnx#frag",
    "https://\u2460\u2461\u2466.0.0.1/",
    "https://ｌｏｃａｌｈｏｓｔ/",
    "https://localhost\u3002/",
    "https://1.2.3.4.5/",
    "https://example.123/",
    "https://09.1.1.1/",
    "https://" + "a" * 64 + ".com/",
    "https://a..b/",
    "https://example.com/" + "a/" * 1030,
    "https://example.com/" + "x" * 2100,
]


@pytest.mark.parametrize("uri", GOOD_URIS)
def test_validate_uri_accepts(uri: str) -> None:
    assert validate_uri(uri) is uri


@pytest.mark.parametrize("uri", BAD_URIS)
def test_validate_uri_refuses(uri: str) -> None:
    refused(validate_uri, uri, code=("InvalidParameter.Uri", "InvalidParameter.Address"))


@pytest.mark.parametrize(
    ("uri", "code"),
    [
        ("file:///etc/passwd", "InvalidParameter.Uri"),
        ("oss://bucket/a/%2e%2e/b", "InvalidParameter.Uri"),
        ("http://user:pw@example.com/", "InvalidParameter.Uri"),
        ("http://127.1/", "InvalidParameter.Address"),
        ("http://metadata.google.internal/", "InvalidParameter.Address"),
    ],
)
def test_validate_uri_subcodes(uri: str, code: str) -> None:
    refused(validate_uri, uri, code=code)


def test_uri_messages_do_not_echo_credentials_or_tokens() -> None:
    for uri in ("https://admin:hunter2@example.com/", "https://example.com/a/../b?token=hunter2"):
        error = refused(validate_uri, uri, code="InvalidParameter.Uri")
        assert "hunter2" not in str(error)


def test_validate_uri_length_limits() -> None:
    key = "/".join(["k" * 200] * 5) + "/" + "k" * (MAX_PATH_LENGTH - 1005)
    assert validate_uri("s3://bucket/" + key)
    error = refused(validate_uri, "s3://bucket/" + key + "k", code="InvalidParameter.Uri")
    assert "longer than 1024 bytes" in error.message
    uri = "https://example.com/?q=" + "x" * (2048 - 23)
    assert validate_uri(uri) is uri
    assert "2048" in refused(validate_uri, uri + "x", code="InvalidParameter.Uri").message


@pytest.mark.parametrize("value", [None, 42, b"s3://bucket/k"])
def test_validate_uri_refuses_non_strings(value: object) -> None:
    refused(validate_uri, value, code="InvalidParameter.Uri")


def test_allowed_networks_allow_exactly_what_the_admin_listed() -> None:
    allowed = [ip_network("10.0.0.0/8")]
    assert validate_uri("http://10.0.0.5/", allowed_networks=allowed) == "http://10.0.0.5/"
    assert validate_uri("http://[::ffff:10.0.0.5]/m", allowed_networks=allowed)
    refused(validate_uri, "http://127.0.0.1/", code="InvalidParameter.Address", allowed_networks=allowed)
    refused(validate_uri, "http://a.localhost/", code="InvalidParameter.Address", allowed_networks=allowed)


def test_allowed_networks_never_allow_names() -> None:
    everything = [ip_network("0.0.0.0/0"), ip_network("::/0")]
    for host in ("localhost", "metadata.google.internal", "printer.local"):
        refused(check_host, host, code="InvalidParameter.Address", allowed_networks=everything)


def test_metadata_needs_the_exact_address_allowed() -> None:
    for network in ("169.254.0.0/16", "100.64.0.0/10", "fd00::/8"):
        allowed = [ip_network(network)]
        for host in ("169.254.169.254", "100.100.100.200", "[fd00:ec2::254]"):
            refused(check_host, host, code="InvalidParameter.Address", allowed_networks=allowed)
    check_host("169.254.169.254", allowed_networks=[ip_network("169.254.169.254/32")])
    check_host("169.254.1.1", allowed_networks=[ip_network("169.254.0.0/16")])


# --- check_host -----------------------------------------------------------------------------------

REFUSED_HOSTS = [
    "",
    "127.0.0.1",
    "127.0.0.1.",
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f000001",
    "0X7F000001",
    "0x7f.0.0.1",
    "0x7f.1",
    "0177.0.0.1",
    "017700000001",
    "0",
    "0x",
    "0.0.0.0",
    "10.1.2.3",
    "172.31.255.255",
    "192.168.0.1",
    "100.64.0.1",
    "100.100.100.200",
    "169.254.169.254",
    "169.254.170.2",
    "168.63.129.16",
    "192.0.0.192",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "198.18.0.1",
    "[::1]",
    "::1",
    "[::]",
    "[0:0:0:0:0:0:0:1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::ffff:169.254.169.254]",
    "[::ffff:a9fe:a9fe]",
    "[::ffff:0:a9fe:a9fe]",
    "[::127.0.0.1]",
    "[::a9fe:a9fe]",
    "[64:ff9b::a9fe:a9fe]",
    "[64:ff9b::127.0.0.1]",
    "[64:ff9b:1::1]",
    "[2002:7f00:1::]",
    "[2002:a9fe:a9fe::1]",
    "[2002:c0a8:101::1]",
    "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
    "[2001:db8::1]",
    "[fc00::1]",
    "[fd00:ec2::254]",
    "[fd00:ec2::23]",
    "[fe80::1]",
    "[fe80::1%eth0]",
    "[fec0::1]",
    "[ff02::1]",
    "[100::1]",
    "[::1",
    "[example.com]",
    "[1.2.3.4]",
    "[zz::1]",
    "1.2.3.4.5",
    "1..2.3",
    "256.0.0.1",
    "1.256.0.0.1",
    "1.2.3.256",
    "1.2.65536",
    "4294967296",
    "08.0.0.1",
    "1_0.0.0.1",
    "example.123",
    "localhost",
    "LOCALHOST",
    "localhost.",
    "LocalHost.",
    "foo.localhost",
    "a.b.localhost.",
    "metadata",
    "metadata.google.internal",
    "METADATA.GOOGLE.INTERNAL.",
    "ip-10-0-0-1.ec2.internal",
    "instance-data",
    "printer.local",
    "router.home.arpa",
    "localhost.localdomain",
    "ip6-localhost",
    "localhost..",
    "a..b",
    ".example.com",
    "-example.com",
    "exa mple.com",
    "ex%61mple.com",
    "a" * 64 + ".com",
    ("a" * 60 + ".") * 5 + "com",
    "ｌｏｃａｌｈｏｓｔ",
    "localhost\u3002",
    "\u2460\u2461\u2466.0.0.1",
    "bücher.example",
]


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_check_host_refuses(host: str) -> None:
    refused(check_host, host, code="InvalidParameter.Address")


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "EXAMPLE.com.",
        "models.example.co.uk",
        "my_host.example",
        "xn--bcher-kva.example",
        "localhost-models.example.com",
        "internal.example.com",
        "8.8.8.8",
        "134744072",
        "1.1",
        "0x08.0x08.0x08.0x08",
        "[2606:4700:4700::1111]",
        "2606:4700:4700::1111",
        "[::ffff:8.8.8.8]",
        "[2002:808:808::]",
        "[64:ff9b::8.8.8.8]",
    ],
)
def test_check_host_accepts_public(host: str) -> None:
    assert check_host(host) is None


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("2130706433", "loopback"),
        ("[::ffff:169.254.169.254]", "metadata"),
        ("10.0.0.1", "private"),
        ("100.64.1.1", "carrier-grade"),
        ("[fe80::1]", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("255.255.255.255", "broadcast"),
        ("224.0.0.1", "multicast"),
    ],
)
def test_check_host_names_the_kind_of_address(host: str, kind: str) -> None:
    assert kind in refused(check_host, host, code="InvalidParameter.Address").message


# --- resolve_public -------------------------------------------------------------------------------


def fake_dns(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> list[str]:
    """Make getaddrinfo answer with `addresses`; returns the names it was asked for."""
    asked: list[str] = []

    def getaddrinfo(name, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(name)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(safety.socket, "getaddrinfo", getaddrinfo)
    return asked


def test_resolve_public_refuses_localhost_before_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = fake_dns(monkeypatch, "8.8.8.8")
    refused(resolve_public, "localhost", 80, code="InvalidParameter.Address")
    assert asked == []


def test_resolve_public_refuses_localhost_with_real_dns() -> None:
    refused(resolve_public, "localhost", 80, code="InvalidParameter.Address")


def test_resolve_public_returns_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = fake_dns(monkeypatch, "93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "93.184.215.14")
    assert resolve_public("example.com", 443) == ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]
    assert asked == ["example.com"]


def test_resolve_public_strips_ipv6_brackets(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = fake_dns(monkeypatch, "2606:4700:4700::1111")
    assert resolve_public("[2606:4700:4700::1111]", 443) == ["2606:4700:4700::1111"]
    assert asked == ["2606:4700:4700::1111"]


@pytest.mark.parametrize(
    "answers",
    [
        ("127.0.0.1",),
        ("93.184.215.14", "10.0.0.1"),
        ("169.254.169.254",),
        ("::1",),
        ("::ffff:127.0.0.1",),
        ("fe80::1%eth0",),
        ("100.100.100.200",),
    ],
)
def test_resolve_public_refuses_if_any_answer_is_internal(monkeypatch: pytest.MonkeyPatch, answers) -> None:
    fake_dns(monkeypatch, *answers)
    error = refused(resolve_public, "rebind.example.com", 80, code="InvalidParameter.Address")
    assert "resolves to" in error.message


def test_resolve_public_honours_allowed_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, "10.1.2.3")
    allowed = [ip_network("10.0.0.0/8")]
    assert resolve_public("minio.example", 9000, allowed_networks=allowed) == ["10.1.2.3"]


@pytest.mark.parametrize("error", [socket.gaierror(socket.EAI_NONAME, "x"), UnicodeError("label"), OSError()])
def test_resolve_public_reports_resolution_failure(monkeypatch: pytest.MonkeyPatch, error) -> None:
    def getaddrinfo(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise error

    monkeypatch.setattr(safety.socket, "getaddrinfo", getaddrinfo)
    found = refused(resolve_public, "nowhere.example", 443, code="InvalidParameter.Address")
    assert "could not be resolved" in found.message


def test_resolve_public_reports_empty_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch)
    refused(resolve_public, "nowhere.example", 443, code="InvalidParameter.Address")


@pytest.mark.parametrize("port", [0, -1, 65536, "80", True, None])
def test_resolve_public_refuses_bad_ports(monkeypatch: pytest.MonkeyPatch, port) -> None:
    fake_dns(monkeypatch, "8.8.8.8")
    refused(resolve_public, "example.com", port, code="InvalidParameter.Address")


# --- confined_path --------------------------------------------------------------------------------

needs_symlinks = pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")


def test_confined_path_accepts_a_normal_file(tmp_path) -> None:
    root = tmp_path / "artifact"
    (root / "weights").mkdir(parents=True)
    (root / "weights" / "model.onnx").write_bytes(b"x")
    assert confined_path(root, "weights/model.onnx") == (root / "weights" / "model.onnx").resolve()
    assert confined_path(root, "new/dir/file.bin") == (root / "new" / "dir" / "file.bin").resolve()


@needs_symlinks
def test_confined_path_refuses_a_symlink_leading_outside(tmp_path) -> None:
    root = tmp_path / "artifact"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "file-link").symlink_to(outside / "secret")
    (root / "up").symlink_to("..", target_is_directory=True)
    (root / "self").symlink_to(".", target_is_directory=True)
    for relative in ("link/secret", "link/new-file", "file-link", "up/outside/secret", "self"):
        error = refused(confined_path, root, relative, code="InvalidParameter.Path")
        assert "outside" in error.message


@needs_symlinks
def test_confined_path_allows_symlinks_that_stay_inside(tmp_path) -> None:
    root = tmp_path / "artifact"
    (root / "real").mkdir(parents=True)
    (root / "alias").symlink_to(root / "real", target_is_directory=True)
    assert confined_path(root, "alias/f.bin") == (root / "real" / "f.bin").resolve()


@needs_symlinks
def test_confined_path_works_when_root_is_itself_a_symlink(tmp_path) -> None:
    real = tmp_path / "real-root"
    real.mkdir()
    (tmp_path / "root-link").symlink_to(real, target_is_directory=True)
    assert confined_path(tmp_path / "root-link", "a.bin") == (real / "a.bin").resolve()


@needs_symlinks
def test_confined_path_refuses_symlink_loops(tmp_path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    refused(confined_path, tmp_path, "loop/x", code="InvalidParameter.Path")


@pytest.mark.parametrize("relative", ["../x", "/etc/passwd", "a/../../x", "%2e%2e/x", "", None])
def test_confined_path_validates_the_relative_path(tmp_path, relative) -> None:
    refused(confined_path, tmp_path, relative, code="InvalidParameter.Path")
