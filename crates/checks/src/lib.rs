//! The check catalogue.
//!
//! A check is static metadata plus one behaviour ([`Check::run`]); every check is registered
//! once in [`CHECKS`]. Checks never see the HTTP client: they talk to a [`Probe`], which the
//! engine implements over the transport and tests implement with a scripted fake, so detection
//! logic is tested in milliseconds without a network.

pub mod authflow;
mod browser;
mod check;
mod checks;
mod explain;
mod json_walk;
pub mod jwk;
pub mod jwt;
pub mod jwt_crack;
pub mod llm;
pub mod malformed;
pub mod ownership;
mod probe;
mod session;
pub mod signatures;
pub mod similarity;
mod sqli;
pub mod stack;
pub mod stateful;
mod timing;
mod unlisted;

pub use check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx, RunOrder, Scope};
pub use explain::explain;
pub use probe::{
    Callback, CallbackHit, CheckSettings, IdentityInfo, LoopbackPorts, Overrides, OwnAccount,
    Probe, ProbeError,
};
pub use stack::fingerprint;

use middlebrick_model::CheckId;

/// Every check, in catalogue order. Adding a check: a file under `checks/`, a `CheckId`
/// variant, and one line here; the registry tests below enforce the rest.
pub static CHECKS: &[&dyn Check] = &[
    &checks::missing_authentication::MissingAuthentication,
    &checks::verbose_error::VerboseError,
    &checks::security_headers::SecurityHeaders,
    &checks::bola::Bola,
    &checks::bola_write::BolaWrite,
    &checks::bfla::Bfla,
    &checks::mass_assignment::MassAssignment,
    &checks::data_exposure::DataExposure,
    &checks::client_values::ClientValues,
    &checks::csrf_cookie_state_change::CsrfCookieStateChange,
    &checks::csrf_preflight_bypass::CsrfPreflightBypass,
    &checks::csrf_state_change_on_get::CsrfStateChangeOnGet,
    &checks::cors::Cors,
    &checks::sql_injection::SqlInjection,
    &checks::ssrf::Ssrf,
    &checks::dev_server::DevServer,
    &checks::replay_duplicates::ReplayDuplicates,
    &checks::race_condition::RaceCondition,
    &checks::jwt_none::JwtNone,
    &checks::jwt_signature::JwtSignature,
    &checks::jwt_weak_secret::JwtWeakSecret,
    &checks::jwt_alg_confusion::JwtAlgConfusion,
    &checks::jwt_kid_injection::JwtKidInjection,
    &checks::jwt_lifetime::JwtLifetime,
    &checks::cookie_flags::CookieFlags,
    &checks::session_fixation::SessionFixation,
    &checks::logout_ineffective::LogoutIneffective,
    &checks::weak_recovery::WeakRecovery,
    &checks::password_storage::PasswordStorage,
    &checks::weak_password_policy::WeakPasswordPolicy,
    &checks::credentials_in_url::CredentialsInUrl,
    &checks::user_enumeration::UserEnumeration,
    &checks::login_throttling::LoginThrottling,
    &checks::throttle_bypass::ThrottleBypass,
    &checks::single_request_dos::SingleRequestDos,
    &checks::uncapped_page_size::UncappedPageSize,
    &checks::slow_input::SlowInput,
    &checks::no_body_limit::NoBodyLimit,
    &checks::undocumented_route::UndocumentedRoute,
    &checks::old_version::OldVersion,
    &checks::deprecated_live::DeprecatedLive,
    &checks::llm_system_prompt_leak::SystemPromptLeak,
    &checks::llm_prompt_injection::PromptInjection,
    &checks::llm_sensitive_disclosure::SensitiveDisclosure,
    &checks::llm_excessive_agency::ExcessiveAgency,
    &checks::llm_unbounded_consumption::UnboundedConsumption,
    &checks::graphql_introspection::GraphqlIntrospection,
    &checks::graphql_console::GraphqlConsole,
    &checks::graphql_depth::GraphqlNoDepthLimit,
    &checks::graphql_alias_brute_force::GraphqlAliasBruteForce,
    &checks::graphql_csrf::GraphqlCsrf,
    // Last of all: it may reset the application (disposable mode only).
    &checks::anonymous_state_change::AnonymousStateChange,
];

pub fn by_id(id: CheckId) -> Option<&'static dyn Check> {
    CHECKS.iter().copied().find(|c| c.meta().id == id)
}

#[cfg(test)]
pub(crate) mod fake;

#[cfg(test)]
mod graphql_reads_tests;

#[cfg(test)]
mod registry_tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_every_id_is_registered() {
        let ids: HashSet<_> = CHECKS.iter().map(|c| c.meta().id).collect();
        assert_eq!(ids.len(), CHECKS.len(), "duplicate check id in CHECKS");
        for id in CheckId::ALL {
            assert!(ids.contains(id), "{id} has no registered check");
        }
    }

    #[test]
    fn metadata_is_complete() {
        let mut titles = HashSet::new();
        for c in CHECKS {
            let m = c.meta();
            assert!(!m.title.is_empty(), "{}: title", m.id);
            assert!(titles.insert(m.title), "{}: duplicate title", m.id);
            assert!(m.description.len() > 20, "{}: description", m.id);
            assert!(!m.cwe.is_empty(), "{}: CWE list", m.id);
            assert!(!m.owasp.is_empty(), "{}: OWASP list", m.id);
            assert!(m.remediation.generic.len() > 40, "{}: remediation", m.id);
            let techs: Vec<_> = m.remediation.variants.iter().map(|(t, _)| *t).collect();
            assert!(
                techs.contains(&middlebrick_model::Tech::Flask)
                    && techs.contains(&middlebrick_model::Tech::FastApi),
                "{}: remediation needs Flask and FastAPI variants",
                m.id
            );
        }
    }
}
