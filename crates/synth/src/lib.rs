//! Valid requests from operation schemas, naming objects that exist.
//!
//! A scanner's checks only reach real code paths when the API accepts their requests: a 400
//! for a missing field or a 404 for an invented id tests nothing. This crate builds, for any
//! operation, a request that satisfies its schemas ([`synthesize`], [`value_for_schema`]),
//! fills ids with values seen in earlier answers ([`IdPool`]), and makes deliberately wrong
//! values for malformed-input probes ([`wrong_type_value`]). It keys on schemas, names and
//! conventions, never on a particular application's routes.
//!
//! Pure code: no I/O, no async, deterministic for the same inputs.

mod convention;
mod fits;
mod harvest;
mod names;
mod path;
mod pattern;
mod pool;
mod request;
mod value;
mod wrong;

pub use path::fill_path;
pub use pool::{IdPool, MAX_VALUES, PER_KEY};
pub use request::{synthesize, Overrides};
pub use value::{value_for_property, value_for_schema};
pub use wrong::{wrong_type_value, Slot, WRONG_MARKER};

#[cfg(test)]
mod conformance_tests;
