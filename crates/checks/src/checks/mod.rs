//! One file per check, each with its tests.

pub mod bfla;
pub mod bola;
pub mod bola_write;
pub mod client_values;
pub mod cors;
pub mod csrf_cookie_state_change;
pub mod csrf_preflight_bypass;
pub mod csrf_state_change_on_get;
pub mod data_exposure;
pub mod dev_server;
pub mod jwt_lifetime;
pub mod jwt_none;
pub mod jwt_signature;
pub mod jwt_weak_secret;
pub mod mass_assignment;
pub mod missing_authentication;
pub mod race_condition;
pub mod replay_duplicates;
pub mod security_headers;
pub mod sql_injection;
pub mod verbose_error;
