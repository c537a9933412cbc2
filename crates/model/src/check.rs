//! Identifiers and grades shared by checks, findings and reports.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! check_ids {
    (
        audit { $($avariant:ident => $aid:literal),+ $(,)? }
        $($variant:ident => $id:literal),+ $(,)?
    ) => {
        /// A check's stable identifier, serialised as `family.name`.
        ///
        /// It is the SARIF `ruleId`, the configuration key and the docs anchor, so it never
        /// changes once released; checks are never selected by their display title.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum CheckId {
            $($variant,)+
            $($avariant,)+
        }

        impl CheckId {
            /// Every id, in catalogue order.
            pub const ALL: &'static [CheckId] = &[$(CheckId::$variant),+];

            /// The static rules of `middlebrick audit` (no traffic; a spec's text only). Not in
            /// [`CheckId::ALL`]: no check in the scan catalogue implements them.
            pub const AUDIT: &'static [CheckId] = &[$(CheckId::$avariant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(CheckId::$variant => $id,)+
                    $(CheckId::$avariant => $aid,)+
                }
            }
        }

        impl FromStr for CheckId {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($id => Ok(CheckId::$variant),)+
                    $($aid => Ok(CheckId::$avariant),)+
                    other => Err(format!("unknown check id `{other}`")),
                }
            }
        }
    };
}

check_ids! {
    // `middlebrick audit`'s rules (crates/audit); scan checks go in the list after this block.
    audit {
        AuditNoSecurity => "audit.no-security",
        AuditUnusedScheme => "audit.unused-security-scheme",
        AuditCredentialInQuery => "audit.credential-in-query",
        AuditPlainHttpServer => "audit.plain-http-server",
        AuditUnboundedArray => "audit.unbounded-array",
        AuditUnboundedString => "audit.unbounded-string",
        AuditNoRateLimitResponse => "audit.no-rate-limit-response",
        AuditSeveralVersions => "audit.several-versions",
    }
    AuthMissingAuthentication => "auth.missing-authentication",
    InfoVerboseError => "info.verbose-error",
    TransportSecurityHeaders => "transport.security-headers",
    AuthzBola => "authz.bola",
    AuthzBolaWrite => "authz.bola-write",
    AuthzBfla => "authz.bfla",
    AuthzMassAssignment => "authz.mass-assignment",
    DesignClientControlledValues => "design.client-controlled-values",
    AuthzDataExposure => "authz.data-exposure",
    CsrfCookieStateChange => "csrf.cookie-state-change",
    CsrfPreflightBypass => "csrf.preflight-bypass",
    CsrfStateChangeOnGet => "csrf.state-change-on-get",
    CorsMisconfiguration => "cors.misconfiguration",
    InjectionSql => "injection.sql",
    InjectionSsrf => "injection.ssrf",
    TransportDevServer => "transport.dev-server",
    DesignReplayDuplicates => "design.replay-duplicates",
    DesignRaceCondition => "design.race-condition",
    AuthJwtNone => "auth.jwt-none",
    AuthJwtSignature => "auth.jwt-signature",
    AuthJwtWeakSecret => "auth.jwt-weak-secret",
    AuthJwtLifetime => "auth.jwt-lifetime",
    AuthJwtAlgConfusion => "auth.jwt-alg-confusion",
    AuthJwtKidInjection => "auth.jwt-kid-injection",
    AuthLoginThrottling => "auth.login-throttling",
    AuthThrottleBypass => "auth.throttle-bypass",
    AuthUserEnumeration => "auth.user-enumeration",
    AuthCookieFlags => "auth.cookie-flags",
    AuthSessionFixation => "auth.session-fixation",
    AuthLogoutIneffective => "auth.logout-ineffective",
    AuthWeakPasswordPolicy => "auth.weak-password-policy",
    AuthWeakRecovery => "auth.weak-recovery",
    AuthPasswordStorage => "auth.password-storage",
    AuthCredentialsInUrl => "auth.credentials-in-url",
    AvailabilitySingleRequestDos => "availability.single-request-dos",
    AuthAnonymousStateChange => "auth.anonymous-state-change",
    AvailabilityUncappedPageSize => "availability.uncapped-page-size",
    AvailabilityNoBodyLimit => "availability.no-body-limit",
    AvailabilitySlowInput => "availability.slow-input",
    InventoryUndocumentedRoute => "inventory.undocumented-route",
    InventoryOldVersion => "inventory.old-version",
    InventoryDeprecatedLive => "inventory.deprecated-live",
    LlmSystemPromptLeak => "llm.system-prompt-leak",
    LlmPromptInjection => "llm.prompt-injection",
    LlmSensitiveDisclosure => "llm.sensitive-disclosure",
    LlmExcessiveAgency => "llm.excessive-agency",
    LlmUnboundedConsumption => "llm.unbounded-consumption",
    GraphqlIntrospection => "graphql.introspection",
    GraphqlConsole => "graphql.console",
    GraphqlNoDepthLimit => "graphql.no-depth-limit",
    GraphqlAliasBruteForce => "graphql.alias-brute-force",
    GraphqlCsrf => "graphql.csrf",
}

