//! Rebuilding a schema from validation errors when introspection is off, as a state machine
//! the engine drives: [`Rebuild::next_probe`] names the next document, the engine sends it and
//! hands the answer to [`Rebuild::absorb`], until the machine has nothing left to ask or the
//! engine's budget is spent; [`Rebuild::finish`] assembles what was learnt.
//!
//! Every document selects [`SENTINEL_FIELD`], a name no schema has, so it always fails
//! validation and nothing executes: a `mutation` document sent here never changes state. In one
//! document, each candidate name the server does not call unknown exists, each "Did you mean"
//! names fields that exist, "argument … is required" gives a required argument's type, and
//! "must have a selection of subfields" gives an object field's type, whose own fields the
//! next documents ask about. Candidates are common API words plus words made from the types
//! learnt (`Order` → `order`, `orders`, `createOrder`), never a target's names.

use super::suggest::{named_type, parse_validation_message, ValidationHint};
use super::types::type_ref_schema_for_name;
use super::{error_messages, GraphqlSchema, GraphqlSchemaInfo, SchemaHow, MAX_SELECTION_FIELDS};
use indexmap::{IndexMap, IndexSet};
use middlebrick_model::{
    GraphqlArgument, GraphqlField, GraphqlKind, GraphqlOperation, Method, Operation,
    RequestBodySpec, Schema, SchemaType,
};
use serde_json::Value;
use std::sync::Arc;

/// A field name no schema declares: its "cannot query field" error proves the server
/// validates (and names the type it looked in), and it keeps every probe from executing.
pub const SENTINEL_FIELD: &str = "mbNoSuchField0x";

/// Root fields APIs commonly have, queries then mutations.
const QUERY_WORDS: &[&str] = &[
    "me",
    "viewer",
    "currentUser",
    "whoami",
    "node",
    "nodes",
    "user",
    "users",
    "account",
    "accounts",
    "profile",
    "profiles",
    "order",
    "orders",
    "product",
    "products",
    "item",
    "items",
    "post",
    "posts",
    "comment",
    "comments",
    "search",
    "customer",
    "customers",
    "invoice",
    "invoices",
    "payment",
    "payments",
    "cart",
    "note",
    "notes",
    "file",
    "files",
    "message",
    "messages",
    "ticket",
    "tickets",
    "project",
    "projects",
    "team",
    "teams",
    "organization",
    "organizations",
    "review",
    "reviews",
    "transaction",
    "transactions",
    "settings",
    "admin",
    "health",
    "version",
    "config",
    "systemHealth",
    "systemDiagnostics",
    "audit",
    "auditLogs",
    "categories",
    "category",
    "paste",
    "pastes",
    "coupon",
    "coupons",
    "address",
    "addresses",
];
const MUTATION_WORDS: &[&str] = &[
    "login",
    "signIn",
    "signin",
    "logout",
    "register",
    "signUp",
    "signup",
    "createUser",
    "updateUser",
    "deleteUser",
    "updateProfile",
    "changePassword",
    "resetPassword",
    "forgotPassword",
    "createOrder",
    "updateOrder",
    "deleteOrder",
    "cancelOrder",
    "placeOrder",
    "createProduct",
    "updateProduct",
    "deleteProduct",
    "createPost",
    "updatePost",
    "deletePost",
    "createComment",
    "addComment",
    "deleteComment",
    "createItem",
    "updateItem",
    "deleteItem",
    "addToCart",
    "checkout",
    "pay",
    "refund",
    "createPayment",
    "createAccount",
    "deleteAccount",
    "transfer",
    "uploadFile",
    "createNote",
    "updateNote",
    "deleteNote",
    "createTicket",
    "updateSettings",
    "refreshToken",
    "createToken",
    "revokeToken",
    "inviteUser",
    "setRole",
    "redeemCoupon",
    "applyCoupon",
    "createReview",
    "importData",
    "createPaste",
    "deletePaste",
];
/// Fields object types commonly have.
const TYPE_WORDS: &[&str] = &[
    "id",
    "uuid",
    "name",
    "title",
    "username",
    "email",
    "role",
    "isAdmin",
    "admin",
    "status",
    "description",
    "content",
    "body",
    "text",
    "createdAt",
    "updatedAt",
    "owner",
    "ownerId",
    "user",
    "userId",
    "author",
    "customer",
    "total",
    "amount",
    "price",
    "quantity",
    "currency",
    "items",
    "url",
    "token",
    "secret",
    "password",
    "apiKey",
    "phone",
    "address",
    "balance",
    "code",
    "public",
    "private",
    "isPublic",
    "order",
    "product",
];
/// Candidate names per document: well under the 100 errors graphql-js and graphql-core stop at.
const WORDS_PER_PROBE: usize = 45;

