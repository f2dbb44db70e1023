"""Checks for the user-supplied fields that lead to files and fetches: artifact paths, model URIs, hosts.

Path traversal and SSRF through exactly these fields were MLflow's largest CVE cluster, so every check
refuses what it cannot prove harmless instead of repairing it, and error messages never echo the input
(a URI may carry credentials or a signed token).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote

from modeldeck.errors import InvalidParameter

__all__ = [
    "MAX_COMPONENT_LENGTH",
    "MAX_PATH_LENGTH",
    "MAX_URI_LENGTH",
    "check_host",
    "confined_path",
    "resolve_public",
    "safe_relpath",
    "system_resolver",
    "validate_uri",
]

MAX_PATH_LENGTH = 1024  # UTF-8 bytes: the S3/OSS object-key limit
MAX_COMPONENT_LENGTH = 255  # UTF-8 bytes: NAME_MAX of common file systems
MAX_URI_LENGTH = 2048

PATH_CODE = "InvalidParameter.Path"
URI_CODE = "InvalidParameter.Uri"
ADDRESS_CODE = "InvalidParameter.Address"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]  # (name, port) -> the addresses it resolves to now


class _Refused(Exception):
    """Internal: what is wrong (a phrase completing "The <field> ...") and what to do; public functions
    turn it into InvalidParameter with the field's name and code."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


@contextmanager
def _as_invalid(subject: str, code: str) -> Iterator[None]:
    try:
        yield
    except _Refused as refused:
        raise InvalidParameter(f"The {subject} {refused.problem}.", hint=refused.hint, code=code) from None


# --- artifact paths -------------------------------------------------------------------------------

# Controls (NUL, tab, newline, C1), bidi overrides and zero-width marks, lone surrogates, private use,
# line and paragraph separators: nothing a file name needs, all useful for hiding what a name is.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
# Separators, URL syntax, and what Windows forbids in names (':' also covers drives and NTFS streams).
_RESERVED = frozenset('/;#?:*<>|"')
# Characters treated specially here; a non-ASCII character that becomes one under NFKC is a look-alike.
_SPECIAL = _RESERVED | {".", "\\", "%"}
# Slash look-alikes that NFKC leaves alone.
_LOOKALIKES = frozenset("\u2044\u2215\u2216\u29f8\u29f9")
_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{n}" for port in ("COM", "LPT") for n in "0123456789\u00b9\u00b2\u00b3"}
)
_DRIVE = re.compile(r"[A-Za-z]:")


def safe_relpath(path: str) -> str:
    """Validate a file path inside an artifact, as sent by a client, and return it in NFC.

    Refuses rather than repairs: a path that needs fixing was built by something we should not trust.
    """
    with _as_invalid("artifact path", PATH_CODE):
        if not isinstance(path, str) or not path:
            raise _Refused("is missing or empty", "Send a relative path such as 'weights/model.onnx'.")
        path = unicodedata.normalize("NFC", path)
        _check_prefix(path)
        _check_length(path)
        for name in path.split("/"):
            _check_component(name)
        return path


def _check_prefix(path: str) -> None:
    if path.startswith(("//", "\\\\")):
        raise _Refused("is a network (UNC) path", "Send a path relative to the artifact root.")
    if path.startswith("/"):
        raise _Refused("is absolute", "Send a path relative to the artifact root, without a leading '/'.")
    if _DRIVE.match(path):
        raise _Refused("starts with a Windows drive", "Send a path relative to the artifact root, using '/'.")


def _check_length(path: str) -> None:
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_LENGTH:
        raise _Refused(
            f"is longer than {MAX_PATH_LENGTH} bytes", "Shorten the folder and file names of the checkpoint."
        )


def _check_component(name: str) -> None:
    """One folder or file name: the rules that keep it a plain name on every OS and object store."""
    if not name:
        raise _Refused("has an empty segment ('//' or a trailing '/')", "Remove the doubled or trailing '/'.")
    if name in (".", ".."):
        raise _Refused("has a '.' or '..' segment", "Name files by their path from the root, without '..'.")
    for char in name:
        _check_char(char)
    if name[0].isspace() or name[-1].isspace():
        raise _Refused("has a name that starts or ends with whitespace", "Trim spaces around the names.")
    if name.endswith("."):
        raise _Refused(
            "has a name ending in '.', which Windows silently drops", "Remove trailing dots from names."
        )
    if name.split(".", 1)[0].rstrip(" ").upper() in _DEVICES:
        raise _Refused(
            "has a reserved Windows device name (such as CON, NUL, COM1)",
            "Rename the file; device names are refused with any extension.",
        )
    if len(name.encode("utf-8")) > MAX_COMPONENT_LENGTH:
        raise _Refused(
            f"has a name longer than {MAX_COMPONENT_LENGTH} bytes", "Shorten the file or folder name."
        )


