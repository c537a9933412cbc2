//! One file per check, each with its tests.

pub mod missing_authentication;
pub mod security_headers;
pub mod verbose_error;
