//! What the `llm.*` checks share: recognising a chat or completion operation by the shape of its
//! request and answer, sending one prompt at a time with a pause before it and within a budget,
//! reading the assistant's text out of an answer (OpenAI-style `choices`, a plain `reply` or
//! `response` field, a `text/event-stream` of deltas), and the text comparisons their
//! differentials rest on.
//!
//! A chat operation is a POST with a JSON body that has either a `messages` array of
//! role/content objects, a `prompt` string, or a `message`/`input`/`question` string beside
//! something only a model takes (a `model` name, a `max_tokens`-like limit, `temperature`,
//! `stream`) or with a model-like answer documented (`choices`, `completion`, `reply`,
//! `answer`, `text/event-stream`). Nothing is judged until the operation has answered a
//! greeting with text that is not an echo of it ([`Reply::is_chat`]).
//!
//! Budget: the LLM checks run one after another (they are API-wide checks), on at most
//! [`MAX_CHAT_OPS`] chat operations, one completion at a time; each check has its own cap and
//! together they stay under [`SCAN_CAP`] completions per scan. There is no fixed pause between
//! completions: a pause changes neither what they cost nor a provider's per-minute quota, and a
//! model endpoint that is rate-limited says so with 429, on which the transport's per-host rate
//! halves and Retry-After is honoured (`docs/design/engine-limits.md`).

use crate::check::RunCtx;
use crate::probe::{Overrides, ProbeError};
use middlebrick_model::names::name_words;
use middlebrick_model::{Exchange, Inventory, Method, Operation, ResponseRecord, Schema};
use serde_json::{json, Value};
use std::sync::Arc;

/// Chat operations the checks probe per scan, in inventory order.
pub const MAX_CHAT_OPS: usize = 2;
/// Completions all `llm.*` checks together may ask for in one scan (each check's own cap per
/// operation times [`MAX_CHAT_OPS`]; a test holds the sum under it).
pub const SCAN_CAP: usize = 48;
/// The longest answer text compared, in characters.
const MAX_TEXT: usize = 4000;

/// Where the operation takes the user's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A `messages` array: `[{"role": "user", <text_key>: …}]`.
    Messages { field: String, text_key: String },
    /// One string property.
    Prompt(String),
}

/// A recognised chat or completion operation.
#[derive(Debug, Clone)]
pub struct Chat<'a> {
    pub op: &'a Operation,
    pub input: Input,
    /// A property that limits the answer's length (`max_tokens`, `maxOutputTokens`, …) and the
    /// maximum the spec documents for it.
    pub max_tokens: Option<(String, Option<f64>)>,
}

/// The chat operations of the inventory, at most [`MAX_CHAT_OPS`].
pub fn chat_operations(inv: &Inventory) -> Vec<Chat<'_>> {
    inv.operations
        .iter()
        .filter_map(recognise)
        .take(MAX_CHAT_OPS)
        .collect()
}

fn json_body(op: &Operation) -> Option<&Arc<Schema>> {
    let body = op.request_body.as_ref()?;
    body.content
        .iter()
        .find(|(media, _)| media.contains("json"))
        .map(|(_, s)| s)
}

fn is_string(s: &Schema) -> bool {
    s.effective_type() == Some(middlebrick_model::SchemaType::String)
}

fn words_are(name: &str, any: &[&[&str]]) -> bool {
    let w = name_words(name);
    any.iter()
        .any(|want| w.iter().map(String::as_str).eq(want.iter().copied()))
}

const TOKEN_LIMITS: &[&[&str]] = &[
    &["max", "tokens"],
    &["max", "new", "tokens"],
    &["max", "output", "tokens"],
    &["max", "completion", "tokens"],
    &["num", "predict"],
];
/// Properties only a model takes, beside the user's text.
const MODEL_KNOBS: &[&[&str]] = &[
    &["model"],
    &["temperature"],
    &["top", "p"],
    &["stream"],
    &["system", "prompt"],
    &["system"],
];
/// Answer properties that hold a model's output.
const ANSWER_KEYS: &[&[&str]] = &[
    &["choices"],
    &["completion"],
    &["reply"],
    &["answer"],
    &["generated", "text"],
];

