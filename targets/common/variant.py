"""The one switch between the vulnerable and the secure build of a target.

Every planted flaw is guarded by `planted("<check id>")`, so `grep -rn planted(` lists them all, and each
site names the scanner check that should find it (the same id as in the app's groundtruth.toml).
"""

import os

VARIANTS = ("vulnerable", "secure")

# Check ids a flaw may be planted for. A typo in a guard must fail loudly rather than silently
# turn a flaw off (or on).
KNOWN_CHECKS = frozenset(
    {
        "auth.missing-authentication",
        "availability.no-body-limit",
        "availability.uncapped-page-size",
        "availability.slow-input",
        "inventory.old-version",
        "inventory.undocumented-route",
        "authz.bfla",
        "authz.bola",
        "authz.bola-write",
        "authz.data-exposure",
        "authz.mass-assignment",
        "auth.jwt-lifetime",
        "auth.login-throttling",
        "auth.throttle-bypass",
        "auth.user-enumeration",
        "auth.cookie-flags",
        "auth.session-fixation",
        "auth.logout-ineffective",
        "auth.weak-password-policy",
        "auth.weak-recovery",
        "auth.password-storage",
        "auth.credentials-in-url",
        "auth.jwt-signature",
        "auth.jwt-none",
        "auth.jwt-weak-secret",
        "auth.jwt-alg-confusion",
        "auth.jwt-kid-injection",
        "auth.anonymous-state-change",
        "cors.misconfiguration",
        "csrf.cookie-state-change",
        "csrf.preflight-bypass",
        "csrf.state-change-on-get",
        "design.client-controlled-values",
        "design.race-condition",
        "graphql.alias-brute-force",
        "graphql.console",
        "graphql.csrf",
        "graphql.introspection",
        "graphql.no-depth-limit",
        "design.replay-duplicates",
        "info.verbose-error",
        "injection.sql",
        "injection.ssrf",
        "llm.excessive-agency",
        "llm.prompt-injection",
        "llm.sensitive-disclosure",
        "llm.system-prompt-leak",
        "llm.unbounded-consumption",
        "transport.dev-server",
        "transport.security-headers",
    }
)


def current() -> str:
    value = os.environ.get("MB_VARIANT", "")
    if value not in VARIANTS:
        raise RuntimeError(f"MB_VARIANT must be one of {VARIANTS}, got {value!r}")
    return value


def planted(check_id: str) -> bool:
    """True when the flaw a scanner reports as `check_id` is present at the calling site."""
    if check_id not in KNOWN_CHECKS:
        raise ValueError(f"unknown check id {check_id!r}")
    return current() == "vulnerable"

