"""Outbound fetches for the shops' server-side request forgery flaws (injection.ssrf).

`fetch` is what the vulnerable builds do: fetch the URL the caller gave, whatever its host,
following redirects. `allowed` is the secure builds' gate before any fetch: https only, a host on
the allowlist, and every address the host resolves to public (so a DNS name pointing at 127.0.0.1
or 10.x is refused too). Timeouts are short so a scan of the shops stays fast.
"""

import ipaddress
import socket
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT_SECONDS = 2.0
MAX_BYTES = 256 * 1024


class FetchFailed(Exception):
    """The host could not be reached at all (refused, unresolvable, timed out)."""


def fetch(url: str) -> tuple[int, str, int]:
    """(status, content type, bytes read) of a GET to `url` exactly as given."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:
            body = answer.read(MAX_BYTES)
            return answer.status, answer.headers.get("Content-Type", ""), len(body)
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", "") if e.headers else "", 0
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise FetchFailed(str(e)) from e


def allowed(url: str, hosts: frozenset[str]) -> bool:
    """True when `url` is https, names an allowlisted host, and resolves to public addresses only."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or 443
    except ValueError:
        return False
    if parts.scheme != "https" or parts.hostname not in hosts or parts.username or parts.password:
        return False
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_global for info in infos)


def fetch_allowed(url: str, hosts: frozenset[str]) -> tuple[int, str, int]:
    """`fetch` for a URL that passed `allowed`, without following redirects (a redirect to an
    internal address would undo the check)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=TIMEOUT_SECONDS) as answer:
            body = answer.read(MAX_BYTES)
            return answer.status, answer.headers.get("Content-Type", ""), len(body)
    except urllib.error.HTTPError as e:
        return e.code, "", 0
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise FetchFailed(str(e)) from e
