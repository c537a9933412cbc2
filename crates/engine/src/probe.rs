//! The engine's [`Probe`]: checks' requests go through here to the transport, with the
//! identity's credentials attached, the method gate of the mode applied, answers to valid
//! requests shared (baselines) and harvested for object ids, and a bounded sample kept for
//! API-wide passive checks.

use crate::config::ScanConfig;
use crate::config::{IdentityConfig, LoginConfig};
use crate::identity::{Identities, Identity};
use crate::selfknow::Selves;
use crate::signin::{SignInEnv, SignInMemo};
use crate::userparams::Knowledge;
use async_trait::async_trait;
use middlebrick_checks::ownership::privileged_reason;
use middlebrick_checks::{IdentityInfo, Overrides, OwnAccount, Probe, ProbeError};
use middlebrick_http::{HttpError, Outgoing, Transport};
use middlebrick_model::{
    Exchange, Inventory, Method, Mode, Operation, ParamLocation, Redactor, RequestSpec, ANONYMOUS,
};
use middlebrick_synth::{synthesize, IdPool, Overrides as SynthOverrides};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;
use url::Url;

/// A signed-in identity whose JWT expires within this is signed in again before its next request.
const EXPIRY_MARGIN: std::time::Duration = std::time::Duration::from_secs(30);

/// How many exchanges API-wide checks get to look at; distinct by operation and status.
const OBSERVED_CAP: usize = 64;
/// Who the pool says saw a value from a privileged operation's answer: no identity's name
/// (`*` cannot be one), so such values are offered to requests but never count as a sighting.
const PRIVILEGED_SIGHTING: &str = "*privileged";

/// The sample for API-wide checks and the (operation, status) pairs already in it.
type Observed = (Vec<Exchange>, HashSet<(String, u16)>);

type BaselineCell = Arc<OnceCell<Result<Exchange, ProbeError>>>;

pub struct EngineProbe {
    transport: Arc<Transport>,
    base: Url,
    pub(crate) config: Arc<ScanConfig>,
    identities: Arc<Identities>,
    inventory: Arc<Inventory>,
    redactor: Arc<Redactor>,
    pool: Mutex<IdPool>,
    baselines: Mutex<HashMap<(String, String), BaselineCell>>,
    observed: Mutex<Observed>,
    reached: Mutex<HashSet<String>>,
    /// Operations something was sent to, and those that got any HTTP answer: why an
    /// operation was not reached.
    sent: Mutex<HashSet<String>>,
    answered: Mutex<HashSet<String>>,
    /// What "not found" looks like under the base: answers like it do not reach an operation.
    not_found: Mutex<Option<crate::base::NotFound>>,
    /// Accounts the scanner registered and signed in itself (never listed to checks as
    /// configured identities).
    accounts: Mutex<Vec<Arc<Identity>>>,
    /// How many accounts [`Probe::own_account`] has registered.
    own_accounts: std::sync::atomic::AtomicUsize,
    /// Keys of the sign-out operations (`POST /auth/logout`): never sent as a configured identity.
    sign_outs: HashSet<String>,
    /// What the scan learnt about its sign-in operations (shared with the sign-in phase).
    sign_in_memo: Arc<SignInMemo>,
    /// Who each identity is (`crate::selfknow`).
    pub(crate) selves: Selves,
    /// What the scan created, and the gate of state-changing requests (`crate::ledger`).
    pub(crate) ledger: crate::ledger::Ledger,
    /// Sign-in and registration operations: neither writes nor creations of objects.
    exempt: crate::ledger::Exempt,
    /// Identities that are accounts this scan registered (`registered-N`, `mb-own-N`).
    registered: Mutex<HashSet<String>>,
    /// Objects made for the writes of active mode, by (operation path, path parameter): what
    /// a write's last path parameter gets unless a check sets it (`supply_objects`).
    supplied: Mutex<HashMap<(String, String), serde_json::Value>>,
    /// The salt of the next state-changing request that asks for none: random per scan, then
    /// counted, so the names and titles of every creation differ within a scan and across scans
    /// of the same live API (a slug made from a title, a unique product name).
    next_salt: std::sync::atomic::AtomicU64,
    /// The callback listener, collector and loopback ports of `injection.ssrf`.
    callback: crate::callback::CallbackEnv,
    /// Answers to malformed inputs, shared between checks (`middlebrick_checks::malformed`).
    inputs: middlebrick_checks::malformed::SharedInputs,
}

