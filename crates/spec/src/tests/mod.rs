//! End-to-end tests of whole (small, hand-written) specs, by concern, and their helpers: a
//! temporary directory (removed on drop) without an extra dependency, and inventory lookups.

mod files;
mod hostile;
mod openapi3;
mod robustness;
mod swagger2;

use middlebrick_model::{Inventory, Operation};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug)]
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "middlebrick-spec-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `content` at `rel` (creating folders) and returns the full path.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The operation with that key (`GET /items`); panics with the keys present otherwise.
pub(crate) fn op<'a>(inv: &'a Inventory, key: &str) -> &'a Operation {
    inv.operations
        .iter()
        .find(|o| o.key() == key)
        .unwrap_or_else(|| {
            let keys: Vec<String> = inv.operations.iter().map(Operation::key).collect();
            panic!("no operation {key}; have {keys:?}")
        })
}

/// Diagnostic codes, in order.
pub(crate) fn codes(inv: &Inventory) -> Vec<&str> {
    inv.diagnostics.iter().map(|d| d.code.as_str()).collect()
}