def _check_char(char: str) -> None:
    if unicodedata.category(char) in _INVISIBLE:
        raise _Refused(
            "contains a control or invisible character (such as NUL or a newline)",
            "Remove control and formatting characters from the names.",
        )
    if char == "\\":
        raise _Refused("contains a backslash", "Separate folders with '/'.")
    if char == "%":
        raise _Refused(
            "contains '%', which could be percent-encoding",
            "Send names as plain UTF-8 text, neither percent-encoded nor containing '%'.",
        )
    if char in _RESERVED:
        raise _Refused(
            "contains a reserved character (one of / ; # ? : * < > | \")",
            "Rename the file without these characters.",
        )
    if not char.isascii() and (
        char in _LOOKALIKES or not _SPECIAL.isdisjoint(unicodedata.normalize("NFKC", char))
    ):
        raise _Refused(
            "contains a look-alike of '.', '/' or another reserved character (such as a fullwidth dot)",
            "Use plain ASCII '.' and '/' and avoid fullwidth punctuation in names.",
        )


# --- URIs -----------------------------------------------------------------------------------------

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_ARTIFACT = re.compile(r"artifact://sha256:[0-9a-f]{64}")
_AUTHORITY = re.compile(r"//([^/?]*)(.*)", re.DOTALL)
_HOST_PORT = re.compile(r"(\[[^\]]*\]|[^:\[\]]*)(?::([0-9]{1,5}))?")
_BUCKET = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,253}[A-Za-z0-9])?")
_STORAGE_SCHEMES = frozenset({"oss", "obs", "s3", "gs", "hf"})
_WEB_SCHEMES = frozenset({"http", "https"})
_SCHEMES = _STORAGE_SCHEMES | _WEB_SCHEMES | {"artifact"}
_SCHEMES_HINT = "Use an artifact://sha256:..., oss://, obs://, s3://, gs://, hf://, http:// or https:// URI."


def validate_uri(uri: str, *, allowed_networks: Sequence[Network] = ()) -> str:
    """Validate a model version's external URI and return it unchanged.

    The URI is stored and later fetched by the server, so anything that could reach local files, the
    server's own network, or escape the named bucket is refused here, before it is ever stored.
    """
    with _as_invalid("URI", URI_CODE):
        scheme, rest = _split_scheme(uri)
        if scheme == "artifact":
            if not _ARTIFACT.fullmatch(uri):
                raise _Refused(
                    "is not of the form artifact://sha256:<64 lowercase hex digits>",
                    "Use the artifact URI returned when the checkpoint was uploaded.",
                )
        elif scheme in _STORAGE_SCHEMES:
            _check_storage(rest)
        else:
            _check_web(rest, allowed_networks)
    return uri


def _split_scheme(uri: str) -> tuple[str, str]:
    """The scheme and what follows its ':', after the checks every kind of URI shares."""
    if not isinstance(uri, str) or not uri:
        raise _Refused("is missing or empty", _SCHEMES_HINT)
    if len(uri) > MAX_URI_LENGTH:
        raise _Refused(f"is longer than {MAX_URI_LENGTH} characters", "Use a shorter URI.")
    if any(char.isspace() or unicodedata.category(char) in _INVISIBLE for char in uri):
        raise _Refused("contains whitespace or a control character", "Percent-encode spaces in the URI.")
    if "\\" in uri:
        raise _Refused("contains a backslash", "Separate path segments with '/'.")
    if "#" in uri:
        raise _Refused("has a '#' fragment", "Remove everything from '#' on.")
    match = _SCHEME.match(uri)
    if match is None:
        raise _Refused("has no scheme", _SCHEMES_HINT)
    scheme = match.group(1)
    if scheme not in _SCHEMES and scheme.lower() in _SCHEMES:
        raise _Refused("has an upper-case scheme", "Write the scheme in lower case, e.g. 'https://'.")
    if scheme not in _SCHEMES:
        raise _Refused("has an unsupported scheme (local files and other schemes are refused)", _SCHEMES_HINT)
    return scheme, uri[match.end() :]


