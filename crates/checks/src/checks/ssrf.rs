//! `injection.ssrf`: an input the server fetches, so a caller can make it send requests to
//! places only the server can reach (server-side request forgery).
//!
//! Inputs that take a URL or a host are found by the schema (`format: uri`, `hostname`), an
//! example that is a URL, the name's words, values harvested for the parameter and properties
//! of the same name that hold URLs in answers (`ssrf/candidates.rs`). For each, in order:
//! 1. Callback (URL inputs, when the scan runs its listener): one request whose input is a URL
//!    on the scan's own listener carrying a token minted for this (operation, input). A request
//!    arriving at the listener with that token is the proof: confirmed, high.
//! 2. Internal reach (when 1 found nothing): the target's own port on loopback against a port
//!    known closed, sent open, closed, open, closed. Reported only when the two answers for
//!    each address agree with each other and differ between the addresses (status, or body
//!    once the address itself, numbers and hex runs are masked): firm, medium. It stops after
//!    the first pair when the two answers agree.
//! 3. Collector (URL inputs, when the user gave `--callback-collector`): one request carrying a
//!    token; the scan cannot see arrivals there, so a diagnostic lists the tokens sent and
//!    where, for the user to look up.
//!
//! The target is only ever told to call the scan's listener, its own loopback ports, or the
//! user's collector: never a third-party host. Reads are tested from safe mode on; POST, PUT
//! and PATCH (a stored webhook) from active mode on, through the object ledger like every
//! write; DELETE never. Budget per input: at most 1 + 4 + 1 requests, at most six inputs per
//! operation (36 requests), plus one wait of about a second for late arrivals per operation.

mod candidates;

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::probe::{CallbackHit, LoopbackPorts, Overrides, ProbeError};
use async_trait::async_trait;
use candidates::{
    candidates, declared_count, has_text_input, testable, url_keys_in, Candidate, Place, Takes,
};
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Diagnostic, Evidence, Exchange, Finding, Operation, Owasp,
    Remediation, Severity, Tech, ANONYMOUS,
};
use serde_json::Value;

#[derive(Debug)]
pub struct Ssrf;

/// How long the last callback of an operation may take to arrive after its answer.
const LATE_ARRIVAL_MS: u64 = 1_000;

static META: CheckMeta = CheckMeta {
    id: CheckId::InjectionSsrf,
    title: "Server-side request forgery",
    description: "Finds inputs that take a URL or host (format, example, name, URLs seen in \
        answers) and reports with proof: a request carrying a token minted for that input \
        reaches the scan's own callback listener (confirmed), or the target's own port and a \
        closed port on loopback answer differently, consistently on a repeat (firm). The target \
        is never pointed at a third-party host; blind fetches beyond the local network are \
        tested only through a collector URL the user supplies.",
    cwe: &[918],
    owasp: &[Owasp::Api7],
    severity: Severity::High,
    kind: CheckKind::SafeActive,
    remediation: Remediation {
        generic: "Never fetch a URL or connect to a host exactly as a caller gave it. Accept only \
            https URLs whose host is on an allowlist, resolve the host once and refuse loopback, \
            private, link-local and metadata addresses (127.0.0.0/8, 10/8, 172.16/12, \
            192.168/16, 169.254/16, ::1, fc00::/7), connect to the address you checked, do not \
            follow redirects, and set a short timeout and a size cap. Do not return the fetched \
            body or the upstream error to the caller.",
        variants: &[
            (Tech::Flask, "check before fetching, and fetch without redirects:\n\
                ```python\nALLOWED = {\"images.example-cdn.com\"}\nu = urllib.parse.urlsplit(body[\"url\"])\nif u.scheme != \"https\" or u.hostname not in ALLOWED:\n    abort(422)\nfor info in socket.getaddrinfo(u.hostname, 443):\n    if not ipaddress.ip_address(info[4][0]).is_global:\n        abort(422)\nresp = requests.get(body[\"url\"], timeout=2, allow_redirects=False)\n```"),
            (Tech::FastApi, "type the input as `HttpUrl` and validate the host against an allowlist and \
                the resolved address before any request:\n\
                ```python\nasync def preview(url: HttpUrl):\n    if url.host not in ALLOWED_HOSTS or not all(ipaddress.ip_address(a[4][0]).is_global for a in socket.getaddrinfo(url.host, 443)):\n        raise HTTPException(422, \"host not allowed\")\n    async with httpx.AsyncClient(follow_redirects=False, timeout=2) as c:\n        r = await c.get(str(url))\n```"),
        ],
    },
};