/// Whether `op` is a chat or completion operation, and how to talk to it.
pub fn recognise(op: &Operation) -> Option<Chat<'_>> {
    if op.method != Method::Post {
        return None;
    }
    let schema = json_body(op)?;
    let props = &schema.properties;
    let max_tokens = props
        .iter()
        .find(|(k, s)| words_are(k, TOKEN_LIMITS) && s.is_numeric())
        .map(|(k, s)| (k.clone(), s.maximum));
    let messages = props.iter().find_map(|(k, s)| {
        let items = s.items.as_ref()?;
        if !words_are(k, &[&["messages"]]) {
            return None;
        }
        let text_key = ["content", "text"]
            .into_iter()
            .find(|t| items.properties.contains_key(*t))?;
        Some(Input::Messages {
            field: k.clone(),
            text_key: text_key.to_string(),
        })
    });
    let prompt = || {
        let strong = props
            .iter()
            .find(|(k, s)| is_string(s) && words_are(k, &[&["prompt"], &["user", "prompt"]]));
        let weak = || {
            props.iter().find(|(k, s)| {
                is_string(s)
                    && words_are(
                        k,
                        &[
                            &["message"],
                            &["input"],
                            &["question"],
                            &["user", "message"],
                            &["user", "input"],
                            &["chat", "message"],
                        ],
                    )
            })
        };
        let corroborated = max_tokens.is_some()
            || props.keys().any(|k| words_are(k, MODEL_KNOBS))
            || model_like_answer(op);
        strong
            .or_else(|| weak().filter(|_| corroborated))
            .map(|(k, _)| Input::Prompt(k.clone()))
    };
    let input = messages.or_else(prompt)?;
    Some(Chat {
        op,
        input,
        max_tokens,
    })
}

fn model_like_answer(op: &Operation) -> bool {
    op.responses
        .iter()
        .filter(|r| r.status.starts_with('2'))
        .any(|r| {
            r.media_type
                .as_deref()
                .is_some_and(|m| m.contains("event-stream"))
                || r.schema.as_ref().is_some_and(|s| {
                    // The answer itself, or one object inside it (`{"status": …,
                    // "ai_response": {"response": …, "model": …}}`).
                    std::iter::once(s.as_ref())
                        .chain(s.properties.values().map(|p| p.as_ref()))
                        .any(answer_object)
                })
        })
}

/// An object that holds a model's output: an answer key, or a text beside the `model` that
/// wrote it.
fn answer_object(s: &middlebrick_model::Schema) -> bool {
    let keys = || s.properties.keys();
    keys().any(|k| words_are(k, ANSWER_KEYS))
        || (keys().any(|k| words_are(k, &[&["model"]]))
            && keys().any(|k| words_are(k, &[&["response"], &["output"], &["text"]])))
}

/// The identity that asks single-identity probes: the first signed-in one that is not an
/// administrator, else anonymous.
pub fn asker(ctx: &RunCtx<'_>) -> String {
    ctx.probe
        .identities()
        .into_iter()
        .find(|i| !i.admin)
        .map(|i| i.name)
        .unwrap_or_else(|| middlebrick_model::ANONYMOUS.to_string())
}