def _split_authority(rest: str) -> tuple[str, str]:
    """The bucket or host[:port], and the path and query after it."""
    match = _AUTHORITY.fullmatch(rest)
    if match is None:
        raise _Refused("lacks '//' after the scheme", "Write it as scheme://bucket-or-host/path.")
    authority, remainder = match.groups()
    if "@" in authority:
        raise _Refused(
            "contains credentials ('user:password@')",
            "Remove the credentials; configure storage access on the platform instead.",
        )
    return authority, remainder


def _check_storage(rest: str) -> None:
    bucket, remainder = _split_authority(rest)
    if not _BUCKET.fullmatch(bucket):
        raise _Refused(
            "has an empty or invalid bucket name",
            "Write it as scheme://bucket/key, the bucket made of letters, digits, '.', '-' or '_'.",
        )
    if not remainder.startswith("/") or len(remainder) == 1:
        raise _Refused("has no object key after the bucket", "Write it as scheme://bucket/path/to/model.")
    _check_uri_path(remainder[1:], decode=False)


def _check_web(rest: str, allowed_networks: Sequence[Network]) -> None:
    authority, remainder = _split_authority(rest)
    match = _HOST_PORT.fullmatch(authority)
    if match is None:
        raise _Refused("has a malformed host or port", "Write the host as name, IPv4 or [IPv6], then :port.")
    host, port = match.groups()
    if not host:
        raise _Refused("has no host", "Write it as https://host/path.")
    if port is not None and not 0 < int(port) < 65536:
        raise _Refused("has a port outside 1-65535", "Use a valid port or leave it out.")
    check_host(host, allowed_networks=allowed_networks)
    path = remainder.partition("?")[0]  # a query (e.g. a signed-URL token) is the remote server's business
    if len(path) > 1:
        _check_uri_path(path[1:], decode=True)


def _check_uri_path(key: str, *, decode: bool) -> None:
    """Apply the artifact-path rules to every segment after the bucket or host; one trailing '/' may
    name a folder. Web paths are percent-decoded first, as the remote server will do."""
    with _as_invalid("URI path", URI_CODE):
        _check_length(key)
        for segment in key.removesuffix("/").split("/"):
            _check_component(_percent_decoded(segment) if decode else segment)


def _percent_decoded(segment: str) -> str:
    """Undo up to three rounds of percent-encoding, so double-encoded dots and slashes show; what is
    still encoded after that keeps a '%' and is refused."""
    for _ in range(3):
        try:
            decoded = unquote(segment, errors="strict")
        except UnicodeDecodeError:
            raise _Refused(
                "has percent-encoded bytes that are not UTF-8", "Percent-encode names from UTF-8."
            ) from None
        if decoded == segment:
            break
        segment = decoded
    return segment


# --- hosts and addresses --------------------------------------------------------------------------