impl std::fmt::Debug for EngineProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineProbe")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl EngineProbe {
    pub fn new(
        transport: Arc<Transport>,
        base: Url,
        config: Arc<ScanConfig>,
        identities: Arc<Identities>,
        inventory: Arc<Inventory>,
        redactor: Arc<Redactor>,
    ) -> Self {
        let mut pool = IdPool::default();
        pool.register_operations(&inventory.operations);
        let sign_outs = inventory
            .operations
            .iter()
            .filter(|o| middlebrick_checks::authflow::is_sign_out(o))
            .map(Operation::key)
            .collect();
        let mut exempt: HashSet<String> =
            middlebrick_checks::authflow::sign_in_operations(&inventory)
                .iter()
                .map(|o| o.key())
                .collect();
        let sign_in = crate::signin::sign_in_operation(&inventory, None);
        exempt.extend(
            crate::register::find_registration(&inventory, sign_in.as_ref()).map(Operation::key),
        );
        // A sign-out ends the session it is sent with; configured identities never send one
        // (`sign_outs` below), and one that ends every session is an account change.
        exempt.extend(
            inventory
                .operations
                .iter()
                .filter(|o| middlebrick_checks::authflow::is_sign_out(o))
                .filter(|o| {
                    !middlebrick_model::names::name_words(&o.path)
                        .iter()
                        .any(|w| matches!(w.as_str(), "all" | "everywhere" | "sessions"))
                })
                .map(Operation::key),
        );
        EngineProbe {
            transport,
            base,
            config,
            identities,
            inventory,
            redactor,
            pool: Mutex::new(pool),
            baselines: Mutex::new(HashMap::new()),
            observed: Mutex::new((Vec::new(), HashSet::new())),
            reached: Mutex::new(HashSet::new()),
            sent: Mutex::new(HashSet::new()),
            answered: Mutex::new(HashSet::new()),
            not_found: Mutex::new(None),
            accounts: Mutex::new(Vec::new()),
            next_salt: std::sync::atomic::AtomicU64::new(crate::register::random_salt()),
            own_accounts: std::sync::atomic::AtomicUsize::new(0),
            sign_outs,
            sign_in_memo: Arc::default(),
            selves: Selves::default(),
            ledger: crate::ledger::Ledger::default(),
            exempt: crate::ledger::Exempt(exempt),
            registered: Mutex::new(HashSet::new()),
            supplied: Mutex::new(HashMap::new()),
            callback: crate::callback::CallbackEnv::default(),
            inputs: middlebrick_checks::malformed::SharedInputs::default(),
        }
    }

    /// Active mode: one object of the scan's own for every write whose last path parameter
    /// names an object (`PATCH /notes/{note_id}`, `POST /orders/{id}/cancel`), made through the
    /// spec's producer of that parameter as `identity`, once per producer. Writes then go to
    /// it rather than to an object the warm-up saw (which the ledger would refuse), so
    /// malformed-input and SQL probes of write operations still have a target.
    pub async fn supply_objects(&self, identity: &str) {
        if self.config.mode != Mode::Active || identity == ANONYMOUS {
            return;
        }
        let ctx = middlebrick_checks::RunCtx {
            probe: self,
            inventory: &self.inventory,
            op: None,
        };
        let mut made: HashMap<String, serde_json::Value> = HashMap::new();
        for op in self
            .inventory
            .operations
            .iter()
            .filter(|o| o.changes_state())
        {
            if !self.config.method_allowed(op.method) || self.sign_outs.contains(&op.key()) {
                continue;
            }
            // A creation's last path parameter is the owner or parent of what it makes
            // (`POST /users/{user_id}/cards`), not an object it acts on: the identity's own value
            // goes there. A "producer" of it would be another resource's answer that merely
            // names a user (`POST /addresses` answering `"user_id": 1`).
            if crate::ledger::is_creation(&self.inventory, op, &self.exempt) {
                continue;
            }
            let Some(param) = crate::ledger::path_values(&op.path, &op.path)
                .last()
                .map(|(name, _)| name.clone())
            else {
                continue;
            };
            let Some(producer) =
                middlebrick_checks::stateful::producer(&self.inventory, op, &param)
            else {
                continue;
            };
            let value = match made.get(&producer.key()) {
                Some(v) => Some(v.clone()),
                None => {
                    match middlebrick_checks::stateful::fresh_object(&ctx, op, &param, identity)
                        .await
                    {
                        Ok(Some((v, _))) => {
                            if let Some(text) = middlebrick_model::scalar_text(&v) {
                                self.ledger.add_created(&text, &op.path, &param);
                            }
                            made.insert(producer.key(), v.clone());
                            Some(v)
                        }
                        _ => None,
                    }
                }
            };
            if let Some(v) = value {
                self.supplied
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert((op.path.clone(), param), v);
            }
        }
    }

    /// Marks identities as accounts this scan registered: their accounts and what they own
    /// may change in active mode.
    pub fn mark_registered<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        let mut r = self.registered.lock().unwrap_or_else(|e| e.into_inner());
        r.extend(names.into_iter().map(str::to_string));
    }

    /// The object gate (`crate::ledger`): refuses, and keeps for the report, a state-changing
    /// request to an object or account this scan did not create.
    fn gate(&self, req: &RequestSpec) -> Result<(), ProbeError> {
        let registered = self
            .registered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let values_of = |name: &str| -> Vec<String> {
            let mut v = self.selves.of(name).values();
            if let Some(l) = self.any_identity(name).and_then(|i| i.login().cloned()) {
                v.push(l.username);
                v.extend(l.email);
            }
            v
        };
        let mut accounts = crate::ledger::Accounts::default();
        for i in &self.identities.list {
            if !registered.contains(&i.name) {
                accounts.configured.extend(values_of(&i.name));
            }
        }
        for name in &registered {
            accounts.registered.extend(values_of(name));
        }
        let mut own = self.selves.of(&req.identity);
        if own.username.is_none() {
            own.username = self.any_identity(&req.identity).and_then(|i| i.username());
        }
        let actor = crate::ledger::Actor {
            name: req.identity.clone(),
            registered: registered.contains(&req.identity),
            own,
        };
        self.ledger
            .judge(
                self.config.mode,
                &self.inventory,
                req,
                &actor,
                &accounts,
                &self.exempt,
            )
            .map_err(|why| {
                self.ledger.refused(req, &why);
                ProbeError::Refused(format!("not sent ({why})"))
            })
    }

    /// Shares the sign-in phase's memo (the answers to a wrong password, the token form).
    pub fn with_sign_in_memo(mut self, memo: Arc<SignInMemo>) -> Self {
        self.sign_in_memo = memo;
        self
    }

    pub(crate) fn with_callback(mut self, env: crate::callback::CallbackEnv) -> Self {
        self.callback = env;
        self
    }

    /// Notes about sign-in and registration gathered during the checks, emptied.
    pub fn take_sign_in_notes(&self) -> Vec<middlebrick_model::Diagnostic> {
        self.sign_in_memo.take_notes()
    }

    fn sign_in_env(&self) -> SignInEnv<'_> {
        SignInEnv {
            transport: &self.transport,
            base: &self.base,
            inventory: &self.inventory,
            redactor: &self.redactor,
            memo: &self.sign_in_memo,
        }
    }

    /// How long each operation's valid request took to answer (by operation key), at most over
    /// the identities whose answered baseline the scan holds; the warm-up reads every GET.
    pub(crate) fn baseline_times(&self) -> HashMap<String, u64> {
        let baselines = self.baselines.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: HashMap<String, u64> = HashMap::new();
        for ((key, _), cell) in baselines.iter() {
            if let Some(Ok(ex)) = cell.get() {
                if ex.response.is_some() {
                    let ms = out.entry(key.clone()).or_default();
                    *ms = (*ms).max(ex.elapsed_ms);
                }
            }
        }
        out
    }

    /// The operations of `inv` that never got a real answer (`base::answered_for_real`), as
    /// `METHOD /path`.
    pub fn unreached(&self, inv: &Inventory) -> Vec<String> {
        let reached = self.reached.lock().unwrap_or_else(|e| e.into_inner());
        inv.operations
            .iter()
            .map(Operation::key)
            .filter(|k| !reached.contains(k))
            .collect()
    }

    /// Each unreached operation with why: never sent, never answered, or only not-found.
    pub fn not_reached(&self, inv: &Inventory) -> Vec<middlebrick_model::NotReached> {
        use middlebrick_model::{NotReached, UnreachedReason};
        let sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        let answered = self.answered.lock().unwrap_or_else(|e| e.into_inner());
        self.unreached(inv)
            .into_iter()
            .map(|operation| {
                let reason = if !sent.contains(&operation) {
                    UnreachedReason::NotSent
                } else if !answered.contains(&operation) {
                    UnreachedReason::NoAnswer
                } else {
                    UnreachedReason::NotFound
                };
                NotReached { operation, reason }
            })
            .collect()
    }

    /// The base URL's path operation paths are joined to (empty for the root).
    pub fn base_path(&self) -> String {
        self.base.path().trim_end_matches('/').to_string()
    }

    /// What "not found" looks like under the base, learnt when the base was chosen.
    pub fn set_not_found(&self, not_found: Option<crate::base::NotFound>) {
        *self.not_found.lock().unwrap_or_else(|e| e.into_inner()) = not_found;
    }

    fn remember(&self, ex: &Exchange, op_key: Option<&str>) {
        // One line per exchange at debug level (`MIDDLEBRICK_LOG=middlebrick_engine=debug`), for
        // following a scan request by request; the URL goes through the redactor like any sink.
        tracing::debug!(
            check = crate::ledger::CURRENT_CHECK
                .try_with(|c| c.as_str())
                .unwrap_or("-"),
            identity = %ex.identity,
            method = %ex.request.method,
            url = %self.redactor.redact(&ex.request.url),
            status = ?ex.status(),
            "exchange"
        );
        if let Some(key) = op_key {
            self.sent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.to_string());
        }
        let Some(status) = ex.status() else { return };
        if let Some(key) = op_key {
            self.answered
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.to_string());
        }
        let real = {
            let nf = self.not_found.lock().unwrap_or_else(|e| e.into_inner());
            crate::base::answered_for_real(ex, nf.as_ref())
        };
        if let Some(key) = op_key.filter(|_| real) {
            self.reached
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.to_string());
        }
        let mut guard = self.observed.lock().unwrap_or_else(|e| e.into_inner());
        let (list, seen) = &mut *guard;
        if list.len() < OBSERVED_CAP
            && seen.insert((op_key.unwrap_or(&ex.request.url).to_string(), status))
        {
            list.push(ex.clone());
        }
    }

    async fn transmit(
        &self,
        req: RequestSpec,
        allow_relogin: bool,
    ) -> Result<Exchange, ProbeError> {
        if !self.config.request_allowed(&req) {
            return Err(ProbeError::Refused(format!(
                "{} is not allowed in {} mode{}",
                req.method,
                self.config.mode,
                if self.config.mode >= Mode::Active {
                    " without --allow-delete"
                } else {
                    ""
                }
            )));
        }
        if let Some(op) = req.operation.as_deref() {
            if self.sign_outs.contains(op) && self.identities.get(&req.identity).is_some() {
                return Err(ProbeError::Refused(format!(
                    "{op} signs out: it is sent only with sessions a check opened itself, never \
                     with identity `{}`",
                    req.identity
                )));
            }
        }
        self.gate(&req)?;
        if let Some(identity) = self.identities.get(&req.identity) {
            // Refresh before expiry: a token about to lapse would turn this answer into a 401.
            if identity.expires_within(EXPIRY_MARGIN) && identity.relogin_due() {
                let _ = identity.sign_in(&self.sign_in_env()).await;
            }
        }
        let out = self.outgoing(&req)?;
        let sent = if TIMED.try_with(|t| *t).unwrap_or(false) {
            self.transport.send_alone(out).await
        } else {
            self.transport.send(out).await
        };
        let mut ex = sent.map_err(stop_reason)?;
        mark_graphql(&req, &mut ex);
        self.remember(&ex, req.operation.as_deref());
        self.record_created(&req, &ex);
        // A 401 to part of the credentials (cookies only, headers only) is what a check asked
        // to see, not a sign of an expired session.
        let whole = req.credentials == middlebrick_model::CredentialUse::All;
        if allow_relogin && whole && ex.status() == Some(401) {
            if let Some(identity) = self.identities.get(&req.identity) {
                if identity.relogin_due() && identity.sign_in(&self.sign_in_env()).await.is_ok() {
                    return Box::pin(self.transmit(req, false)).await;
                }
            }
        }
        Ok(ex)
    }
}

