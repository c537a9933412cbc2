//! Where the API lives: the base URL that operation paths are joined to, checked against the
//! target's own answers before the scan relies on it.
//!
//! A spec says where its API is (`servers`, Swagger 2 `basePath`), but specs served by
//! frameworks and generators often say it wrongly: a relative or empty server, a production
//! host, a base path the proxy strips. Scanning under a wrong base turns every request into a
//! 404 and the report into a clean one, so the base is verified the way feroxbuster verifies
//! "found": learn what "not found" looks like under a candidate base (a random path), then send
//! a few harmless documented reads and see whether any answers differently. When none does
//! under the spec's base but some do under another candidate (the target URL as given, the
//! origin root, the folder the document was served from), the scan switches and says why.
//!
//! Budget: one not-found probe plus at most [`SAMPLES`] reads per candidate examined, and the
//! later candidates only when the first shows no operation at all: 4 requests on an API whose
//! base is right, at most 20 in all.

use middlebrick_http::{Outgoing, Transport};
use middlebrick_model::{Diagnostic, Exchange, Inventory, Method, Operation, ANONYMOUS};
use url::Url;

/// Documented reads sent under each candidate base.
const SAMPLES: usize = 3;

/// What "not found" looks like under one base: the status and body answered for a path that
/// cannot exist, with that path taken out of the body (frameworks echo it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    status: u16,
    body: String,
}

impl NotFound {
    fn from_exchange(ex: &Exchange) -> Option<NotFound> {
        let resp = ex.response.as_ref()?;
        Some(NotFound {
            status: resp.status,
            body: without_request_path(ex, &resp.body.text),
        })
    }
}

/// True when `ex` got a real answer from an operation: any status but 404 and 405, and not the
/// same answer a path that cannot exist gets (an SPA's catch-all page, a not-found envelope).
pub fn answered_for_real(ex: &Exchange, not_found: Option<&NotFound>) -> bool {
    let Some(resp) = ex.response.as_ref() else {
        return false;
    };
    if matches!(resp.status, 404 | 405) {
        return false;
    }
    match not_found {
        Some(nf) => {
            nf.status != resp.status || nf.body != without_request_path(ex, &resp.body.text)
        }
        None => true,
    }
}

fn without_request_path(ex: &Exchange, body: &str) -> String {
    let path = Url::parse(&ex.request.url)
        .map(|u| u.path().to_string())
        .unwrap_or_default();
    let mut out = body.to_string();
    if path.len() > 1 {
        out = out.replace(&path, "");
    }
    out
}

/// The base the scan uses, what "not found" looks like under it, and what the user should know.
#[derive(Debug)]
pub struct BaseChoice {
    pub base: Url,
    pub not_found: Option<NotFound>,
    pub diagnostics: Vec<Diagnostic>,
}

/// The URL operation paths are joined to: the target, plus the spec's base path unless the
/// target already ends with it.
pub fn probe_base(target: &Url, base_path: &str) -> Url {
    let mut base = target.clone();
    let current = target.path().trim_end_matches('/').to_string();
    if !base_path.is_empty() && !current.ends_with(base_path) {
        base.set_path(&format!("{current}{base_path}"));
    }
    base
}

/// Candidate bases in the order they are believed: the target plus the spec's base path, the
/// target as given, the origin root plus the base path, the folder the document came from (on
/// the target's origin), the origin root. Each with why it is a candidate. When the target's
/// own path is the path of one of the spec's servers (a spec that lists several APIs side by
/// side, one per version or level), the user chose that server: the target comes first.
fn candidates(
    target: &Url,
    base_path: &str,
    spec_url: Option<&Url>,
    servers: &[String],
) -> Vec<(Url, String)> {
    let mut out: Vec<(Url, String)> = Vec::new();
    let mut push = |u: Url, why: String| {
        let key = u.as_str().trim_end_matches('/').to_string();
        if !out
            .iter()
            .any(|(o, _)| o.as_str().trim_end_matches('/') == key)
        {
            out.push((u, why));
        }
    };
    let mut root = target.clone();
    root.set_path("/");
    root.set_query(None);
    let own = target.path().trim_end_matches('/');
    if !own.is_empty() && servers.iter().any(|s| server_path(s) == own) {
        push(
            target.clone(),
            "the target URL, one of the spec's servers".into(),
        );
    }
    push(
        probe_base(target, base_path),
        if base_path.is_empty() {
            "the target URL".into()
        } else {
            format!("the target URL plus the spec's base path {base_path}")
        },
    );
    push(target.clone(), "the target URL as given".into());
    if !base_path.is_empty() {
        push(
            probe_base(&root, base_path),
            format!("the origin root plus the spec's base path {base_path}"),
        );
    }
    if let Some(spec) = spec_url.filter(|s| s.origin() == target.origin()) {
        if let Ok(folder) = spec.join("./") {
            push(folder, "the folder the spec was served from".into());
        }
    }
    push(root, "the origin root".into());
    out
}

