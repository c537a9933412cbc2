//! Documents and `$ref`s: the root, every file it references (each read and parsed once), and
//! the resolution of a reference to a (document, JSON pointer) pair.
//!
//! Documents are held as `Arc<Value>` so a caller can keep a resolved node alive while the
//! store loads more files; nothing is cloned out of a document except small leaf values.
//!
//! Spec files stay in their folder (issue 16, rule 6): a spec is input we did not write, and a
//! value read from a referenced file may be sent to the target. So a file reference is read
//! only when it resolves (symbolic links followed) to a regular file inside the root spec's
//! folder, no larger than [`MAX_FILE_BYTES`], while all files read stay under
//! [`MAX_TOTAL_BYTES`]. Absolute paths, `..` out of the folder, `/proc`, devices and FIFOs are
//! refused with an error naming the reference. Remote references are never fetched.

use crate::parse;
use middlebrick_model::Diagnostic;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The largest spec file read, the root included.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// The most bytes read over all files one spec references.
pub const MAX_TOTAL_BYTES: u64 = 128 * 1024 * 1024;

pub(crate) type DocId = usize;

/// Why an operation (or a part of one) could not be read; becomes a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Broken(pub String);

impl Broken {
    pub fn new(message: impl Into<String>) -> Self {
        Broken(message.into())
    }

    /// Prefixes where the problem is (`property \`id\``, `response \`200\``), innermost last.
    pub fn within(self, place: impl std::fmt::Display) -> Self {
        Broken(format!("{place}: {}", self.0))
    }
}

/// Where a referenced node lives: a document and a decoded JSON pointer (`/components/schemas/X`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub doc: DocId,
    pub pointer: String,
}

#[derive(Debug)]
pub(crate) enum RefError {
    /// A reference to a URL, or to another file when the spec came as bytes: not followed.
    External(String),
    Broken(Broken),
}

