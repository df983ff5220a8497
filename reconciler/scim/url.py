"""Validation of the SCIM base URL: the token goes to this host and nowhere else."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from reconciler.errors import ConfigError

DEFAULT_BASE_URL = "https://mixpanel.com/api/app/scim/v2"


def normalise_base_url(url: str | None) -> str:
    """Return the base URL without a trailing slash, or raise ConfigError saying why.

    Refuses what would leak or misroute the token: schemes other than http(s),
    credentials in the URL, a query or fragment (paths are appended to it), and
    plain http:// to anything but loopback (the local sandbox).
    """
    if url is None:
        return DEFAULT_BASE_URL
    text = url.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - parsing the port is what validates it
    except ValueError as error:
        raise ConfigError(f"the SCIM base URL is invalid ({error})") from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"} or not host:
        raise ConfigError(f"the SCIM base URL must be an https:// URL, got {text!r}")
    if "@" in parts.netloc:
        # The value is not echoed: what precedes "@" is most likely a secret.
        raise ConfigError("the SCIM base URL must not contain credentials; pass the token apart")
    if "?" in text or "#" in text:
        raise ConfigError(f"the SCIM base URL must not have a query or fragment, got {text!r}")
    if scheme == "http" and not _is_loopback(host):
        raise ConfigError(
            f"plain http:// is only allowed to loopback (the local sandbox), got {text!r}: "
            "use https://"
        )
    return urlunsplit((scheme, parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