impl CheckId {
    /// The family is the part before the dot (`auth`, `info`, …): the report's categories.
    pub fn family(self) -> &'static str {
        self.as_str().split('.').next().unwrap_or("")
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CheckId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How bad a finding is if true. Ordered: `Info < Low < … < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity `{other}` (expected critical, high, medium, low or info)"
            )),
        }
    }
}

/// How sure the evidence makes us. Ordered: `Tentative < Firm < Confirmed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// One signal, not yet corroborated; never reported above `low` severity by itself.
    Tentative,
    /// A differential observation (payload vs control) that was reproduced.
    Firm,
    /// The effect itself was observed (data read, state changed, code reached).
    Confirmed,
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Confidence::Tentative => "tentative",
            Confidence::Firm => "firm",
            Confidence::Confirmed => "confirmed",
        })
    }
}

/// OWASP categories a check maps to: the API Security Top 10 (2023 edition) and, for checks of
/// LLM-backed operations, the Top 10 for LLM Applications (2025 edition). Both serialise as the
/// code OWASP gives them (`API1:2023`, `LLM01:2025`), so every renderer shows them alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Owasp {
    #[serde(rename = "API1:2023")]
    Api1,
    #[serde(rename = "API2:2023")]
    Api2,
    #[serde(rename = "API3:2023")]
    Api3,
    #[serde(rename = "API4:2023")]
    Api4,
    #[serde(rename = "API5:2023")]
    Api5,
    #[serde(rename = "API6:2023")]
    Api6,
    #[serde(rename = "API7:2023")]
    Api7,
    #[serde(rename = "API8:2023")]
    Api8,
    #[serde(rename = "API9:2023")]
    Api9,
    #[serde(rename = "API10:2023")]
    Api10,
    #[serde(rename = "LLM01:2025")]
    Llm01,
    #[serde(rename = "LLM02:2025")]
    Llm02,
    #[serde(rename = "LLM03:2025")]
    Llm03,
    #[serde(rename = "LLM04:2025")]
    Llm04,
    #[serde(rename = "LLM05:2025")]
    Llm05,
    #[serde(rename = "LLM06:2025")]
    Llm06,
    #[serde(rename = "LLM07:2025")]
    Llm07,
    #[serde(rename = "LLM08:2025")]
    Llm08,
    #[serde(rename = "LLM09:2025")]
    Llm09,
    #[serde(rename = "LLM10:2025")]
    Llm10,
}