impl From<RefError> for Broken {
    fn from(e: RefError) -> Broken {
        match e {
            RefError::External(r) => Broken(format!(
                "`$ref: {r}` points to another document, which is not followed here"
            )),
            RefError::Broken(b) => b,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Doc {
    pub value: Arc<Value>,
    /// The file it was read from; `None` for a spec given as bytes.
    pub path: Option<PathBuf>,
    pub label: String,
}

/// A node that is either borrowed from the caller's document or held in another one.
#[derive(Debug)]
pub(crate) enum Held<'a> {
    Here(&'a Value),
    There(Arc<Value>, String),
}

static NULL: Value = Value::Null;

impl Held<'_> {
    pub fn get(&self) -> &Value {
        match self {
            Held::Here(v) => v,
            Held::There(doc, ptr) => pointer(doc, ptr).unwrap_or(&NULL),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Docs {
    docs: Vec<Doc>,
    by_path: HashMap<PathBuf, Result<DocId, String>>,
    external_noted: HashSet<String>,
    /// The root spec's folder, resolved: the only tree referenced files are read from.
    root_dir: Option<PathBuf>,
    /// Bytes of referenced files read so far.
    read_bytes: u64,
    pub diagnostics: Vec<Diagnostic>,
}

impl Docs {
    pub fn new(root: Value, label: &str, path: Option<&Path>) -> Self {
        let path = path.map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| normalize(p)));
        let root_dir = path
            .as_ref()
            .and_then(|p| p.parent())
            .map(Path::to_path_buf);
        let mut by_path = HashMap::new();
        if let Some(p) = &path {
            by_path.insert(p.clone(), Ok(0));
        }
        Docs {
            docs: vec![Doc {
                value: Arc::new(root),
                path,
                label: label.to_string(),
            }],
            by_path,
            external_noted: HashSet::new(),
            root_dir,
            read_bytes: 0,
            diagnostics: Vec::new(),
        }
    }

    pub fn doc(&self, id: DocId) -> &Doc {
        &self.docs[id]
    }

    /// Records a file's parse result under its normalized path (errors once, as diagnostics).
    fn insert_parsed(&mut self, path: PathBuf, parsed: Result<Value, String>) {
        if self.by_path.contains_key(&path) {
            return;
        }
        let entry = match parsed {
            Ok(value) => {
                self.docs.push(Doc {
                    value: Arc::new(value),
                    label: path.display().to_string(),
                    path: Some(path.clone()),
                });
                Ok(self.docs.len() - 1)
            }
            Err(e) => {
                self.broken_file(&path, &e);
                Err(e)
            }
        };
        self.by_path.insert(path, entry);
    }

    /// Resolves `reference`, found in document `from`, loading the file it names if needed.
    /// The target node is checked to exist.
    pub fn resolve(&mut self, from: DocId, reference: &str) -> Result<Key, RefError> {
        let (file, fragment) = split_ref(reference);
        let pointer = percent_decode(fragment);
        let doc = if file.is_empty() {
            from
        } else {
            let Some(path) = self.file_target(from, file) else {
                self.note_external(reference, file);
                return Err(RefError::External(reference.to_string()));
            };
            let path = self.contain(reference, &path).map_err(RefError::Broken)?;
            self.load_file(path).map_err(RefError::Broken)?
        };
        let key = Key { doc, pointer };
        if pointer_exists(&self.docs[doc].value, &key.pointer) {
            Ok(key)
        } else {
            Err(RefError::Broken(Broken(format!(
                "`$ref: {reference}`: {} has nothing at `#{}`",
                self.docs[doc].label, key.pointer
            ))))
        }
    }

    /// One warning per distinct reference that is not followed.
    fn note_external(&mut self, reference: &str, file: &str) {
        if !self.external_noted.insert(reference.to_string()) {
            return;
        }
        let hint = if has_scheme(file) {
            "remote references are not fetched; a local copy referenced by a relative path is"
        } else {
            "load the spec from a local file so that its relative references can be followed"
        };
        self.diagnostics.push(
            Diagnostic::warning(
                "spec.external-ref",
                format!("`$ref: {reference}` points to another document, which was not loaded"),
            )
            .hint(hint),
        );
    }

    /// The node a key names (`Value::Null` if it vanished, which `resolve` rules out).
    pub fn held(&self, key: &Key) -> Held<'static> {
        Held::There(self.docs[key.doc].value.clone(), key.pointer.clone())
    }

    /// The file a reference's file part names, relative to the referring document; `None`
    /// for URLs and when the referring document has no file (a spec given as bytes).
    pub fn file_target(&self, from: DocId, file: &str) -> Option<PathBuf> {
        if has_scheme(file) {
            return None;
        }
        let base = self.docs[from].path.as_ref()?;
        let dir = base.parent().unwrap_or(Path::new(""));
        Some(normalize(&dir.join(percent_decode(file))))
    }

    /// The file `path` resolves to, if the reference may be read: a regular file inside the
    /// root's folder, within the size caps. Otherwise an error naming the reference, also kept
    /// as a diagnostic (once per file).
    fn contain(&mut self, reference: &str, path: &Path) -> Result<PathBuf, Broken> {
        let refuse = |docs: &mut Docs, why: String| {
            let message = format!("`$ref: {reference}` {why}; not read");
            if docs
                .external_noted
                .insert(format!("contain:{}", path.display()))
            {
                docs.diagnostics
                    .push(Diagnostic::error("spec.ref-refused", message.clone()).hint(
                        "a spec's references are read only from files inside its own folder",
                    ));
            }
            Err(Broken(message))
        };
        let Some(root) = self.root_dir.clone() else {
            return refuse(self, "has no folder to resolve in".into());
        };
        let resolved = match std::fs::canonicalize(path) {
            Ok(p) => p,
            // Missing: reading it fails with the usual broken-file diagnostic, as long as its
            // spelling stays inside the folder.
            Err(_) if path.starts_with(&root) => return Ok(path.to_path_buf()),
            Err(_) => {
                return refuse(
                    self,
                    format!("is outside the spec's folder {}", root.display()),
                )
            }
        };
        if !resolved.starts_with(&root) {
            return refuse(
                self,
                format!(
                    "resolves to {}, outside the spec's folder {}",
                    resolved.display(),
                    root.display()
                ),
            );
        }
        if self.by_path.contains_key(&resolved) {
            return Ok(resolved);
        }
        let meta = match std::fs::metadata(&resolved) {
            Ok(m) => m,
            Err(e) => return Err(Broken(format!("cannot read {}: {e}", resolved.display()))),
        };
        if !meta.is_file() {
            return refuse(self, "is not a regular file".into());
        }
        if meta.len() > MAX_FILE_BYTES {
            return refuse(
                self,
                format!(
                    "is {} bytes, over the {MAX_FILE_BYTES}-byte cap per file",
                    meta.len()
                ),
            );
        }
        if self.read_bytes + meta.len() > MAX_TOTAL_BYTES {
            return refuse(
                self,
                format!("would take the files read past the {MAX_TOTAL_BYTES}-byte cap"),
            );
        }
        self.read_bytes += meta.len();
        Ok(resolved)
    }

    fn load_file(&mut self, path: PathBuf) -> Result<DocId, Broken> {
        if let Some(entry) = self.by_path.get(&path) {
            return entry.clone().map_err(Broken);
        }
        let parsed = read_and_parse(&path);
        self.insert_parsed(path.clone(), parsed);
        match self.by_path.get(&path) {
            Some(Ok(id)) => Ok(*id),
            Some(Err(e)) => Err(Broken(e.clone())),
            None => Err(Broken(format!("{} could not be loaded", path.display()))),
        }
    }

    fn broken_file(&mut self, path: &Path, message: &str) {
        self.diagnostics.push(
            Diagnostic::error("spec.broken-file", message.to_string()).hint(format!(
                "operations that reference {} are skipped",
                path.display()
            )),
        );
    }
}

/// Reads and parses a referenced file; the error names the file.
pub(crate) fn read_and_parse(path: &Path) -> Result<Value, String> {
    let bytes = read_capped(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse::parse(&bytes, &path.display().to_string()).map_err(|e| e.to_string())
}

/// Reads at most [`MAX_FILE_BYTES`] of a file, whatever its size says (a file that grows while
/// read, or a device named on the command line, is refused rather than read without end).
pub(crate) fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than the {MAX_FILE_BYTES}-byte cap per spec file"
        )));
    }
    Ok(bytes)
}