#[async_trait]
impl Check for Ssrf {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned> {
        if !testable(op, ctx.mode) {
            return Vec::new();
        }
        let n = declared_count(op);
        if n == 0 {
            // What answers show (an input whose values are URLs) is known only while the scan
            // runs: the check looks, and sends nothing unless it finds such an input.
            return if has_text_input(op) {
                vec![Planned {
                    method: op.method,
                    identity: "*",
                    purpose: "URL probes, only if answers show an input holds URLs",
                }]
            } else {
                Vec::new()
            };
        }
        (0..n)
            .map(|_| Planned {
                method: op.method,
                identity: "*",
                purpose: "URL probes: callback token, own vs closed loopback port",
            })
            .collect()
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        if !testable(op, ctx.probe.mode()) || !ctx.probe.method_allowed(op.method) {
            return Outcome::none();
        }
        judge(ctx, op).await
    }
}

/// Who sends the probes: a configured identity that is no administrator; in active mode, on a
/// `POST` the spec documents as acting on the caller's own state
/// ([`crate::ownership::acts_on_caller`]: an avatar import answering 200 replaces the caller's
/// picture with what the URL served), an account the scan registers for it, since active mode
/// changes only accounts the scan registered. `Err` says why there is none: the operation is
/// left untested.
async fn acting_identity(
    ctx: &RunCtx<'_>,
    op: &Operation,
) -> Result<(String, Vec<String>), String> {
    let ids = ctx.probe.identities();
    let chosen = ids.iter().find(|i| !i.admin).or_else(|| ids.first());
    let (name, cookies) = match chosen {
        Some(i) => (i.name.clone(), i.session_cookies.clone()),
        None => (ANONYMOUS.to_string(), Vec::new()),
    };
    let own_state = ctx.probe.mode() == middlebrick_model::Mode::Active
        && name != ANONYMOUS
        && crate::ownership::acts_on_caller(ctx.inventory, op);
    if !own_state {
        return Ok((name, cookies));
    }
    match ctx.probe.own_account().await {
        Ok(own) => {
            let cookies = ctx
                .probe
                .identities()
                .into_iter()
                .find(|i| i.name == own.identity)
                .map(|i| i.session_cookies)
                .unwrap_or_default();
            Ok((own.identity, cookies))
        }
        Err(e) => Err(format!(
            "{}: not tested: it changes the caller's own state (a POST documented without \
             201 Created), which active mode does only as an account the scan registers, and \
             none could be registered ({e})",
            op.key()
        )),
    }
}

/// A callback probe sent and not yet answered by an arrival.
struct Pending {
    candidate: Candidate,
    token: String,
    exchange: Exchange,
}