tokio::task_local! {
    /// Set while a check's timed request ([`Probe::send_timed`]) is sent, its re-sign-in included.
    static TIMED: bool;
}

impl EngineProbe {
    /// The request as the transport takes it: the mode's method gate applied, the identity's
    /// credentials attached.
    fn outgoing(&self, req: &RequestSpec) -> Result<Outgoing, ProbeError> {
        if !self.config.request_allowed(req) {
            return Err(ProbeError::Refused(format!(
                "{} is not allowed in {} mode",
                req.method, self.config.mode
            )));
        }
        let mut with_query = req.clone();
        let credentials = if req.identity == ANONYMOUS {
            Vec::new()
        } else {
            let who = self.any_identity(&req.identity).ok_or_else(|| {
                ProbeError::Refused(format!("unknown identity `{}`", req.identity))
            })?;
            let (headers, query) = who.attach(req, &self.inventory);
            with_query.query.extend(query);
            headers
        };
        let req = &with_query;
        let mut out = Outgoing::from_spec(&self.base, req, credentials)
            .map_err(|e| ProbeError::Refused(e.to_string()))?;
        out.identity = req.identity.clone();
        Ok(out)
    }

    fn record_created(&self, req: &RequestSpec, ex: &Exchange) {
        let op = req
            .operation
            .as_deref()
            .and_then(|k| self.inventory.operations.iter().find(|o| o.key() == k));
        self.ledger.record(&self.inventory, op, &self.exempt, ex);
    }