_net = ipaddress.ip_network
_SPECIAL_RANGES: tuple[tuple[Network, str], ...] = (
    (_net("0.0.0.0/8"), "an unspecified ('this network') address"),
    (_net("10.0.0.0/8"), "a private address"),
    (_net("100.64.0.0/10"), "a shared (carrier-grade NAT) address"),
    (_net("127.0.0.0/8"), "a loopback address"),
    (_net("169.254.0.0/16"), "a link-local address"),
    (_net("172.16.0.0/12"), "a private address"),
    (_net("192.0.0.0/24"), "a reserved address"),
    (_net("192.0.2.0/24"), "a documentation address"),
    (_net("192.88.99.0/24"), "a reserved address"),
    (_net("192.168.0.0/16"), "a private address"),
    (_net("198.18.0.0/15"), "a reserved address"),
    (_net("198.51.100.0/24"), "a documentation address"),
    (_net("203.0.113.0/24"), "a documentation address"),
    (_net("224.0.0.0/4"), "a multicast address"),
    (_net("255.255.255.255/32"), "a broadcast address"),
    (_net("240.0.0.0/4"), "a reserved address"),
    (_net("::/128"), "an unspecified address"),
    (_net("::1/128"), "a loopback address"),
    (_net("fc00::/7"), "a private (unique-local) address"),
    (_net("fe80::/10"), "a link-local address"),
    (_net("ff00::/8"), "a multicast address"),
    (_net("2001::/23"), "a reserved address"),  # includes Teredo, which tunnels to hidden IPv4 hosts
    (_net("2001:db8::/32"), "a documentation address"),
    (_net("3fff::/20"), "a documentation address"),
)
_GLOBAL_UNICAST = _net("2000::/3")  # every other IPv6 address is reserved, deprecated or local
# IPv6 forms whose low 32 bits are the IPv4 host actually reached: mapped, SIIT, NAT64.
_IPV4_TRANSLATION = (_net("::ffff:0:0/96"), _net("::ffff:0:0:0/96"), _net("64:ff9b::/96"))
# Cloud instance metadata (AWS, GCP, Azure incl. WireServer, Alibaba, Oracle, ECS/EKS credentials):
# allowed only when an admin lists the exact address, never through a wider range.
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254", "169.254.170.2", "169.254.170.23", "100.100.100.200", "168.63.129.16",
        "192.0.0.192", "fd00:ec2::254", "fd00:ec2::23",
    )
)  # fmt: skip
_LOCAL_NAMES = frozenset({"metadata", "instance-data", "ip6-localhost", "ip6-loopback"})
_LOCAL_ZONES = ("localhost", "local", "internal", "localdomain", "home.arpa")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_LABEL = re.compile(r"0[xX][0-9A-Fa-f]*|[0-9]+")
_HEX_PART = re.compile(r"0[xX][0-9A-Fa-f]*")
_OCTAL_PART = re.compile(r"0[0-7]+")
_DECIMAL_PART = re.compile(r"0|[1-9][0-9]*")
_ADDRESS_HINT = "Use a public host; an admin may allow internal ranges through allowed_networks."


def check_host(host: str, *, allowed_networks: Sequence[Network] = ()) -> None:
    """Refuse hosts that would make the server fetch from itself, its network, or cloud metadata.

    Literal addresses are parsed the way permissive resolvers do (inet_aton, IPv4-in-IPv6) so no
    spelling slips through; names pass unless they are local by definition, and are checked again
    by resolve_public at fetch time.
    """
    with _as_invalid("host", ADDRESS_CODE):
        ip = _literal_ip(host)
        if ip is None:
            _check_name(host)
        else:
            _check_ip(ip, allowed_networks, "is")


def resolve_public(
    host: str, port: int, *, allowed_networks: Sequence[Network] = (), resolver: Resolver | None = None
) -> list[str]:
    """Resolve `host` at fetch time and return its addresses, refusing if any of them is internal.

    Connect to a returned address rather than the name: resolving again lets DNS rebinding swap in
    an internal address after the check. `resolver` is the lookup to use (the system's by default).
    """
    check_host(host, allowed_networks=allowed_networks)
    with _as_invalid("host", ADDRESS_CODE):
        if type(port) is not int or not 0 < port < 65536:
            raise _Refused("has a port outside 1-65535", "Use a valid port.")
        addresses = _resolve(host.removeprefix("[").removesuffix("]"), port, resolver or system_resolver)
        for ip in addresses:
            _check_ip(ip, allowed_networks, "resolves to")
    return [str(ip) for ip in addresses]


def system_resolver(name: str, port: int) -> list[str]:
    """The addresses the operating system's resolver gives for `name` now; none when it fails."""
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def _resolve(name: str, port: int, resolver: Resolver) -> list[Address]:
    try:
        addresses = list(dict.fromkeys(ipaddress.ip_address(a) for a in resolver(name, port)))
    except ValueError:  # a resolver answering something that is not an address
        addresses = []
    if not addresses:
        raise _Refused("could not be resolved", "Check the host name, or retry if DNS is temporarily down.")
    return addresses


