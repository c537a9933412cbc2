//! (placeholder)
use crate::refs::Docs;
pub(crate) fn prefetch(_docs: &mut Docs) {}