/// One document to send, and what its answer will be read against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildProbe {
    pub kind: GraphqlKind,
    /// The document: `query { mbNoSuchField0x me viewer … }`.
    pub document: String,
    ctx: Ctx,
    words: Vec<String>,
}

/// Where a probe's candidate names are selected: on a root type, or on the object type
/// reached through one or two fields from a root.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Ctx {
    Root(GraphqlKind),
    Type(String),
}

#[derive(Debug, Clone, Default)]
struct FieldFacts {
    /// Required arguments and their types.
    args: IndexMap<String, String>,
    /// Set when the field is an object (it must have a selection).
    type_ref: Option<String>,
}

/// The state of one endpoint's rebuild.
#[derive(Debug, Default)]
pub struct Rebuild {
    query_type: String,
    mutation_type: Option<String>,
    mutations: bool,
    /// Present fields per context, with what is known about each.
    fields: IndexMap<Ctx, IndexMap<String, FieldFacts>>,
    /// Names asked about (present or not) per context.
    asked: IndexMap<Ctx, IndexSet<String>>,
    /// How to reach each object type: a kind and one or two field names from the root.
    reach: IndexMap<String, (GraphqlKind, Vec<String>)>,
    word_batches: Vec<(Ctx, Vec<String>)>,
    derived: bool,
    validates: bool,
    sent: usize,
}

impl Rebuild {
    /// `query_type` is what `{__typename}` answered; mutations are asked about only when
    /// `mutations` (a mutation document is never executed, but passive mode sends no POST).
    pub fn new(query_type: &str, mutations: bool) -> Self {
        let mut r = Rebuild {
            query_type: query_type.to_string(),
            mutations,
            ..Rebuild::default()
        };
        let mut batch = |ctx: Ctx, words: &[&str]| {
            for chunk in words.chunks(WORDS_PER_PROBE) {
                r.word_batches
                    .push((ctx.clone(), chunk.iter().map(|w| w.to_string()).collect()));
            }
        };
        batch(Ctx::Root(GraphqlKind::Query), QUERY_WORDS);
        if mutations {
            batch(Ctx::Root(GraphqlKind::Mutation), MUTATION_WORDS);
        }
        r
    }

    /// The next document worth sending, or `None` when there is nothing left to learn.
    pub fn next_probe(&mut self) -> Option<RebuildProbe> {
        // A server that never reported the sentinel does not give validation errors away.
        if self.sent > 0 && !self.validates {
            return None;
        }
        if !self.word_batches.is_empty() {
            let (ctx, words) = self.word_batches.remove(0);
            return self.probe(ctx, words);
        }
        if let Some((ctx, names)) = self.unasked_present() {
            return self.probe(ctx, names);
        }
        if !self.derived {
            self.derived = true;
            self.queue_derived_words();
            if !self.word_batches.is_empty() {
                return self.next_probe();
            }
        }
        let unprobed = self
            .reach
            .keys()
            .find(|t| !self.asked.contains_key(&Ctx::Type((*t).clone())))
            .cloned();
        let t = unprobed?;
        let words = TYPE_WORDS.iter().map(|w| w.to_string()).collect();
        self.probe(Ctx::Type(t), words)
    }

    fn probe(&mut self, ctx: Ctx, words: Vec<String>) -> Option<RebuildProbe> {
        let asked = self.asked.entry(ctx.clone()).or_default();
        let words: Vec<String> = words
            .into_iter()
            .filter(|w| asked.insert(w.clone()))
            .collect();
        let (kind, path) = match &ctx {
            Ctx::Root(k) => (*k, Vec::new()),
            Ctx::Type(t) => self.reach.get(t)?.clone(),
        };
        let mut inner = format!("{SENTINEL_FIELD} {}", words.join(" "));
        for field in path.iter().rev() {
            inner = format!("{field} {{ {inner} }}");
        }
        self.sent += 1;
        Some(RebuildProbe {
            kind,
            document: format!("{} {{ {} }}", kind.as_str(), inner.trim_end()),
            ctx,
            words,
        })
    }