async fn judge(ctx: &RunCtx<'_>, op: &Operation) -> Outcome {
    let (identity, cookies) = match acting_identity(ctx, op).await {
        Ok(who) => who,
        Err(why) => {
            let mut out = Outcome::none();
            out.diagnostics.push(Diagnostic::info("ssrf.untested", why));
            return out;
        }
    };
    let url_keys = url_keys_in(&ctx.probe.observed());
    let mut out = Outcome::none();
    let mut pending: Vec<Pending> = Vec::new();
    let mut sent_to_collector = Vec::new();
    for c in candidates(op, ctx.probe, &url_keys, &cookies) {
        match test_candidate(ctx, op, &identity, &c, &mut pending, &mut sent_to_collector).await {
            Ok(Some(f)) => out.findings.push(f),
            Ok(None) => {}
            Err(_) => break,
        }
    }
    // A target may fetch after it answers (a queued webhook): one wait per operation.
    let mut waited = false;
    for p in pending {
        let wait = if waited { 0 } else { LATE_ARRIVAL_MS };
        waited = true;
        let hits = ctx.probe.callback_hits(&p.token, wait).await;
        if let Some(hit) = hits.first() {
            out.findings
                .retain(|f| f.parameter.as_deref() != Some(&p.candidate.name));
            out.findings.push(callback_finding(
                op,
                &p.candidate,
                &p.token,
                p.exchange,
                hit,
            ));
        }
    }
    if !sent_to_collector.is_empty() {
        out.diagnostics.push(
            Diagnostic::info(
                "ssrf.collector-sent",
                format!(
                    "{}: URLs on your collector were sent in {}; a request arriving there whose \
                     path carries the token proves the target fetches that input",
                    op.key(),
                    sent_to_collector.join(", ")
                ),
            )
            .hint("look the tokens up in your collector's log"),
        );
    }
    out
}

/// The request for `op` with `c` set to `value`.
fn request_with(
    ctx: &RunCtx<'_>,
    op: &Operation,
    identity: &str,
    c: &Candidate,
    value: &str,
) -> middlebrick_model::RequestSpec {
    let v = Value::String(value.to_string());
    let overrides = match &c.place {
        Place::Param(loc) => Overrides::param(*loc, &c.name, v),
        Place::Body(path) => Overrides::body_field(path.clone(), v),
    };
    ctx.probe.request(op, identity, &overrides)
}

async fn test_candidate(
    ctx: &RunCtx<'_>,
    op: &Operation,
    identity: &str,
    c: &Candidate,
    pending: &mut Vec<Pending>,
    sent_to_collector: &mut Vec<String>,
) -> Result<Option<Finding>, ProbeError> {
    let callback = (c.takes == Takes::Url)
        .then(|| ctx.probe.callback())
        .flatten();
    if let Some(cb) = &callback {
        if let Some(url) = &cb.listener_url {
            let ex = ctx
                .probe
                .send(request_with(ctx, op, identity, c, url))
                .await?;
            let hits = ctx.probe.callback_hits(&cb.token, 0).await;
            match hits.first() {
                Some(hit) => return Ok(Some(callback_finding(op, c, &cb.token, ex, hit))),
                None => pending.push(Pending {
                    candidate: c.clone(),
                    token: cb.token.clone(),
                    exchange: ex,
                }),
            }
        }
    }
    let reach = match ctx.probe.loopback_ports() {
        Some(ports) => internal_reach(ctx, op, identity, c, ports).await?,
        None => None,
    };
    if let Some(cb) = &callback {
        if let Some(url) = &cb.collector_url {
            ctx.probe
                .send(request_with(ctx, op, identity, c, url))
                .await?;
            sent_to_collector.push(format!("{} (token {})", c.label(), cb.token));
        }
    }
    Ok(reach)
}

fn address(c: &Candidate, port: u16) -> String {
    match c.takes {
        Takes::Url => format!("http://127.0.0.1:{port}/"),
        Takes::Host => format!("127.0.0.1:{port}"),
    }
}

