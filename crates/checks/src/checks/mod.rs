//! One file per check, each with its tests.

pub mod bfla;
pub mod bola;
pub mod bola_write;
pub mod data_exposure;
pub mod mass_assignment;
pub mod missing_authentication;
pub mod security_headers;
pub mod verbose_error;