/// `file#fragment` -> (`file`, `fragment`); either may be empty.
pub(crate) fn split_ref(reference: &str) -> (&str, &str) {
    match reference.split_once('#') {
        Some((file, fragment)) => (file, fragment),
        None => (reference, ""),
    }
}

fn has_scheme(s: &str) -> bool {
    match s.split_once(':') {
        // A one-letter "scheme" is a Windows drive (`C:\specs\x.yaml`).
        Some((scheme, _)) => {
            scheme.len() > 1
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// Lexical normalization (`a/./b/../c` -> `a/c`), so one file reached by two spellings is
/// parsed once, without a filesystem call per reference.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                let popped =
                    matches!(out.components().next_back(), Some(Component::Normal(_))) && out.pop();
                if !popped && !matches!(out.components().next_back(), Some(Component::RootDir)) {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Decodes `%XX` escapes; malformed escapes are kept as written.
pub(crate) fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Escapes one JSON-pointer token (`/` -> `~1`, `~` -> `~0`).
pub(crate) fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn unescape_token(token: &str) -> std::borrow::Cow<'_, str> {
    if token.contains('~') {
        token.replace("~1", "/").replace("~0", "~").into()
    } else {
        token.into()
    }
}

/// Follows a decoded JSON pointer. A missing leading `/` is tolerated (`#components/...`).
pub(crate) fn pointer<'a>(root: &'a Value, ptr: &str) -> Option<&'a Value> {
    let ptr = ptr.strip_prefix('/').unwrap_or(ptr);
    if ptr.is_empty() {
        return Some(root);
    }
    let mut node = root;
    for raw in ptr.split('/') {
        let token = unescape_token(raw);
        node = match node {
            Value::Object(map) => map.get(token.as_ref())?,
            Value::Array(items) => items.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

fn pointer_exists(root: &Value, ptr: &str) -> bool {
    pointer(root, ptr).is_some()
}

/// A readable name for what a key points at: the last pointer token, or the file stem for a
/// whole-file reference (`models/droplet.yml` -> `droplet`).
pub(crate) fn key_name(docs: &Docs, key: &Key) -> String {
    let last = key
        .pointer
        .rsplit('/')
        .next()
        .filter(|t| !t.is_empty())
        .map(|t| unescape_token(t).into_owned());
    last.or_else(|| {
        docs.doc(key.doc)
            .path
            .as_ref()
            .and_then(|p| p.file_stem())
            .map(|s| s.to_string_lossy().into_owned())
    })
    .unwrap_or_else(|| docs.doc(key.doc).label.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_unescape_tokens_and_index_arrays() {
        let doc = json!({"paths": {"/a/{id}": {"get": 1}}, "x~y": [10, 20]});
        assert_eq!(pointer(&doc, "/paths/~1a~1{id}/get"), Some(&json!(1)));
        assert_eq!(pointer(&doc, "/x~0y/1"), Some(&json!(20)));
        assert_eq!(pointer(&doc, ""), Some(&doc));
        assert_eq!(pointer(&doc, "/x~0y/7"), None);
        assert_eq!(pointer(&doc, "/paths/nope"), None);
        assert_eq!(escape_token("/a~b"), "~1a~0b");
    }

    #[test]
    fn percent_decoding_is_lenient() {
        assert_eq!(percent_decode("/paths/~1a%7Bid%7D"), "/paths/~1a{id}");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é");
    }

    #[test]
    fn paths_normalize_lexically() {
        assert_eq!(
            normalize(Path::new("a/./b/../c.yml")),
            PathBuf::from("a/c.yml")
        );
        assert_eq!(
            normalize(Path::new("../x/../../y")),
            PathBuf::from("../../y")
        );
        assert_eq!(normalize(Path::new("/r/../../y")), PathBuf::from("/y"));
    }

    #[test]
    fn refs_split_and_urls_are_recognized() {
        assert_eq!(split_ref("a.yml#/X"), ("a.yml", "/X"));
        assert_eq!(split_ref("#/X"), ("", "/X"));
        assert_eq!(split_ref("a.yml"), ("a.yml", ""));
        assert!(has_scheme("https://example.com/x.json"));
        assert!(!has_scheme("C:/specs/x.json"));
        assert!(!has_scheme("../x.json"));
    }

    #[test]
    fn bytes_documents_do_not_follow_files() {
        let mut docs = Docs::new(json!({"a": 1}), "https://x/spec.json", None);
        assert!(matches!(
            docs.resolve(0, "other.json#/a"),
            Err(RefError::External(_))
        ));
        assert!(matches!(
            docs.resolve(0, "other.json#/a"),
            Err(RefError::External(_))
        ));
        assert_eq!(docs.diagnostics.len(), 1, "noted once");
        assert!(docs.resolve(0, "#/a").is_ok());
        assert!(matches!(docs.resolve(0, "#/b"), Err(RefError::Broken(_))));
    }
}