def _literal_ip(host: str) -> Address | None:
    """The address a literal host denotes in any spelling, or None when it is a name."""
    if not isinstance(host, str) or not host:
        raise _Refused("is missing or empty", "Write it as https://host/path.")
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed or ":" in host:
        return _parse_ipv6(host[1:-1] if bracketed else host)
    last_label = host.removesuffix(".").rpartition(".")[2]
    if _NUMERIC_LABEL.fullmatch(last_label):  # no real top-level domain is numeric
        return _parse_ipv4(host.removesuffix("."))
    return None


def _parse_ipv6(text: str) -> ipaddress.IPv6Address:
    if "%" in text:
        raise _Refused("has an IPv6 zone index", "Remove the '%zone' part; link-local hosts are refused.")
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        raise _Refused("is not a valid IPv6 address", "Write IPv6 hosts as [2001:db8::1].") from None


def _parse_ipv4(text: str) -> ipaddress.IPv4Address:
    """inet_aton's reading: 1-4 parts in decimal, 0x-hex or 0-octal, the last filling the remaining bytes
    ('127.1', '0x7f000001', '2130706433' and '0177.0.0.1' are all 127.0.0.1)."""
    parts = [_ipv4_part(part) for part in text.split(".")]
    *head, last = parts
    if len(parts) > 4 or any(part > 255 for part in head) or last >= 256 ** (4 - len(head)):
        raise _Refused("is a malformed numeric address", "Write IPv4 hosts as four decimal numbers.")
    value = last
    for index, part in enumerate(head):
        value += part << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _ipv4_part(part: str) -> int:
    if _HEX_PART.fullmatch(part):
        return int(part[2:] or "0", 16)
    if _OCTAL_PART.fullmatch(part):
        return int(part, 8)
    if _DECIMAL_PART.fullmatch(part):
        return int(part)
    raise _Refused("is a malformed numeric address", "Write IPv4 hosts as four decimal numbers.")


def _check_name(host: str) -> None:
    name = host.removesuffix(".").lower()
    if not name.isascii():
        raise _Refused("contains non-ASCII characters", "Write international host names in punycode (xn--).")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise _Refused("is not a valid host name", "Use a DNS name such as models.example.com.")
    if name in _LOCAL_NAMES or any(name == zone or name.endswith("." + zone) for zone in _LOCAL_ZONES):
        raise _Refused(
            "names the server itself, its internal network or cloud metadata",
            "Use a public host name; internal names are always refused, use an allowed address instead.",
        )


def _check_ip(ip: Address, allowed_networks: Sequence[Network], verb: str) -> None:
    target = _embedded_ipv4(ip) or ip
    kind = _kind(target)
    if kind is not None and not _allowed(target, allowed_networks):
        raise _Refused(f"{verb} {kind}, which the platform does not fetch from", _ADDRESS_HINT)


def _embedded_ipv4(ip: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 host an IPv6 address really reaches (mapped, SIIT, NAT64, 6to4), if any."""
    if ip.version == 4:
        return None
    if ip.sixtofour is not None:
        return ip.sixtofour
    if any(ip in net for net in _IPV4_TRANSLATION):
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    return None


def _kind(ip: Address) -> str | None:
    """What makes `ip` internal, or None for a public address."""
    if ip in _METADATA:
        return "a cloud metadata address"
    for net, kind in _SPECIAL_RANGES:
        if ip in net:
            return kind
    if ip.version == 6 and ip not in _GLOBAL_UNICAST:
        return "a reserved address"
    return None


def _allowed(ip: Address, allowed_networks: Sequence[Network]) -> bool:
    networks = [net for net in allowed_networks if ip in net]
    if ip in _METADATA:
        return any(net.num_addresses == 1 for net in networks)
    return bool(networks)


# --- local files ----------------------------------------------------------------------------------


def confined_path(root: Path, relative: str) -> Path:
    """Join a client's path onto `root` and return the real path, refusing it if symlinks lead it out.

    The result has its symlinks resolved; use it directly rather than re-joining `relative`.
    """
    relative = safe_relpath(relative)
    with _as_invalid("artifact path", PATH_CODE):
        try:
            base = Path(root).resolve()
            target = (base / relative).resolve()
        except (OSError, RuntimeError):  # symlink loops
            raise _Refused("could not be resolved inside the artifact", "Remove looping symlinks.") from None
        if base not in target.parents:
            raise _Refused(
                "leads outside the artifact through a symbolic link",
                "Upload regular files; links pointing outside the artifact are refused.",
            )
    return target