/// The path of a server URL, absolute or relative, without a trailing slash.
fn server_path(server: &str) -> &str {
    let path = match server.find("://") {
        Some(i) => server[i + 3..]
            .find('/')
            .map_or("", |j| &server[i + 3 + j..]),
        None => server,
    };
    path.split(['?', '#'])
        .next()
        .unwrap_or("")
        .trim_end_matches('/')
}

/// Up to [`SAMPLES`] documented reads without path parameters whose path reads as harmless,
/// spread over the spec (first, middle, last).
fn samples(inv: &Inventory) -> Vec<&Operation> {
    let reads: Vec<&Operation> = inv
        .operations
        .iter()
        .filter(|o| o.method == Method::Get && !o.path.contains('{') && is_harmless(o))
        .collect();
    let n = reads.len();
    let mut picks: Vec<usize> = vec![0, n / 2, n.saturating_sub(1)];
    picks.dedup();
    picks
        .into_iter()
        .filter(|i| *i < n)
        .take(SAMPLES)
        .map(|i| reads[i])
        .collect()
}

fn is_harmless(op: &Operation) -> bool {
    !middlebrick_model::danger::is_dangerous_read(op)
}

fn anonymous_get(url: Url) -> Outgoing {
    Outgoing {
        method: Method::Get,
        url,
        headers: vec![("Accept".into(), "application/json, */*;q=0.5".into())],
        credentials: Vec::new(),
        body: None,
        identity: ANONYMOUS.into(),
        follow_redirects: false,
        retry_throttled: true,
    }
}

fn join(base: &Url, path: &str) -> Url {
    let mut u = base.clone();
    u.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
    u.set_query(None);
    u
}

/// Under one base: what not-found looks like, and how many sampled reads answered for real.
async fn examine(t: &Transport, base: &Url, ops: &[&Operation]) -> (Option<NotFound>, usize) {
    let token = crate::register::random_username();
    let not_found = match t
        .send(anonymous_get(join(base, &format!("/{token}-not-found"))))
        .await
    {
        Ok(ex) => NotFound::from_exchange(&ex),
        Err(_) => None,
    };
    let mut answered = 0;
    for op in ops {
        if let Ok(ex) = t.send(anonymous_get(join(base, &op.path))).await {
            if answered_for_real(&ex, not_found.as_ref()) {
                answered += 1;
            }
        }
    }
    (not_found, answered)
}

/// Chooses the base: `forced` (the user's `--base-path`) as it is, else the spec's, verified,
/// and switched to another candidate when only that one answers.
pub async fn choose(
    t: &Transport,
    target: &Url,
    inv: &Inventory,
    spec_url: Option<&Url>,
    forced: Option<&str>,
) -> BaseChoice {
    let mut diagnostics = server_elsewhere(target, inv)
        .into_iter()
        .collect::<Vec<_>>();
    if let Some(path) = forced {
        let mut base = target.clone();
        base.set_path(path);
        base.set_query(None);
        let (not_found, _) = examine(t, &base, &[]).await;
        return BaseChoice {
            base,
            not_found,
            diagnostics,
        };
    }
    let ops = samples(inv);
    let all = candidates(target, &inv.base_path, spec_url, &inv.servers);
    let (first, first_why) = all[0].clone();
    let (first_nf, hits) = examine(t, &first, &ops).await;
    if hits > 0 || ops.is_empty() {
        return BaseChoice {
            base: first,
            not_found: first_nf,
            diagnostics,
        };
    }
    for (base, why) in all.iter().skip(1) {
        let (nf, hits) = examine(t, base, &ops).await;
        if hits > 0 {
            diagnostics.push(
                Diagnostic::warning(
                    "spec.base-switched",
                    format!(
                        "none of {n} documented reads answered under {first} ({first_why}): \
                         each got 404, 405 or the same answer as a path that cannot exist; under \
                         {base} ({why}) {hits} of {n} did, so the scan uses {base}",
                        n = ops.len()
                    ),
                )
                .hint("pass --base-path to choose the base yourself"),
            );
            return BaseChoice {
                base: base.clone(),
                not_found: nf,
                diagnostics,
            };
        }
    }
    diagnostics.push(
        Diagnostic::warning(
            "spec.base-unverified",
            format!(
                "none of {n} documented reads answered under any candidate base ({list}); the \
                 scan uses {first} ({first_why}), but its operations may not be reached",
                n = ops.len(),
                list = all
                    .iter()
                    .map(|(u, _)| u.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .hint("check the target URL, or pass --base-path"),
    );
    BaseChoice {
        base: first,
        not_found: first_nf,
        diagnostics,
    }
}

/// A diagnostic when the spec's first server names another host or port than the target: the
/// target URL the user gave wins, and the user should know the spec said otherwise.
fn server_elsewhere(target: &Url, inv: &Inventory) -> Option<Diagnostic> {
    let server = Url::parse(inv.servers.first()?).ok()?;
    (server.origin() != target.origin()).then(|| {
        Diagnostic::info(
            "spec.server-ignored",
            format!(
                "the spec's first server is {server}; the scan sends its requests to the target \
                 you gave, {}, and only there",
                target.origin().ascii_serialization()
            ),
        )
    })
}

#[cfg(test)]
mod tests;