    /// Fields known to exist (from suggestions) that no document has selected yet.
    fn unasked_present(&self) -> Option<(Ctx, Vec<String>)> {
        self.fields.iter().find_map(|(ctx, fields)| {
            let asked = self.asked.get(ctx);
            let names: Vec<String> = fields
                .keys()
                .filter(|n| asked.is_none_or(|a| !a.contains(*n)))
                .take(WORDS_PER_PROBE)
                .cloned()
                .collect();
            let reachable = match ctx {
                Ctx::Root(_) => true,
                Ctx::Type(t) => self.reach.contains_key(t),
            };
            (!names.is_empty() && reachable).then(|| (ctx.clone(), names))
        })
    }

    /// Root names made from the object types learnt: `Order` → `order`, `orders`, `allOrders`,
    /// `createOrder`, `updateOrder`, `deleteOrder`.
    fn queue_derived_words(&mut self) {
        let mut queries = Vec::new();
        let mut mutations = Vec::new();
        for t in self.reach.keys() {
            let lower = lower_first(t);
            queries.extend([lower.clone(), format!("{lower}s"), format!("all{t}s")]);
            queries.push(format!("{lower}ById"));
            for verb in ["create", "update", "delete"] {
                mutations.push(format!("{verb}{t}"));
            }
        }
        let mut queue = |ctx: Ctx, words: Vec<String>| {
            let asked = self.asked.get(&ctx);
            let fresh: Vec<String> = words
                .into_iter()
                .filter(|w| asked.is_none_or(|a| !a.contains(w)))
                .collect::<IndexSet<_>>()
                .into_iter()
                .collect();
            for chunk in fresh.chunks(WORDS_PER_PROBE) {
                self.word_batches.push((ctx.clone(), chunk.to_vec()));
            }
        };
        queue(Ctx::Root(GraphqlKind::Query), queries);
        if self.mutations && self.mutation_type.is_some() {
            queue(Ctx::Root(GraphqlKind::Mutation), mutations);
        }
    }

