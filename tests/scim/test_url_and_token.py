"""The base URL only ever points the token at an intended host; the token never prints."""

from __future__ import annotations

import pickle

import pytest

from reconciler.errors import ConfigError
from reconciler.scim.secret import Token
from reconciler.scim.url import DEFAULT_BASE_URL, normalise_base_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, DEFAULT_BASE_URL),
        ("https://eu.mixpanel.com/api/app/scim/v2/", "https://eu.mixpanel.com/api/app/scim/v2"),
        ("  HTTPS://Mixpanel.com/api/app/scim/v2  ", "https://mixpanel.com/api/app/scim/v2"),
        ("http://127.0.0.1:8080/v2", "http://127.0.0.1:8080/v2"),
        ("http://127.8.9.1/v2", "http://127.8.9.1/v2"),
        ("http://localhost:9/api/app/scim/v2//", "http://localhost:9/api/app/scim/v2"),
        ("http://[::1]:9/v2", "http://[::1]:9/v2"),
    ],
)
def test_normalise_base_url_accepts_and_normalises(given: str | None, expected: str) -> None:
    assert normalise_base_url(given) == expected


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("http://mixpanel.com/api/app/scim/v2", "use https://"),
        ("http://10.0.0.1/v2", "use https://"),
        ("http://localhost.evil.com/v2", "use https://"),
        ("ftp://mixpanel.com/v2", "https://"),
        ("mixpanel.com/api", "https://"),
        ("https://user:pw@mixpanel.com/v2", "credentials"),
        ("https://mixpanel.com/v2?x=1", "query or fragment"),
        ("https://mixpanel.com/v2#frag", "query or fragment"),
        ("https://mixpanel.com:99999/v2", "invalid"),
        ("https:///v2", "https://"),
    ],
)
def test_normalise_base_url_refuses(given: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        normalise_base_url(given)


def test_credentials_in_the_url_are_not_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        normalise_base_url("https://admin:s3cret-value@mixpanel.com/v2")
    assert "s3cret-value" not in str(caught.value)


SECRET = "tok-SECRET-1234567890"


def test_token_never_shows_in_repr_str_or_format() -> None:
    token = Token(SECRET)
    logged = "%s" % token  # noqa: UP031 - logging formats with %s
    for text in (repr(token), str(token), f"{token}", f"{token!r}", f"{[token]}", logged):
        assert SECRET not in text
        assert "Token(***)" in text
    assert token.reveal() == SECRET


def test_token_strips_the_newline_of_a_token_file() -> None:
    assert Token(f"  {SECRET}\n").reveal() == SECRET


@pytest.mark.parametrize("value", ["", "   \n", "abc def", "abc\r\nX-Evil: 1"])
def test_token_refuses_empty_or_header_breaking_values(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Token(value)
    assert "X-Evil" not in str(caught.value)


def test_token_cannot_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(Token(SECRET))
