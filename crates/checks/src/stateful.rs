//! Acting on objects that have a state. A check that pays, cancels, redeems or replays an
//! action on an object can meet one already in the final state (paid, cancelled, used): the
//! API answers 409, or a 400/422 that says so. That says nothing about the flaw the check
//! looks for, so instead of giving up after the first object the check takes the next
//! candidate ([`Candidates`]): an object the identity owns that it has not tried, or a fresh
//! one made through the API's own creation operation ([`producer`]), at most
//! [`MAX_CANDIDATES`] in all.
//!
//! The producer of a consumer's parameter is inferred from the spec, as RESTler infers its
//! producer → consumer chains: a POST on the collection the parameter indexes (`POST /orders`
//! for `/orders/{order_id}/pay`), else a POST whose declared answer has a property named like
//! the parameter in any convention (`orderId`, `id` inside `order`), or an `id` when its last
//! segment is the parameter's collection. Sign-in, registration and sign-out are never
//! producers.

use crate::authflow::{is_sign_out, password_property};
use crate::check::RunCtx;
use crate::ownership::created_id;
use crate::probe::{Overrides, ProbeError};
use middlebrick_model::envelope::is_envelope_key;
use middlebrick_model::names::{is_id_word, name_words, normalize_name, qualified_name, singular};
use middlebrick_model::{Exchange, Inventory, Method, Mode, Operation, Schema};
use serde_json::Value;

/// Objects one check acts on at most when it meets state conflicts.
pub const MAX_CANDIDATES: usize = 3;

/// Phrases of a 400/422 answer that refuse an action because of the object's state.
const STATE_PHRASES: &[&str] = &[
    "already",
    "no longer",
    "invalid state",
    "wrong state",
    "invalid status",
    "not in a state",
    "state transition",
    "has been used",
    "has been cancelled",
    "has been canceled",
];

/// Whether an answer refuses an action because of the object's state: 409, or a 400/422 that
/// says so (`already paid`, `no longer pending`, …).
pub fn is_state_conflict(ex: &Exchange) -> bool {
    let Some(r) = ex.response.as_ref() else {
        return false;
    };
    match r.status {
        409 => true,
        400 | 422 => {
            let text = r.body.text.to_ascii_lowercase();
            STATE_PHRASES.iter().any(|p| text.contains(p))
        }
        _ => false,
    }
}

/// What the parameter identifies: `order_id` -> `order`; a bare `{id}` after `/orders` ->
/// `order`.
fn stem(consumer: &Operation, param: &str) -> Option<String> {
    let words = name_words(param);
    let (last, head) = words.split_last()?;
    if !is_id_word(last) {
        return Some(normalize_name(param));
    }
    if !head.is_empty() {
        return Some(head.concat());
    }
    let before = consumer.path.split(&format!("/{{{param}}}")).next()?;
    let seg = before
        .rsplit('/')
        .find(|s| !s.is_empty() && !s.starts_with('{'))?;
    Some(singular(&normalize_name(seg)))
}

/// Whether a declared answer schema yields a value for the parameter: a property named like
/// it, inside wrappers and named objects too.
fn yields(schema: &Schema, want: &str, own_segment: bool, depth: usize) -> bool {
    if depth > 3 {
        return false;
    }
    schema.properties.iter().any(|(k, s)| {
        let named = normalize_name(k) == want || (own_segment && is_id_word(&normalize_name(k)));
        let inside = !s.properties.is_empty()
            && (is_envelope_key(k) && yields(s, want, own_segment, depth + 1)
                || s.properties
                    .keys()
                    .any(|inner| qualified_name(Some(k), inner) == want));
        named || inside
    })
}

/// The operation that makes objects for `param` of `consumer` (see the module header).
pub fn producer<'a>(
    inv: &'a Inventory,
    consumer: &Operation,
    param: &str,
) -> Option<&'a Operation> {
    let collection = consumer.path.split(&format!("/{{{param}}}")).next()?;
    let stem = stem(consumer, param)?;
    let want = match name_words(param).last() {
        Some(w) if is_id_word(w) => format!("{stem}{w}"),
        _ => normalize_name(param),
    };
    let posts: Vec<&Operation> = inv
        .operations
        .iter()
        .filter(|o| o.method == Method::Post && o.key() != consumer.key())
        .filter(|o| password_property(o).is_none() && !is_sign_out(o))
        .collect();
    if let Some(op) = posts.iter().find(|o| o.path == collection) {
        return Some(op);
    }
    posts.into_iter().find(|o| {
        let last = o
            .path
            .rsplit('/')
            .find(|s| !s.is_empty() && !s.starts_with('{'));
        let own_segment = last.is_some_and(|s| singular(&normalize_name(s)) == stem);
        o.responses
            .iter()
            .filter(|r| r.status.starts_with('2'))
            .filter_map(|r| r.schema.as_deref())
            .any(|s| yields(s, &want, own_segment, 0))
    })
}