/// Runs `judge` on every chat operation (at most [`MAX_CHAT_OPS`]), one after another, and
/// collects the findings; a stopping scan ends the loop quietly.
pub async fn each_chat<'a, F, Fut>(ctx: &'a RunCtx<'a>, mut judge: F) -> crate::check::Outcome
where
    F: FnMut(Chat<'a>) -> Fut,
    Fut: std::future::Future<Output = Result<Option<middlebrick_model::Finding>, ProbeError>>,
{
    let mut out = crate::check::Outcome::none();
    for chat in chat_operations(ctx.inventory) {
        match judge(chat).await {
            Ok(Some(f)) => out.findings.push(f),
            Ok(None) => {}
            Err(_) => break,
        }
    }
    out
}

/// What a prompt calls the object a path parameter names: `order` for `{order_id}`, or the
/// collection's word for a bare `{id}` (`/orders/{id}`).
pub fn noun(op: &Operation, param: &str) -> Option<String> {
    let words: Vec<String> = name_words(param)
        .into_iter()
        .filter(|w| !middlebrick_model::names::is_id_word(w))
        .collect();
    if !words.is_empty() {
        return Some(words.join(" "));
    }
    let collection = crate::ownership::collection_of(&op.path)?;
    let last = collection.rsplit('/').find(|s| !s.is_empty())?;
    let w = name_words(last);
    (!w.is_empty()).then(|| middlebrick_model::names::singular(&w.join(" ")))
}

/// One answer of the model: the exchange and what it said.
#[derive(Debug, Clone)]
pub struct Reply {
    pub prompt: String,
    pub exchange: Exchange,
    /// The assistant's text, when the answer was a 2xx that carried one.
    pub text: Option<String>,
    /// Completion tokens as the answer counts them (`usage`), else its words.
    pub tokens: Option<u64>,
}

impl Reply {
    /// A 2xx with a text that is not an echo of the prompt: a model answered.
    pub fn is_chat(&self) -> bool {
        self.text.as_deref().is_some_and(|t| {
            let (t, p) = (norm(t), norm(&self.prompt));
            !t.is_empty() && !t.contains(&p)
        })
    }

    pub fn text(&self) -> &str {
        self.text.as_deref().unwrap_or("")
    }
}

/// Sends prompts to one chat operation for one check, one at a time, never more than `cap`.
#[derive(Debug)]
pub struct Session<'c, 'a> {
    ctx: &'c RunCtx<'a>,
    chat: &'c Chat<'a>,
    cap: usize,
    sent: usize,
}

impl<'c, 'a> Session<'c, 'a> {
    pub fn new(ctx: &'c RunCtx<'a>, chat: &'c Chat<'a>, cap: usize) -> Self {
        Session {
            ctx,
            chat,
            cap,
            sent: 0,
        }
    }

    /// Completions asked for so far.
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// Asks `text` as `identity`, with the answer-length limit set to `max_tokens` when given
    /// (and the operation has one). `Ok(None)` when the check's cap is spent or the engine
    /// refused the request.
    pub async fn ask(
        &mut self,
        identity: &str,
        text: &str,
        max_tokens: Option<u64>,
    ) -> Result<Option<Reply>, ProbeError> {
        if self.sent >= self.cap {
            return Ok(None);
        }
        self.sent += 1;
        let mut overrides = Overrides::none();
        let value = match &self.chat.input {
            Input::Messages { field, text_key } => (
                field.clone(),
                json!([{ "role": "user", text_key.as_str(): text }]),
            ),
            Input::Prompt(field) => (field.clone(), json!(text)),
        };
        overrides.body.push((vec![value.0], Some(value.1)));
        if let (Some((field, _)), Some(n)) = (&self.chat.max_tokens, max_tokens) {
            overrides.body.push((vec![field.clone()], Some(json!(n))));
        }
        let req = self.ctx.probe.request(self.chat.op, identity, &overrides);
        let exchange = match self.ctx.probe.send(req).await {
            Err(ProbeError::Refused(_)) => return Ok(None),
            other => other?,
        };
        let ok = exchange.response.as_ref().filter(|r| r.is_success());
        let answer = ok.and_then(answer_text);
        let tokens = ok.and_then(|r| completion_tokens(r, answer.as_deref()));
        Ok(Some(Reply {
            prompt: text.to_string(),
            exchange,
            text: answer,
            tokens,
        }))
    }
}

/// The assistant's text in an answer: OpenAI-style `choices`, Anthropic-style `content`
/// blocks, Ollama's `message`, or a plain string under a model-output key, inside envelopes
/// too; a `text/event-stream` is read delta by delta; `text/plain` is the text itself.
pub fn answer_text(resp: &ResponseRecord) -> Option<String> {
    let media = resp.media_type().unwrap_or_default();
    if media.contains("event-stream") {
        let mut out = String::new();
        for line in resp.body.text.lines() {
            let Some(data) = line.strip_prefix("data:").map(str::trim) else {
                continue;
            };
            if data == "[DONE]" {
                continue;
            }
            match serde_json::from_str::<Value>(data) {
                Ok(v) => out.push_str(&json_text(&v).unwrap_or_default()),
                Err(_) => out.push_str(data),
            }
        }
        return (!out.is_empty()).then(|| cap(out));
    }
    if media.starts_with("text/plain") {
        return Some(cap(resp.body.text.clone()));
    }
    resp.json().as_ref().and_then(json_text).map(cap)
}

fn cap(s: String) -> String {
    s.chars().take(MAX_TEXT).collect()
}

fn json_text(v: &Value) -> Option<String> {
    if let Some(choice) = v.get("choices").and_then(|c| c.get(0)) {
        let found = [
            choice.pointer("/message/content"),
            choice.pointer("/delta/content"),
            choice.get("text"),
        ]
        .into_iter()
        .flatten()
        .find_map(Value::as_str);
        if let Some(t) = found {
            return Some(t.to_string());
        }
    }
    if let Some(t) = v.pointer("/message/content").and_then(Value::as_str) {
        return Some(t.to_string());
    }
    if let Some(blocks) = v.get("content").and_then(Value::as_array) {
        let joined: Vec<&str> = blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect();
        if !joined.is_empty() {
            return Some(joined.join(""));
        }
    }
    let keys: &[&[&str]] = &[
        &["reply"],
        &["answer"],
        &["response"],
        &["output"],
        &["completion"],
        &["generated", "text"],
        &["text"],
        &["content"],
        &["message"],
        &["result"],
    ];
    // The answer, its envelope's data, or one object inside it (`ai_response.response`).
    let nested = v
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
        .filter(|x| x.is_object());
    for inner in [v, middlebrick_model::envelope::unwrap_envelope(v)]
        .into_iter()
        .chain(nested)
    {
        let Some(map) = inner.as_object() else {
            continue;
        };
        for want in keys {
            if let Some(t) = map
                .iter()
                .find(|(k, val)| val.is_string() && words_are(k, &[want]))
                .and_then(|(_, val)| val.as_str())
            {
                return Some(t.to_string());
            }
        }
    }
    None
}

/// Completion tokens: `usage.completion_tokens` (OpenAI), `usage.output_tokens` (Anthropic),
/// `eval_count` (Ollama); else the words of the text; else, for an answer cut by the read cap,
/// a low estimate from its size.
pub fn completion_tokens(resp: &ResponseRecord, text: Option<&str>) -> Option<u64> {
    if let Some(v) = resp.json() {
        let counted = [
            v.pointer("/usage/completion_tokens"),
            v.pointer("/usage/output_tokens"),
            v.get("eval_count"),
        ]
        .into_iter()
        .flatten()
        .find_map(Value::as_u64);
        if counted.is_some() {
            return counted;
        }
    }
    if resp.body.truncated {
        return Some(resp.body.size / 8);
    }
    text.map(|t| t.split_whitespace().count() as u64)
}

/// Lower-cased, whitespace collapsed: how texts are compared.
pub fn norm(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The longest span the two texts share (compared as [`norm`] makes them).
pub fn common_span(a: &str, b: &str) -> String {
    let a: Vec<char> = norm(a).chars().take(MAX_TEXT).collect();
    let b: Vec<char> = norm(b).chars().take(MAX_TEXT).collect();
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    let (mut best, mut end) = (0usize, 0usize);
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            cur[j] = if a[i - 1] == b[j - 1] {
                prev[j - 1] + 1
            } else {
                0
            };
            if cur[j] > best {
                best = cur[j];
                end = i;
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    a[end - best..end].iter().collect()
}

/// Whether `needle` occurs in `hay`, compared as [`norm`] makes them.
pub fn mentions(hay: &str, needle: &str) -> bool {
    let n = norm(needle);
    !n.is_empty() && norm(hay).contains(&n)
}

/// A token of lower-case letters and digits that no prompt or answer holds by chance.
pub fn token() -> String {
    let n: String = crate::ownership::nonce()
        .chars()
        .map(|c| match c {
            '0'..='9' => (b'g' + (c as u8 - b'0')) as char,
            other => other,
        })
        .collect();
    format!("mbq{n}")
}

/// The beginning of `s` for a description: at most `n` characters.
pub fn excerpt(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use middlebrick_model::{BodyRecord, RequestBodySpec, SchemaType};

    pub fn string() -> Arc<Schema> {
        Arc::new(Schema::of_type(SchemaType::String))
    }

    /// `POST path` with a JSON body of these properties.
    pub fn op_with(path: &str, props: Vec<(&str, Arc<Schema>)>) -> Operation {
        let mut schema = Schema::of_type(SchemaType::Object);
        for (k, s) in props {
            schema.properties.insert(k.to_string(), s);
        }
        let mut op = Operation::new(Method::Post, path);
        op.request_body = Some(RequestBodySpec {
            required: true,
            content: [("application/json".to_string(), Arc::new(schema))]
                .into_iter()
                .collect(),
        });
        op
    }

    pub fn inventory(ops: Vec<Operation>) -> Inventory {
        let mut inv = Inventory::empty(middlebrick_model::SpecVersion::OpenApi31);
        inv.operations = ops;
        inv
    }

    /// An OpenAI-style chat operation (`messages`, `model`, `max_tokens` with `maximum`).
    pub fn chat_op(maximum: Option<f64>) -> Operation {
        let mut item = Schema::of_type(SchemaType::Object);
        item.properties.insert("role".into(), string());
        item.properties.insert("content".into(), string());
        let mut messages = Schema::of_type(SchemaType::Array);
        messages.items = Some(Arc::new(item));
        let mut max = Schema::of_type(SchemaType::Integer);
        max.maximum = maximum;
        op_with(
            "/v1/chat/completions",
            vec![
                ("model", string()),
                ("messages", Arc::new(messages)),
                ("max_tokens", Arc::new(max)),
            ],
        )
    }

    pub fn openai(text: &str, tokens: u64) -> ResponseRecord {
        let body = json!({
            "id": "chatcmpl-1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
            "usage": {"completion_tokens": tokens},
        });
        ResponseRecord {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: BodyRecord {
                text: body.to_string(),
                size: 0,
                truncated: false,
            },
            graphql_field: None,
        }
    }

    /// The user's text in a request the fake received.
    pub fn user_text(req: &middlebrick_model::RequestSpec) -> String {
        match &req.body {
            Some(middlebrick_model::RequestBody::Json(v)) => v
                .pointer("/messages/0/content")
                .or_else(|| v.get("prompt"))
                .or_else(|| v.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            _ => String::new(),
        }
    }

    pub fn max_tokens_of(req: &middlebrick_model::RequestSpec) -> Option<u64> {
        match &req.body {
            Some(middlebrick_model::RequestBody::Json(v)) => {
                v.get("max_tokens").and_then(Value::as_u64)
            }
            _ => None,
        }
    }

    #[test]
    fn recognises_messages_and_prompts_but_not_a_note_or_a_bare_message() {
        let chat = chat_op(None);
        let c = recognise(&chat).expect("messages chat");
        assert!(matches!(c.input, Input::Messages { .. }));
        assert_eq!(
            c.max_tokens.as_ref().map(|m| m.0.as_str()),
            Some("max_tokens")
        );
        assert!(recognise(&op_with("/generate", vec![("prompt", string())])).is_some());
        // A contact form's `message` is not a prompt without anything a model takes.
        assert!(recognise(&op_with("/contact", vec![("message", string())])).is_none());
        assert!(recognise(&op_with(
            "/ask",
            vec![("message", string()), ("model", string())]
        ))
        .is_some());
        let note = op_with("/notes", vec![("title", string()), ("content", string())]);
        assert!(recognise(&note).is_none());
        // A `message` whose documented answer nests the model's text beside the model's name.
        let mut inner = Schema::of_type(SchemaType::Object);
        inner.properties.insert("response".into(), string());
        inner.properties.insert("model".into(), string());
        let mut answer = Schema::of_type(SchemaType::Object);
        answer.properties.insert("status".into(), string());
        answer
            .properties
            .insert("ai_response".into(), Arc::new(inner));
        let mut support = op_with("/support/chat", vec![("message", string())]);
        support.responses.push(middlebrick_model::ResponseSpec {
            status: "200".into(),
            media_type: Some("application/json".into()),
            schema: Some(Arc::new(answer)),
        });
        assert!(recognise(&support).is_some());
        // The same answer without the model's name is a contact form's receipt.
        let mut receipt = Schema::of_type(SchemaType::Object);
        receipt.properties.insert("response".into(), string());
        let mut contact = op_with("/contact", vec![("message", string())]);
        contact.responses.push(middlebrick_model::ResponseSpec {
            status: "200".into(),
            media_type: Some("application/json".into()),
            schema: Some(Arc::new(receipt)),
        });
        assert!(recognise(&contact).is_none());
    }

    #[test]
    fn reads_the_text_of_common_answer_shapes() {
        assert_eq!(
            answer_text(&openai("hi there", 2)).as_deref(),
            Some("hi there")
        );
        let plain = |ct: &str, body: &str| ResponseRecord {
            status: 200,
            headers: vec![("content-type".into(), ct.into())],
            body: BodyRecord {
                text: body.into(),
                size: body.len() as u64,
                truncated: false,
            },
            graphql_field: None,
        };
        let r = plain(
            "application/json",
            r#"{"response": "ok then", "mode": "x"}"#,
        );
        assert_eq!(answer_text(&r).as_deref(), Some("ok then"));
        let nested = plain(
            "application/json",
            r#"{"status": "success", "ai_response": {"response": "nested", "model": "m"}}"#,
        );
        assert_eq!(answer_text(&nested).as_deref(), Some("nested"));
        let sse = plain(
            "text/event-stream",
            "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\ndata: [DONE]\n",
        );
        assert_eq!(answer_text(&sse).as_deref(), Some("Hello"));
        assert_eq!(completion_tokens(&openai("a b", 7), Some("a b")), Some(7));
    }

    #[test]
    fn common_span_finds_the_shared_run() {
        let s = common_span(
            "xx The secret rules are here. yy",
            "zz the secret  rules are here! q",
        );
        assert_eq!(s.trim(), "the secret rules are here");
        assert!(mentions("A B  C", "b c"));
        assert!(token().starts_with("mbq") && token().chars().all(|c| c.is_ascii_lowercase()));
    }

    #[test]
    fn the_checks_caps_stay_under_the_scan_cap() {
        use crate::checks::{
            llm_excessive_agency as a, llm_prompt_injection as i, llm_sensitive_disclosure as d,
            llm_system_prompt_leak as l, llm_unbounded_consumption as u,
        };
        let per_op = l::CAP + i::CAP + d::CAP + a::CAP + u::CAP;
        assert!(
            per_op * MAX_CHAT_OPS <= SCAN_CAP,
            "{per_op} x {MAX_CHAT_OPS}"
        );
    }
}