impl Owasp {
    pub fn code(self) -> &'static str {
        match self {
            Owasp::Api1 => "API1:2023",
            Owasp::Api2 => "API2:2023",
            Owasp::Api3 => "API3:2023",
            Owasp::Api4 => "API4:2023",
            Owasp::Api5 => "API5:2023",
            Owasp::Api6 => "API6:2023",
            Owasp::Api7 => "API7:2023",
            Owasp::Api8 => "API8:2023",
            Owasp::Api9 => "API9:2023",
            Owasp::Api10 => "API10:2023",
            Owasp::Llm01 => "LLM01:2025",
            Owasp::Llm02 => "LLM02:2025",
            Owasp::Llm03 => "LLM03:2025",
            Owasp::Llm04 => "LLM04:2025",
            Owasp::Llm05 => "LLM05:2025",
            Owasp::Llm06 => "LLM06:2025",
            Owasp::Llm07 => "LLM07:2025",
            Owasp::Llm08 => "LLM08:2025",
            Owasp::Llm09 => "LLM09:2025",
            Owasp::Llm10 => "LLM10:2025",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Owasp::Api1 => "Broken Object Level Authorization",
            Owasp::Api2 => "Broken Authentication",
            Owasp::Api3 => "Broken Object Property Level Authorization",
            Owasp::Api4 => "Unrestricted Resource Consumption",
            Owasp::Api5 => "Broken Function Level Authorization",
            Owasp::Api6 => "Unrestricted Access to Sensitive Business Flows",
            Owasp::Api7 => "Server Side Request Forgery",
            Owasp::Api8 => "Security Misconfiguration",
            Owasp::Api9 => "Improper Inventory Management",
            Owasp::Api10 => "Unsafe Consumption of APIs",
            Owasp::Llm01 => "Prompt Injection",
            Owasp::Llm02 => "Sensitive Information Disclosure",
            Owasp::Llm03 => "Supply Chain",
            Owasp::Llm04 => "Data and Model Poisoning",
            Owasp::Llm05 => "Improper Output Handling",
            Owasp::Llm06 => "Excessive Agency",
            Owasp::Llm07 => "System Prompt Leakage",
            Owasp::Llm08 => "Vector and Embedding Weaknesses",
            Owasp::Llm09 => "Misinformation",
            Owasp::Llm10 => "Unbounded Consumption",
        }
    }

    /// The list the category belongs to: `API Security Top 10 2023` or `Top 10 for LLM
    /// Applications 2025`.
    pub fn list(self) -> &'static str {
        if self.code().starts_with("LLM") {
            "Top 10 for LLM Applications 2025"
        } else {
            "API Security Top 10 2023"
        }
    }
}

/// What a check may do to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// Only looks at answers to requests the scan sends anyway (GET/HEAD/OPTIONS).
    Passive,
    /// Sends extra requests that change nothing: malformed input, other identities on reads.
    SafeActive,
    /// May create, change or delete data, only on objects the scanner itself created.
    StateChanging,
}

/// How far a scan may go; a check runs only when `kind` is allowed by the mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Passive,
    #[default]
    Safe,
    Active,
    /// For disposable environments only: state-changing checks may act on any object, the
    /// configured identities' own existing objects and accounts included, and reads named for
    /// a state change are sent (once). DELETE still needs `allow_delete`.
    Disposable,
}

impl Mode {
    pub fn allows(self, kind: CheckKind) -> bool {
        match kind {
            CheckKind::Passive => true,
            CheckKind::SafeActive => self >= Mode::Safe,
            CheckKind::StateChanging => self >= Mode::Active,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Passive => "passive",
            Mode::Safe => "safe",
            Mode::Active => "active",
            Mode::Disposable => "disposable",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_ids_round_trip_and_are_family_dot_name() {
        for id in CheckId::ALL.iter().chain(CheckId::AUDIT) {
            let s = id.as_str();
            assert_eq!(s.parse::<CheckId>().unwrap(), *id);
            let (family, name) = s.split_once('.').expect("family.name");
            assert!(!family.is_empty() && !name.is_empty());
            assert_eq!(serde_json::to_string(id).unwrap(), format!("\"{s}\""));
        }
        assert!("auth.nope".parse::<CheckId>().is_err());
    }

    #[test]
    fn owasp_codes_serialise_as_named_and_name_their_list() {
        for (o, code) in [(Owasp::Api4, "API4:2023"), (Owasp::Llm07, "LLM07:2025")] {
            assert_eq!(o.code(), code);
            assert_eq!(serde_json::to_string(&o).unwrap(), format!("\"{code}\""));
            assert_eq!(
                serde_json::from_str::<Owasp>(&format!("\"{code}\"")).unwrap(),
                o
            );
        }
        assert_eq!(Owasp::Llm10.title(), "Unbounded Consumption");
        assert!(Owasp::Llm01.list().contains("LLM"));
        assert!(Owasp::Api10.list().contains("API"));
    }

    #[test]
    fn modes_allow_kinds_in_order() {
        assert!(Mode::Passive.allows(CheckKind::Passive));
        assert!(!Mode::Passive.allows(CheckKind::SafeActive));
        assert!(Mode::Safe.allows(CheckKind::SafeActive));
        assert!(!Mode::Safe.allows(CheckKind::StateChanging));
        assert!(Mode::Active.allows(CheckKind::StateChanging));
        assert!(Mode::Disposable.allows(CheckKind::StateChanging));
        assert!(Mode::Disposable > Mode::Active);
    }

    #[test]
    fn severity_orders_and_parses() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Low > Severity::Info);
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("severe".parse::<Severity>().is_err());
    }
}