    fn account(&self, name: &str) -> Option<Arc<Identity>> {
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|a| a.name == name)
            .cloned()
    }
}

/// Marks the answer to a GraphQL request with the root field it asked for, so that
/// `ResponseRecord::is_success` and `json` judge it by that field's data (the one owner of
/// "did this GraphQL operation succeed"; the HTTP status is kept as received).
fn mark_graphql(req: &RequestSpec, ex: &mut Exchange) {
    if let (Some(g), Some(resp)) = (&req.graphql, ex.response.as_mut()) {
        resp.graphql_field = Some(g.field.clone());
    }
}

fn stop_reason(e: HttpError) -> ProbeError {
    match e {
        HttpError::OutOfScope { .. } | HttpError::InvalidRequest(_) => {
            ProbeError::Refused(e.to_string())
        }
        other => ProbeError::Stopped(other.to_string()),
    }
}

impl EngineProbe {
    /// Remembers the ids in a successful JSON answer to `op` (sent to `path`) as seen by
    /// `identity`. An admin listing holds everyone's objects: its values are worth knowing, but
    /// seeing them there says nothing about who owns them (see `Probe::known_values`).
    fn harvest(&self, op: &Operation, path: &str, identity: &str, ex: &Exchange) {
        let Some(json) = ex.success_json() else {
            return;
        };
        let seen_by = if privileged_reason(op).is_some() {
            PRIVILEGED_SIGHTING
        } else {
            identity
        };
        self.pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .harvest_at(op, path, seen_by, &json);
    }