/// A fresh object for `param` of `consumer`, made as `identity` through its producer: the
/// value and the exchange that made it. Active mode only (it creates data).
pub async fn fresh_object(
    ctx: &RunCtx<'_>,
    consumer: &Operation,
    param: &str,
    identity: &str,
) -> Result<Option<(Value, Exchange)>, ProbeError> {
    if ctx.probe.mode() < Mode::Active {
        return Ok(None);
    }
    let Some(make) = producer(ctx.inventory, consumer, param) else {
        return Ok(None);
    };
    let ex = match ctx
        .probe
        .send(ctx.probe.request(make, identity, &Overrides::none()))
        .await
    {
        Err(ProbeError::Refused(_)) => return Ok(None),
        other => other?,
    };
    Ok(ex
        .success_json()
        .and_then(|j| made_id(&j, param, make))
        .map(|v| (v, ex)))
}

/// The value for `param` in the answer of its producer `make`: a field named like the
/// parameter without the producer's collection word first (`code` of a coupon made by
/// `POST /coupons` for `{couponCode}`), else [`created_id`].
fn made_id(body: &Value, param: &str, make: &Operation) -> Option<Value> {
    let seg = make
        .path
        .rsplit('/')
        .find(|s| !s.is_empty() && !s.starts_with('{'))
        .map(|s| singular(&normalize_name(s)))?;
    let rest = normalize_name(param)
        .strip_prefix(&seg)
        .filter(|r| !r.is_empty() && !is_id_word(r))
        .map(str::to_string);
    let by_rest = rest.and_then(|r| {
        let obj = middlebrick_model::envelope::single_record(body)?;
        obj.iter()
            .find(|(k, v)| normalize_name(k) == r && (v.is_string() || v.is_number()))
            .map(|(_, v)| v.clone())
    });
    by_rest.or_else(|| created_id(body, param))
}

/// The objects a check tries for one parameter, in order: one the identity owns, then a fresh
/// one, then the identity's others (in active mode the fresh one first: the engine's ledger
/// refuses the identity's own existing objects there); never the same twice, at most
/// [`MAX_CANDIDATES`].
#[derive(Debug, Default)]
pub struct Candidates {
    tried: Vec<Value>,
    fresh_made: bool,
    /// The last `next` found nothing.
    dry: bool,
}

impl Candidates {
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks a value as tried (one the check chose itself).
    pub fn tried(&mut self, v: Value) {
        self.tried.push(v);
    }

    /// Whether no further candidate will be offered: the bound is reached, or the last call to
    /// [`Candidates::next`] found none.
    pub fn exhausted(&self) -> bool {
        self.tried.len() >= MAX_CANDIDATES || self.dry
    }

    /// The next object to act on, or `None` when the candidates are used up.
    pub async fn next(
        &mut self,
        ctx: &RunCtx<'_>,
        consumer: &Operation,
        param: &str,
        identity: &str,
    ) -> Result<Option<Value>, ProbeError> {
        if self.tried.len() >= MAX_CANDIDATES {
            self.dry = true;
            return Ok(None);
        }
        let known: Vec<Value> = ctx
            .probe
            .known_values(consumer, param)
            .into_iter()
            .filter(|(v, who)| who.iter().any(|w| w == identity) && !self.tried.contains(v))
            .map(|(v, _)| v)
            .collect();
        // Active mode never acts on an identity's own existing objects (the engine's ledger
        // refuses it): a fresh one comes first there; disposable mode tries the owned one first.
        let fresh_first = ctx.probe.mode() == Mode::Active;
        if !self.fresh_made && (fresh_first || !self.tried.is_empty() || known.is_empty()) {
            self.fresh_made = true;
            if let Some((v, _)) = fresh_object(ctx, consumer, param, identity).await? {
                if !self.tried.contains(&v) {
                    self.tried.push(v.clone());
                    return Ok(Some(v));
                }
            }
        }
        let next = known.into_iter().next();
        self.tried.extend(next.clone());
        self.dry = next.is_none();
        Ok(next)
    }
}

#[cfg(test)]
#[path = "stateful_tests.rs"]
mod tests;