    /// Reads the answer to `probe`.
    pub fn absorb(&mut self, probe: &RebuildProbe, answer: &Value) {
        let messages = error_messages(answer);
        // A server that stopped at an error limit did not report every unknown name, so
        // silence about a name proves nothing.
        let cut_short = messages
            .iter()
            .any(|m| m.contains("Too many validation errors"));
        let hints: Vec<ValidationHint> = messages
            .into_iter()
            .filter_map(parse_validation_message)
            .collect();
        let mut ctx_type: Option<String> = None;
        let mut absent: IndexSet<String> = IndexSet::new();
        for h in &hints {
            if let ValidationHint::UnknownField { field, on_type, .. } = h {
                if field == SENTINEL_FIELD {
                    ctx_type = Some(on_type.clone());
                } else {
                    absent.insert(field.clone());
                }
            }
        }
        let Some(ctx_type) = ctx_type else {
            return;
        };
        self.validates = true;
        if probe.ctx == Ctx::Root(GraphqlKind::Mutation) {
            self.mutation_type = Some(ctx_type.clone());
        }
        let here = self.fields.entry(probe.ctx.clone()).or_default();
        if !cut_short {
            for w in probe.words.iter().filter(|w| !absent.contains(*w)) {
                here.entry(w.clone()).or_default();
            }
        }
        for h in hints {
            match h {
                ValidationHint::UnknownField {
                    on_type,
                    suggestions,
                    ..
                } if on_type == ctx_type => {
                    for s in suggestions {
                        here.entry(s).or_default();
                    }
                }
                ValidationHint::MissingArgument {
                    field,
                    argument,
                    type_ref,
                } if probe.words.contains(&field) => {
                    if let Some(f) = here.get_mut(&field) {
                        f.args.insert(argument, type_ref);
                    }
                }
                ValidationHint::NeedsSelection { field, type_ref }
                    if probe.words.contains(&field) =>
                {
                    if let Some(f) = here.get_mut(&field) {
                        f.type_ref = Some(type_ref.clone());
                    }
                    let t = named_type(&type_ref).to_string();
                    if !self.reach.contains_key(&t) {
                        let route = match &probe.ctx {
                            Ctx::Root(k) => Some((*k, vec![field.clone()])),
                            Ctx::Type(parent) => self
                                .reach
                                .get(parent)
                                .filter(|(_, p)| p.len() < 2)
                                .map(|(k, p)| (*k, [p.clone(), vec![field.clone()]].concat())),
                        };
                        if let Some(route) = route {
                            self.reach.insert(t, route);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// How many documents were handed out.
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// The schema learnt, as operations on the endpoint at `path`; `complete` is always false.
    pub fn finish(self, path: &str) -> GraphqlSchema {
        let empty = IndexMap::new();
        let types: IndexMap<String, Vec<GraphqlField>> = self
            .reach
            .keys()
            .map(|t| {
                let fields = self.fields.get(&Ctx::Type(t.clone())).unwrap_or(&empty);
                (
                    t.clone(),
                    fields.iter().map(|(n, f)| graphql_field(n, f)).collect(),
                )
            })
            .collect();
        let mut operations = Vec::new();
        let mut counts = [0usize; 2];
        for (i, kind) in [GraphqlKind::Query, GraphqlKind::Mutation]
            .into_iter()
            .enumerate()
        {
            for (name, facts) in self.fields.get(&Ctx::Root(kind)).unwrap_or(&empty) {
                operations.push(operation(kind, name, facts, path, &self.fields));
                counts[i] += 1;
            }
        }
        GraphqlSchema {
            operations,
            query_type: self.query_type,
            mutation_type: self.mutation_type,
            info: GraphqlSchemaInfo {
                types: types.len(),
                queries: counts[0],
                mutations: counts[1],
                subscriptions_ignored: 0,
                complete: false,
                how: SchemaHow::Suggestions,
            },
            types,
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

fn graphql_field(name: &str, f: &FieldFacts) -> GraphqlField {
    let type_ref = f.type_ref.as_deref().unwrap_or("");
    GraphqlField {
        name: name.to_string(),
        type_name: named_type(type_ref).to_string(),
        list: type_ref.starts_with('['),
        required_args: !f.args.is_empty(),
    }
}

/// The schema of a rendered type reference (`[ID!]!`) whose named type may be unknown.
fn schema_of_ref(type_ref: &str) -> Arc<Schema> {
    let inner = type_ref.strip_suffix('!').unwrap_or(type_ref);
    match inner.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        Some(item) => Arc::new(Schema {
            items: Some(schema_of_ref(item)),
            ..Schema::of_type(SchemaType::Array)
        }),
        None => Arc::new(type_ref_schema_for_name(inner)),
    }
}

fn operation(
    kind: GraphqlKind,
    name: &str,
    facts: &FieldFacts,
    path: &str,
    fields: &IndexMap<Ctx, IndexMap<String, FieldFacts>>,
) -> Operation {
    let mut op = Operation::new(Method::Post, path);
    op.operation_id = Some(name.to_string());
    op.source = Some(format!(
        "graphql-suggestions:{path}#{}.{name}",
        kind.as_str()
    ));
    let mut body = Schema::of_type(SchemaType::Object);
    let mut arguments = Vec::new();
    for (arg, type_ref) in &facts.args {
        arguments.push(GraphqlArgument {
            name: arg.clone(),
            type_ref: type_ref.clone(),
        });
        body.required.push(arg.clone());
        body.properties.insert(arg.clone(), schema_of_ref(type_ref));
    }
    if !arguments.is_empty() {
        op.request_body = Some(RequestBodySpec {
            required: true,
            content: [("application/json".to_string(), Arc::new(body))]
                .into_iter()
                .collect(),
        });
    }
    let returns = facts.type_ref.as_deref().map(named_type).unwrap_or("");
    op.graphql = Some(GraphqlOperation {
        kind,
        field: name.to_string(),
        arguments,
        selection: match facts.type_ref {
            Some(_) => selection(returns, fields),
            None => String::new(),
        },
        returns: returns.to_string(),
    });
    op
}

/// Scalars learnt on the return type, then `id` of its object fields whose type is known to
/// have one; `{ __typename }` when nothing is known.
fn selection(type_name: &str, fields: &IndexMap<Ctx, IndexMap<String, FieldFacts>>) -> String {
    let Some(own) = fields.get(&Ctx::Type(type_name.to_string())) else {
        return "{ __typename }".into();
    };
    let mut parts: Vec<String> = own
        .iter()
        .filter(|(_, f)| f.args.is_empty() && f.type_ref.is_none())
        .map(|(n, _)| n.clone())
        .collect();
    for (n, f) in own.iter().filter(|(_, f)| f.args.is_empty()) {
        let Some(t) = f.type_ref.as_deref() else {
            continue;
        };
        let has_id = fields
            .get(&Ctx::Type(named_type(t).to_string()))
            .is_some_and(|g| g.get("id").is_some_and(|x| x.type_ref.is_none()));
        if has_id {
            parts.push(format!("{n} {{ id }}"));
        }
    }
    parts.truncate(MAX_SELECTION_FIELDS);
    if parts.is_empty() {
        return "{ __typename }".into();
    }
    format!("{{ {} }}", parts.join(" "))
}