    /// For the warm-up: `op` read as `identity` with only its required query parameters, when
    /// it has optional ones. The baseline fills every parameter, and a filter taken from the
    /// spec's examples (`?status=placed&min_total=10`) can leave an identity's own list empty;
    /// the unfiltered list shows what it owns. Harvested like a baseline, not kept as one.
    pub async fn unfiltered_read(&self, op: &Operation, identity: &str) {
        if !op.is_read() || crate::plan::warm_up_reads(op) < 2 {
            return;
        }
        let mut drop = Overrides::none();
        for p in op.params_in(ParamLocation::Query).filter(|p| !p.required) {
            drop.params
                .push((ParamLocation::Query, p.name.clone(), None));
        }
        let req = self.request(op, identity, &drop);
        let path = req.path.clone();
        if let Ok(ex) = self.send(req).await {
            self.harvest(op, &path, identity, &ex);
        }
    }
}

fn to_synth(o: &Overrides) -> SynthOverrides {
    let mut s = SynthOverrides::default();
    for (loc, name, value) in &o.params {
        match value {
            Some(v) => s.set_param(*loc, name, v.clone()),
            None => s.drop_param(*loc, name),
        }
    }
    for (path, value) in &o.body {
        match value {
            Some(v) => s.set_body(path.clone(), v.clone()),
            None => s.drop_body(path.clone()),
        }
    }
    s
}

impl EngineProbe {
    /// Whether the engine knows `req` to be a read: a GET or HEAD of a documented read
    /// operation (never a sign-out), or a GraphQL query that writes nothing. Anything else may
    /// change state, an undocumented path and a GET to an operation documented otherwise
    /// included.
    fn known_read(&self, req: &RequestSpec) -> bool {
        if req.changes_state() || !req.method.is_safe() {
            return false;
        }
        let Some(key) = req.operation.as_deref() else {
            return false;
        };
        if self.sign_outs.contains(key) {
            return false;
        }
        self.inventory
            .operations
            .iter()
            .find(|o| o.key() == key)
            .is_some_and(|op| {
                op.is_read()
                    && (req.method == op.method
                        || (req.method == Method::Head && op.method == Method::Get))
            })
    }

    /// Sends `req`, with one trace line saying which check asked for it.
    async fn send_traced(&self, req: RequestSpec) -> Result<Exchange, ProbeError> {
        let check = crate::ledger::CURRENT_CHECK.try_with(|c| *c).ok();
        let round = check.and_then(middlebrick_checks::by_id).map(|c| c.order());
        trace_request(&req, check, round, self.known_read(&req));
        self.transmit(req, true).await
    }
}

/// One line per request a check asks for, at debug level under `middlebrick_engine::wire`:
/// the check, its round, whether the engine knows it for a read (by the spec: a GET may still
/// change state), and a digest of the exact request (for counting repeats; never the request).
/// `bench/requests-by-check.py` counts them.
fn trace_request(
    req: &RequestSpec,
    check: Option<middlebrick_model::CheckId>,
    round: Option<middlebrick_checks::RunOrder>,
    read: bool,
) {
    if !tracing::enabled!(target: "middlebrick_engine::wire", tracing::Level::DEBUG) {
        return;
    }
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(req).unwrap_or_default().hash(&mut h);
    tracing::debug!(
        target: "middlebrick_engine::wire",
        check = check.map_or("-", |c| c.as_str()),
        round = ?round,
        operation = req.operation.as_deref().unwrap_or("-"),
        method = %req.method,
        identity = %req.identity,
        digest = format!("{:016x}", h.finish()),
        read,
        "request"
    );
}

#[async_trait]
impl Probe for EngineProbe {
    async fn send(&self, req: RequestSpec) -> Result<Exchange, ProbeError> {
        self.send_traced(req).await
    }

    async fn send_input(
        &self,
        input: &middlebrick_checks::malformed::Input,
        req: RequestSpec,
    ) -> Result<Exchange, ProbeError> {
        self.inputs.send(input, || self.send(req.clone())).await
    }

    async fn send_timed(&self, req: RequestSpec) -> Result<Exchange, ProbeError> {
        TIMED.scope(true, self.send_traced(req)).await
    }

    async fn send_burst(&self, reqs: Vec<RequestSpec>) -> Vec<Result<Exchange, ProbeError>> {
        let check = crate::ledger::CURRENT_CHECK.try_with(|c| *c).ok();
        let round = check.and_then(middlebrick_checks::by_id).map(|c| c.order());
        for req in &reqs {
            trace_request(req, check, round, false);
        }
        self.send_burst_now(reqs).await
    }

    fn request(&self, op: &Operation, identity: &str, overrides: &Overrides) -> RequestSpec {
        let mut with_supplied;
        let mut overrides = overrides;
        if op.changes_state() {
            let supplied = self.supplied.lock().unwrap_or_else(|e| e.into_inner());
            let mine = supplied.iter().filter(|((path, param), _)| {
                *path == op.path
                    && !overrides
                        .params
                        .iter()
                        .any(|(loc, name, _)| *loc == ParamLocation::Path && name == param)
            });
            with_supplied = overrides.clone();
            for ((_, param), v) in mine {
                with_supplied
                    .params
                    .push((ParamLocation::Path, param.clone(), Some(v.clone())));
            }
            overrides = &with_supplied;
        }
        let pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        let everyone = self.selves.all();
        let knowledge = Knowledge::new(&pool, &everyone);
        let mut merged = knowledge.with_own_values(op, identity, to_synth(overrides));
        if op.changes_state() && merged.salt == 0 {
            merged.salt = self
                .next_salt
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                .max(1);
        }
        let mut req = synthesize(op, &pool, identity, &merged);
        req.identity = identity.to_string();
        req
    }