async fn internal_reach(
    ctx: &RunCtx<'_>,
    op: &Operation,
    identity: &str,
    c: &Candidate,
    ports: LoopbackPorts,
) -> Result<Option<Finding>, ProbeError> {
    let open = address(c, ports.open);
    let closed = address(c, ports.closed);
    let masks = [open.as_str(), closed.as_str()];
    let mut rounds: Vec<[Exchange; 2]> = Vec::new();
    for _ in 0..2 {
        let o = ctx
            .probe
            .send(request_with(ctx, op, identity, c, &open))
            .await?;
        let x = ctx
            .probe
            .send(request_with(ctx, op, identity, c, &closed))
            .await?;
        let (Some(so), Some(sx)) = (signature(&o, &masks), signature(&x, &masks)) else {
            return Ok(None);
        };
        if so == sx {
            return Ok(None);
        }
        if let Some([po, px]) = rounds.first() {
            if signature(po, &masks) != Some(so) || signature(px, &masks) != Some(sx) {
                return Ok(None);
            }
        }
        rounds.push([o, x]);
    }
    let [o1, x1] = rounds.swap_remove(0);
    let [o2, x2] = rounds.swap_remove(0);
    Ok(Some(reach_finding(op, c, &open, &closed, [o1, x1, o2, x2])))
}

/// What an answer says with the addresses, numbers and hex runs masked: two answers about the
/// same address match even when they carry a new id or a timestamp. `None` when there is no
/// answer or the target is throttling (it says nothing about the fetch).
fn signature(ex: &Exchange, masks: &[&str]) -> Option<(u16, String)> {
    let r = ex.response.as_ref()?;
    if r.status == 429 {
        return None;
    }
    let mut text = r.body.text.clone();
    for m in masks {
        text = text.replace(m, "<addr>");
        text = text.replace(m.trim_end_matches('/'), "<addr>");
    }
    Some((r.status, mask_volatile(&text)))
}

fn mask_volatile(text: &str) -> String {
    static HEX: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let hex = HEX.get_or_init(|| regex::Regex::new(r"[0-9A-Fa-f][0-9A-Fa-f-]{7,}|\d+").unwrap());
    hex.replace_all(text, "0").into_owned()
}

fn callback_finding(
    op: &Operation,
    c: &Candidate,
    token: &str,
    exchange: Exchange,
    hit: &CallbackHit,
) -> Finding {
    let headers: Vec<String> = hit
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    let description = format!(
        "The {} (a URL input: {}) is fetched by the server: it was given a URL on the scan's \
         callback listener carrying the token `{token}`, minted for this input alone, and the \
         listener received `{}` from {}.",
        c.label(),
        c.why,
        hit.request_line,
        hit.peer
    );
    let evidence = Evidence::new(vec![exchange])
        .note("the exchange sent: the input carries the callback URL")
        .note(format!(
            "callback received from {}: {}\n{}",
            hit.peer,
            hit.request_line,
            headers.join("\n")
        ));
    META.finding(
        Some(op),
        &c.name,
        Severity::High,
        Confidence::Confirmed,
        description,
        evidence,
    )
}

fn reach_finding(
    op: &Operation,
    c: &Candidate,
    open: &str,
    closed: &str,
    exchanges: [Exchange; 4],
) -> Finding {
    let status = |e: &Exchange| e.status().unwrap_or(0);
    let description = format!(
        "The {} ({}) makes the server connect where it is told: the target's own port on \
         loopback (`{open}`) answers HTTP {} and a closed loopback port (`{closed}`) HTTP {}, \
         the two answers differing in status or body (the addresses masked), and the same \
         again on a repeat ({} / {}). A caller can map and \
         reach addresses only the server can. No callback proved it (none arrived, or no listener ran), so this \
         rests on the answers alone.",
        c.label(),
        c.why,
        status(&exchanges[0]),
        status(&exchanges[1]),
        status(&exchanges[2]),
        status(&exchanges[3]),
    );
    let evidence = Evidence::new(exchanges.to_vec())
        .note("exchanges: own port, closed port, own port, closed port");
    META.finding(
        Some(op),
        &c.name,
        Severity::Medium,
        Confidence::Firm,
        description,
        evidence,
    )
}

#[cfg(test)]
mod tests;
