//! Helpers for tests: temporary directories without an extra dependency.