    async fn baseline(&self, op: &Operation, identity: &str) -> Result<Exchange, ProbeError> {
        let key = (op.key(), identity.to_string());
        let cell = self
            .baselines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default()
            .clone();
        // An exchange that got no answer is handed back but not kept: a connection lost once
        // would otherwise stand for the operation's answer in every check for the whole scan.
        let kept = cell
            .get_or_try_init(|| async {
                let req = self.request(op, identity, &Overrides::none());
                let path = req.path.clone();
                let ex = match self.send(req).await {
                    Ok(ex) if ex.response.is_none() => return Err(ex),
                    Ok(ex) => ex,
                    Err(e) => return Ok(Err(e)),
                };
                self.harvest(op, &path, identity, &ex);
                Ok(Ok(ex))
            })
            .await;
        match kept {
            Ok(result) => result.clone(),
            Err(unanswered) => Ok(unanswered),
        }
    }

    fn identities(&self) -> Vec<IdentityInfo> {
        self.identities
            .list
            .iter()
            .map(|i| {
                let own = self.selves.of(&i.name);
                IdentityInfo {
                    name: i.name.clone(),
                    session_cookies: i.session_cookie_names(),
                    cookie_same_site: i.session_cookie_same_site(),
                    token_header: i.token_header_name(),
                    markers: crate::selfknow::markers(i.markers(), &own),
                    own,
                    admin: i.admin,
                }
            })
            .collect()
    }

    fn mode(&self) -> Mode {
        self.config.mode
    }

    fn api_base_path(&self) -> String {
        EngineProbe::base_path(self)
    }

    fn outages(&self) -> Vec<middlebrick_model::Outage> {
        self.transport.outages()
    }

    async fn retrigger(&self, index: usize) -> Option<middlebrick_model::Retrigger> {
        self.transport.retrigger(index).await
    }

    fn method_allowed(&self, method: Method) -> bool {
        self.config.method_allowed(method)
    }

