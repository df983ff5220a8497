"""The target profile: everything that makes this tool about Mixpanel, in one value.

SCIM 2.0 (RFC 7643/7644) is generic; what is not is *which* service the tool talks to:
the environment variables people set, the default base URL, the word used for the
product in messages, the advice given when the service refuses (401, a 409 for an
account outside the org, a domain that is not claimed), how the service compares
names, and the markers and labels the GitOps jobs leave on pull requests and issues.
``MIXPANEL`` holds Mixpanel's; the layers that need one of them take a
``TargetProfile`` (defaulting to ``MIXPANEL``) instead of spelling the value out, so
supporting another SCIM service is a new profile, not a hunt through the code.

Pure data: no I/O, no imports from the rest of the package (every layer may use it).
Must not hold anything per run (URLs chosen by flags, tokens, limits): those live in
``settings.Target``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MIXPANEL", "PRODUCT", "TargetProfile"]


@dataclass(frozen=True)
class TargetProfile:
    """One SCIM service's names, defaults and advice (see the module docstring).

    ``product``: the noun for the service in messages ("Mixpanel").
    ``token_env``/``url_env``: the environment variables holding the SCIM token and the
    base URL. ``default_url``: the base URL when neither a flag nor ``url_env`` gives one.
    ``scim_path``: the path every base URL of the service ends with; ``example_urls``:
    real base URLs quoted when a URL does not look like one.
    ``token_page``/``domain_page``: where in the service's UI a token is generated and a
    domain claimed, quoted in the fixes.
    ``user_names_case_exact``/``team_names_case_exact``: the service's comparison rules
    (RFC 7643 §4.1.1 makes ``userName`` caseExact=false; Mixpanel team names are exact
    labels), which ``reconciler.identity`` implements and a test holds it to.
    ``marker_prefix``: the HTML comment markers' prefix on PR comments and issues (never
    change it for an existing profile: old comments would no longer be found).
    ``drift_label``: the label of the drift issue. ``user_agent``: the HTTP client name.
    """

    product: str
    token_env: str
    url_env: str
    default_url: str
    scim_path: str
    example_urls: tuple[str, ...]
    token_page: str
    domain_page: str
    user_names_case_exact: bool
    team_names_case_exact: bool
    marker_prefix: str
    drift_label: str
    user_agent: str

    # -- advice (what to do when the service refuses) --
    @property
    def new_credential_advice(self) -> str:
        """The 401 advice: check first, and know that a new token revokes the old one."""
        return (
            "check the token first with `reconciler doctor`; only if it is really invalid, "
            f"generate a new token in {self.product} {self.token_page}: "
            "generating one revokes the previous token (the current one) everywhere it is used"
        )

    @property
    def auth_hint(self) -> str:
        """Said with every 401: the token was refused."""
        return f"the SCIM token was refused: {self.new_credential_advice}"

    @property
    def forbidden_list_hint(self) -> str:
        """Said with a 403 to a listing: the token cannot read the org at all."""
        return (
            "the server refuses to list its accounts, so every request is refused: "
            f"{self.new_credential_advice}"
        )

    @property
    def missing_token_fix(self) -> str:
        """Where a token comes from, for a run that has none."""
        return f"generate one in {self.product}: {self.token_page}"

    @property
    def outside_org_fix(self) -> str:
        """The fix for a 409 on an account the service holds outside this org."""
        return f"fix: invite the user by hand in {self.product}, or remove them from the manifest"

    @property
    def outside_org_hint(self) -> str:
        """The 409 "outside the org" explanation; ``{email}`` is filled in by the caller."""
        return (
            f"{{email}} already has a {self.product} account outside this organization, so "
            f"SCIM cannot provision it; {self.outside_org_fix}"
        )

    @property
    def unclaimed_domain_fix(self) -> str:
        """The fix for a 400 because the email's domain is not claimed by the org."""
        return (
            f"fix: claim the email's domain in {self.product} ({self.domain_page}) "
            "or remove the user from the manifest"
        )

    @property
    def base_url_hint(self) -> str:
        """Said when a URL answers but not like a SCIM endpoint of this service."""
        examples = ", ".join(self.example_urls)
        return (
            f"this does not look like a SCIM endpoint: {self.product}'s base URL ends with "
            f"{self.scim_path} (e.g. {examples}); check --url or {self.url_env}"
        )

    # -- markers the GitOps jobs leave behind --
    def marker(self, kind: str, key: str | None = None) -> str:
        """The HTML comment marking a ``kind`` ("plan", "drift") object, per org if keyed."""
        suffix = kind if key is None else f"{kind}:{key}"
        return f"<!-- {self.marker_prefix}:{suffix} -->"

    def marker_family(self, kind: str) -> str:
        """A regular expression matching every ``kind`` marker, keyed or not (and its newline)."""
        return rf"<!-- {self.marker_prefix}:{kind}(?::[^\s>]*)? -->\n?"


_MIXPANEL_PATH = "/api/app/scim/v2"

MIXPANEL = TargetProfile(
    product="Mixpanel",
    token_env="MIXPANEL_SCIM_TOKEN",  # noqa: S106 - the variable's name, not a secret
    url_env="MIXPANEL_SCIM_URL",
    default_url=f"https://mixpanel.com{_MIXPANEL_PATH}",
    scim_path=_MIXPANEL_PATH,
    example_urls=(
        f"https://mixpanel.com{_MIXPANEL_PATH}",
        f"https://eu.mixpanel.com{_MIXPANEL_PATH}",
    ),
    token_page="Organization Settings > Access Security > SCIM",  # noqa: S106 - a UI path
    domain_page="Organization Settings > Access Security > Domain Claim",
    user_names_case_exact=False,
    team_names_case_exact=True,
    marker_prefix="mixpanel-scim-reconciler",
    drift_label="mixpanel-drift",
    user_agent="mixpanel-scim-reconciler",
)
"""Mixpanel's organization SCIM API (the only profile shipped)."""

PRODUCT = MIXPANEL.product
"""The product noun in messages ("Mixpanel"), for the layers that word things and take no
profile; a run's own profile (``settings.Target.profile``) is used where one is at hand."""