    fn observed(&self) -> Vec<Exchange> {
        self.observed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    fn known_values(&self, op: &Operation, param: &str) -> Vec<(serde_json::Value, Vec<String>)> {
        let pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<(serde_json::Value, Vec<String>)> = Vec::new();
        let names = self
            .identities
            .list
            .iter()
            .map(|i| i.name.clone())
            .chain(std::iter::once(ANONYMOUS.to_string()));
        for name in names {
            for (value, seen_by) in pool.candidates(op, param, &name) {
                if seen_by != name {
                    continue;
                }
                match out.iter_mut().find(|(v, _)| *v == value) {
                    Some((_, who)) => who.push(name.clone()),
                    None => out.push((value, vec![name.clone()])),
                }
            }
        }
        let everyone = self.selves.all();
        Knowledge::new(&pool, &everyone).add_owned(op, param, &mut out);
        out
    }

    async fn sign_in_account(
        &self,
        name: &str,
        username: &str,
        password: &str,
    ) -> Result<Exchange, ProbeError> {
        self.redactor.add(password);
        // Checks sign in here only accounts they registered themselves.
        self.mark_registered([name]);
        let identity = Identity::new(IdentityConfig {
            name: name.to_string(),
            headers: Vec::new(),
            cookies: Vec::new(),
            login: Some(LoginConfig {
                username: username.to_string(),
                password: password.to_string(),
                // Checks register their accounts with this e-mail (`register::email_for`).
                email: Some(crate::register::email_for(username)),
                ..self.login_template()
            }),
            admin: false,
        });
        self.add_account(identity).await
    }

    fn token_of(&self, identity: &str) -> Option<String> {
        self.any_identity(identity)?.token()
    }

    fn token_header_for(&self, identity: &str, token: &str) -> (String, String) {
        self.any_identity(identity)
            .and_then(|i| i.token_header_for(token))
            .unwrap_or_else(|| ("Authorization".into(), format!("Bearer {token}")))
    }

    fn sign_in_exchange(&self, identity: &str) -> Option<Exchange> {
        self.any_identity(identity)?.sign_in_exchange()
    }

    fn username_of(&self, identity: &str) -> Option<String> {
        self.any_identity(identity)?.username()
    }

    fn sign_in_operation(&self) -> Option<(middlebrick_model::Method, String)> {
        let login = self.config.identities.iter().find_map(|i| i.login.as_ref());
        crate::signin::sign_in_operation(&self.inventory, login)
    }

    async fn sign_in_attempt(
        &self,
        op: Option<&Operation>,
        username: &str,
        password: &str,
        headers: &[(String, String)],
    ) -> Result<Exchange, ProbeError> {
        if !self.config.method_allowed(middlebrick_model::Method::Post) {
            return Err(ProbeError::Refused(format!(
                "POST is not allowed in {} mode",
                self.config.mode
            )));
        }
        let template = self.config.identities.iter().find_map(|i| i.login.as_ref());
        let login = LoginConfig {
            username: username.to_string(),
            password: password.to_string(),
            operation: op
                .map(|o| (o.method, o.path.clone()))
                .or_else(|| template.and_then(|l| l.operation.clone())),
            token_field: None,
            username_field: template.and_then(|l| l.username_field.clone()),
            password_field: template.and_then(|l| l.password_field.clone()),
            client_id: template.and_then(|l| l.client_id.clone()),
            client_secret: template.and_then(|l| l.client_secret.clone()),
            // A real account's e-mail goes where the sign-in asks for one, as its own sign-in
            // sends it: an attempt must differ from it in the password alone.
            email: self.email_of_account(username),
        };
        self.send_sign_in(&login, ANONYMOUS, headers).await
    }

    async fn sign_in_fresh(
        &self,
        op: Option<&Operation>,
        identity: &str,
        headers: &[(String, String)],
    ) -> Result<Exchange, ProbeError> {
        if self.config.mode < Mode::Safe {
            return Err(ProbeError::Refused(format!(
                "no sign-in requests in {} mode",
                self.config.mode
            )));
        }
        if let Some(op) = op {
            let classified = middlebrick_checks::authflow::sign_in_operations(&self.inventory)
                .iter()
                .any(|o| o.key() == op.key());
            let takes_password = op.method == Method::Post
                && middlebrick_checks::authflow::password_property(op).is_some();
            if !classified && !takes_password {
                return Err(ProbeError::Refused(format!(
                    "{} is not a sign-in operation",
                    op.key()
                )));
            }
        }
        let who = self
            .any_identity(identity)
            .ok_or_else(|| ProbeError::Refused(format!("unknown identity `{identity}`")))?;
        let mut login = who.login().cloned().ok_or_else(|| {
            ProbeError::Refused(format!("`{identity}` does not sign in by password"))
        })?;
        if let Some(op) = op {
            let target = (op.method, op.path.clone());
            if login.operation.as_ref() != Some(&target) {
                // Field names configured for another operation do not apply to this one.
                login.username_field = None;
                login.password_field = None;
                login.token_field = None;
            }
            login.operation = Some(target);
        }
        let ex = self.send_sign_in(&login, identity, headers).await?;
        self.redact_session(&ex);
        Ok(ex)
    }

    async fn fork_session(&self, identity: &str, name: &str) -> Result<Exchange, ProbeError> {
        if self.any_identity(name).is_some() {
            return Err(ProbeError::Refused(format!("identity `{name}` exists")));
        }
        let who = self
            .any_identity(identity)
            .ok_or_else(|| ProbeError::Refused(format!("unknown identity `{identity}`")))?;
        if who.login().is_none() {
            return Err(ProbeError::Refused(format!(
                "`{identity}` does not sign in by password"
            )));
        }
        self.add_account(Identity::new(who.config_named(name)))
            .await
    }

    fn callback(&self) -> Option<middlebrick_checks::Callback> {
        self.callback.mint()
    }

    async fn callback_hits(
        &self,
        token: &str,
        wait_ms: u64,
    ) -> Vec<middlebrick_checks::CallbackHit> {
        self.callback.hits(token, wait_ms).await
    }

    fn loopback_ports(&self) -> Option<middlebrick_checks::LoopbackPorts> {
        self.callback.ports
    }

    fn settings(&self) -> middlebrick_checks::CheckSettings {
        self.config.settings
    }

    fn registration_operation(&self) -> Option<(Method, String)> {
        self.registration().map(|o| (o.method, o.path.clone()))
    }

    async fn register_attempt(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Exchange, ProbeError> {
        let op = self
            .registration()
            .ok_or_else(|| ProbeError::Refused("no registration operation".into()))?;
        self.send(crate::register::registration_request(
            op, username, password,
        ))
        .await
    }

    async fn own_account(&self) -> Result<OwnAccount, ProbeError> {
        if self.config.mode < Mode::Active {
            return Err(ProbeError::Refused(format!(
                "accounts are registered in active mode only, not in {} mode",
                self.config.mode
            )));
        }
        let n = self
            .own_accounts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n >= crate::register::OWN_ACCOUNT_CAP {
            return Err(ProbeError::Refused(format!(
                "this scan has registered its {} accounts",
                crate::register::OWN_ACCOUNT_CAP
            )));
        }
        let username = crate::register::random_username();
        let password = crate::register::random_password();
        self.redactor.add(&password);
        let ex = self.register_attempt(&username, &password).await?;
        if !ex.response.as_ref().is_some_and(|r| r.is_success()) {
            let why = crate::register::why_failed(&ex, &self.redactor);
            // Once per scan in the report: the checks that needed the account stay silent.
            if n == 0 {
                self.sign_in_memo
                    .note(middlebrick_model::Diagnostic::warning(
                        "identity.register-failed",
                        format!(
                            "registering a test account for the checks through {} failed: {why}",
                            self.registration().map_or_else(String::new, Operation::key)
                        ),
                    ));
            }
            return Err(ProbeError::Refused(format!(
                "registering a test account answered {why}"
            )));
        }
        let identity = format!("mb-own-{}", n + 1);
        self.mark_registered([identity.as_str()]);
        self.sign_in_account(&identity, &username, &password)
            .await?;
        Ok(OwnAccount { identity, username })
    }
}

impl EngineProbe {
    /// Signs `identity` in and keeps it among the scan's own accounts (never signed in again
    /// on a 401, never listed to checks as a configured identity).
    async fn add_account(&self, identity: Identity) -> Result<Exchange, ProbeError> {
        let ex = identity
            .sign_in(&self.sign_in_env())
            .await
            .map_err(|d| ProbeError::Refused(d.message))?;
        self.selves
            .learn(&identity.name, crate::selfknow::from_sign_in(&identity));
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(identity));
        Ok(ex)
    }

    /// One sign-in request for checks (no session kept, a 429 kept as the answer), recorded
    /// against its operation.
    async fn send_sign_in(
        &self,
        login: &LoginConfig,
        identity: &str,
        headers: &[(String, String)],
    ) -> Result<Exchange, ProbeError> {
        let (ex, plan) =
            crate::signin::send_sign_in(&self.sign_in_env(), login, identity, headers, false)
                .await
                .map_err(|e| match e.code {
                    "identity.sign-in-not-found" => ProbeError::Refused(e.message),
                    _ => ProbeError::Stopped(e.message),
                })?;
        self.remember(&ex, Some(&plan.key()));
        Ok(ex)
    }

    /// The sign-in settings a scan-owned account shares with the configured identities (the
    /// operation, field names and OAuth 2 client), without their credentials.
    fn login_template(&self) -> LoginConfig {
        let template = self.config.identities.iter().find_map(|i| i.login.as_ref());
        template.map_or_else(LoginConfig::default, |l| LoginConfig {
            username: String::new(),
            password: String::new(),
            ..l.clone()
        })
    }

    fn registration(&self) -> Option<&Operation> {
        let sign_in = self.sign_in_operation();
        crate::register::find_registration(&self.inventory, sign_in.as_ref())
    }

    /// Adds the token and cookie values a sign-in answer carries to the redactor.
    fn redact_session(&self, ex: &Exchange) {
        let Some(resp) = ex.response.as_ref() else {
            return;
        };
        if let Some(found) = middlebrick_checks::authflow::find_token(resp, None) {
            self.redactor.add(&found.value);
        }
        for (_, v) in middlebrick_checks::authflow::session_cookies(resp) {
            self.redactor.add(&v);
        }
    }

    /// The e-mail known for the account signing in as `username` (accounts the scan registered).
    fn email_of_account(&self, username: &str) -> Option<String> {
        self.identities
            .list
            .iter()
            .filter_map(|i| i.login())
            .find(|l| l.username == username)
            .and_then(|l| l.email.clone())
    }

    fn any_identity(&self, name: &str) -> Option<Arc<Identity>> {
        self.identities
            .get(name)
            .cloned()
            .or_else(|| self.account(name))
    }
}

impl EngineProbe {
    /// The burst itself: every gate passed for the whole burst first, then all sent together.
    async fn send_burst_now(&self, reqs: Vec<RequestSpec>) -> Vec<Result<Exchange, ProbeError>> {
        let mut outgoing = Vec::with_capacity(reqs.len());
        for req in &reqs {
            if let Err(e) = self.gate(req) {
                return reqs.iter().map(|_| Err(e.clone())).collect();
            }
            match self.outgoing(req) {
                Ok(o) => outgoing.push(o),
                Err(e) => return reqs.iter().map(|_| Err(e.clone())).collect(),
            }
        }
        let sent = self.transport.send_burst(outgoing).await;
        sent.into_iter()
            .zip(&reqs)
            .map(|(r, req)| {
                let mut ex = r.map_err(stop_reason)?;
                mark_graphql(req, &mut ex);
                self.remember(&ex, req.operation.as_deref());
                self.record_created(req, &ex);
                Ok(ex)
            })
            .collect()
    }
}

/// The identity a baseline warm-up uses first: a signed-in one, else anonymous.
pub fn primary_identity(identities: &Identities) -> String {
    identities
        .list
        .iter()
        .find(|i| !i.admin)
        .or_else(|| identities.list.first())
        .map(|i| i.name.clone())
        .unwrap_or_else(|| ANONYMOUS.to_string())
}

/// Path parameters count: operations without them are warmed up first so their answers
/// provide ids for the others.
/// How many parameters must name an existing object before the operation can be read: its
/// path parameters, or a GraphQL field's required arguments (`order(id: ID!)`), so that the
/// warm-up reads `orders` before `order`.
pub fn path_param_count(op: &Operation) -> usize {
    match &op.graphql {
        Some(g) => g
            .arguments
            .iter()
            .filter(|a| a.type_ref.ends_with('!'))
            .count(),
        None => op.params_in(ParamLocation::Path).count(),
    }
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
