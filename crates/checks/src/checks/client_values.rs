//! `design.client-controlled-values`: a value the server should compute (a total, a price, a
//! discount) is taken from the request and stored.
//!
//! Active mode only, on objects the scanner creates. A money-like property is a candidate when
//! the spec says the server computes it (read-only in the answer, or present in the answer but
//! absent from the request body), or when the request carries it beside what it derives from
//! (a quantity or items). The check creates a control object with the ordinary body, then one
//! with the candidate set to an absurd value (0.01), and reads both back (the create's answer,
//! else the item's GET). It fires when the second object holds 0.01 and the control does not.
//! A negative quantity that is accepted and stored is reported the same way. Names such as
//! `amount` on a transfer are the client's to choose and are not judged.
//! Budget: at most six requests per create operation.

use crate::check::{Check, CheckMeta, Outcome, PlanCtx, Planned, RunCtx};
use crate::ownership::created_id;
use crate::probe::{Overrides, ProbeError};
use async_trait::async_trait;
use middlebrick_model::{
    CheckId, CheckKind, Confidence, Evidence, Exchange, Inventory, Method, Operation, Owasp,
    ParamLocation, Remediation, Schema, SchemaType, Severity, Tech, ANONYMOUS,
};
use serde_json::{json, Value};

#[derive(Debug)]
pub struct ClientValues;

/// Values a server derives from others; `amount` is deliberately absent (a transfer's amount is
/// the client's choice).
const COMPUTED: &[&str] = &[
    "total",
    "subtotal",
    "grandtotal",
    "totalprice",
    "totalamount",
    "price",
    "unitprice",
    "cost",
    "discount",
    "tax",
    "amountdue",
    "balancedue",
];
const DERIVED_FROM: &[&str] = &[
    "quantity",
    "qty",
    "count",
    "items",
    "lines",
    "productid",
    "sku",
];
const PROBE_VALUE: f64 = 0.01;

static META: CheckMeta = CheckMeta {
    id: CheckId::DesignClientControlledValues,
    title: "Server-computed business value taken from the client",
    description: "In active mode, creates an object twice, once with a total, price or discount \
        set to 0.01 in the body; fires when the stored object holds 0.01 while the control does \
        not, or when a negative quantity is stored.",
    cwe: &[840, 602],
    owasp: &[Owasp::Api6],
    severity: Severity::High,
    kind: CheckKind::StateChanging,
    remediation: Remediation {
        generic: "Compute prices, totals, discounts and taxes on the server from data the server \
            owns (the product's price, the quantity, the coupon's value) and ignore any such \
            field in the request; validate quantities as positive integers with an upper bound, \
            and enforce it in the database too (`CHECK (quantity > 0)`).",
        variants: &[
            (Tech::Flask, "read only `product_id` and `quantity` from the body and compute \
                `total = product.price * quantity` in the view."),
            (Tech::FastApi, "keep `total` out of the input model (`class NewOrder(BaseModel)` with \
                `model_config = ConfigDict(extra=\"forbid\")`) and `quantity: int = Field(ge=1, le=100)`."),
            (Tech::Psycopg, "compute in SQL from the row you lock: \
                `INSERT INTO orders (…, total) SELECT …, price * %s FROM products WHERE id = %s FOR UPDATE`."),
            (Tech::Asyncpg, "compute in SQL from the product row: \
                `INSERT INTO orders (…, total) SELECT …, price * $1 FROM products WHERE id = $2`."),
            (Tech::SqlAlchemy, "set `order.total = product.price * quantity` from the loaded product, \
                never from the payload."),
            (Tech::CockroachDb, "run the read of the price and the insert in one transaction and retry \
                on `40001`, so a concurrent price change cannot slip between them."),
        ],
    },
};

/// Names compare in any convention (`total_price` ~ `totalPrice`), through the one normaliser.
fn norm(s: &str) -> String {
    middlebrick_model::names::normalize_name(s)
}

fn body_schema(op: &Operation) -> Option<&Schema> {
    op.request_body.as_ref().and_then(|b| {
        b.content
            .iter()
            .find(|(m, _)| m.contains("json"))
            .map(|(_, s)| s.as_ref())
    })
}

fn item_read<'a>(inv: &'a Inventory, create: &Operation) -> Option<&'a Operation> {
    inv.operations.iter().find(|o| {
        o.method == Method::Get
            && o.path.starts_with(&format!("{}/{{", create.path))
            && o.path.matches('{').count() == create.path.matches('{').count() + 1
    })
}

/// Money-like properties the server should compute, with why.
pub(crate) fn candidates(op: &Operation, inv: &Inventory) -> Vec<(String, &'static str)> {
    let Some(body) = body_schema(op) else {
        return Vec::new();
    };
    let in_body: Vec<String> = body.properties.keys().map(|k| norm(k)).collect();
    let derives = in_body.iter().any(|k| DERIVED_FROM.contains(&k.as_str()));
    let mut out = Vec::new();
    for k in body.properties.keys() {
        if COMPUTED.contains(&norm(k).as_str()) && derives {
            out.push((
                k.clone(),
                "the request carries it beside what it derives from",
            ));
        }
    }
    let answers = op
        .success_schema()
        .into_iter()
        .chain(item_read(inv, op).and_then(|o| o.success_schema()));
    for schema in answers {
        for (k, s) in &schema.properties {
            let computed = COMPUTED.contains(&norm(k).as_str()) && s.is_numeric()
                || s.read_only && COMPUTED.contains(&norm(k).as_str());
            if computed && !in_body.contains(&norm(k)) && !out.iter().any(|(o, _)| o == k) {
                let why = if s.read_only {
                    "the spec marks it read-only"
                } else {
                    "the spec returns it but does not take it"
                };
                out.push((k.clone(), why));
            }
        }
    }
    out.truncate(2);
    out
}

fn quantity_field(op: &Operation) -> Option<String> {
    body_schema(op)?
        .properties
        .iter()
        .find(|(k, s)| {
            matches!(norm(k).as_str(), "quantity" | "qty")
                && s.effective_type() == Some(SchemaType::Integer)
        })
        .map(|(k, _)| k.clone())
}

#[async_trait]
impl Check for ClientValues {
    fn meta(&self) -> &'static CheckMeta {
        &META
    }

    fn plan(&self, op: &Operation, ctx: PlanCtx) -> Vec<Planned> {
        if op.method != Method::Post || ctx.identities == 0 || body_schema(op).is_none() {
            return Vec::new();
        }
        vec![
            Planned {
                method: Method::Post,
                identity: "*",
                purpose: "control create and one with a client-set total",
            },
            Planned {
                method: Method::Get,
                identity: "*",
                purpose: "read both objects back",
            },
        ]
    }

    async fn run(&self, ctx: &RunCtx<'_>) -> Outcome {
        let Some(op) = ctx.op else {
            return Outcome::none();
        };
        judge(ctx, op).await.unwrap_or_default()
    }
}

/// Creates with `overrides` and returns the exchanges and the stored object as read back.
async fn create_and_read(
    ctx: &RunCtx<'_>,
    op: &Operation,
    who: &str,
    overrides: &Overrides,
) -> Result<Option<(Vec<Exchange>, Value)>, ProbeError> {
    let created = ctx
        .probe
        .send(ctx.probe.request(op, who, overrides))
        .await?;
    let Some(answer) = created.success_json() else {
        return Ok(None);
    };
    let Some(read) = item_read(ctx.inventory, op) else {
        return Ok(Some((vec![created], answer)));
    };
    let Some(param) = read
        .params_in(ParamLocation::Path)
        .last()
        .map(|p| p.name.clone())
    else {
        return Ok(Some((vec![created], answer)));
    };
    let Some(id) = created_id(&answer, &param) else {
        return Ok(Some((vec![created], answer)));
    };
    let back = ctx
        .probe
        .send(ctx.probe.request(
            read,
            who,
            &Overrides::param(ParamLocation::Path, &param, id),
        ))
        .await?;
    match back.success_json() {
        Some(stored) => Ok(Some((vec![created, back], stored))),
        None => Ok(Some((vec![created], answer))),
    }
}

/// The number a record holds under `key` (any convention), read inside the answer's wrappers.
fn number_at(v: &Value, key: &str) -> Option<f64> {
    let record = middlebrick_model::envelope::single_record(v)?;
    let field = record
        .iter()
        .find(|(k, _)| norm(k) == norm(key))
        .map(|(_, f)| f)?;
    field
        .as_f64()
        .or_else(|| field.as_str().and_then(|s| s.parse().ok()))
}

async fn judge(ctx: &RunCtx<'_>, op: &Operation) -> Result<Outcome, ProbeError> {
    let Some(who) = ctx
        .probe
        .identities()
        .into_iter()
        .find(|i| !i.admin)
        .map(|i| i.name)
    else {
        return Ok(Outcome::none());
    };
    if who == ANONYMOUS {
        return Ok(Outcome::none());
    }
    let fields = candidates(op, ctx.inventory);
    let quantity = quantity_field(op);
    if fields.is_empty() && quantity.is_none() {
        return Ok(Outcome::none());
    }
    let Some((control_ex, control)) = create_and_read(ctx, op, &who, &Overrides::none()).await?
    else {
        return Ok(Outcome::none());
    };
    for (field, why) in &fields {
        if number_at(&control, field).is_some_and(|v| (v - PROBE_VALUE).abs() < 1e-9) {
            continue;
        }
        let set = Overrides::body_field(vec![field.clone()], json!(PROBE_VALUE));
        let Some((attack_ex, stored)) = create_and_read(ctx, op, &who, &set).await? else {
            continue;
        };
        if number_at(&stored, field).is_some_and(|v| (v - PROBE_VALUE).abs() < 1e-9) {
            let description = format!(
                "An object created with `{field}` = {PROBE_VALUE} in the body was stored with \
                 `{field}` = {PROBE_VALUE}, while the same create without it stored {}; the \
                 server should compute this value ({why}). A client can set its own {field}.",
                control
                    .get(field)
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "another value".into())
            );
            let mut exchanges = attack_ex;
            exchanges.extend(control_ex);
            let evidence = Evidence::new(exchanges).note(
                "first: the create with the client-set value and its read-back; then the control",
            );
            return Ok(Outcome::finding(META.finding(
                Some(op),
                field,
                Severity::High,
                Confidence::Confirmed,
                description,
                evidence,
            )));
        }
    }
    if let Some(q) = quantity {
        let set = Overrides::body_field(vec![q.clone()], json!(-1));
        if let Some((attack_ex, stored)) = create_and_read(ctx, op, &who, &set).await? {
            if number_at(&stored, &q).is_some_and(|v| v < 0.0) {
                let description = format!(
                    "An object created with `{q}` = -1 was accepted and stored with a negative \
                     quantity; totals computed from it turn a purchase into a credit."
                );
                let mut exchanges = attack_ex;
                exchanges.extend(control_ex);
                let evidence = Evidence::new(exchanges).note("first: the create with a negative quantity and its read-back; then the control");
                return Ok(Outcome::finding(META.finding(
                    Some(op),
                    &q,
                    Severity::High,
                    Confidence::Confirmed,
                    description,
                    evidence,
                )));
            }
        }
    }
    Ok(Outcome::none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeProbe;
    use crate::similarity::response;
    use middlebrick_model::{RequestBody, RequestBodySpec, RequestSpec, ResponseSpec, SpecVersion};
    use std::sync::Arc;

    fn inventory() -> Inventory {
        let mut body = Schema::of_type(SchemaType::Object);
        body.properties.insert(
            "product_id".into(),
            Arc::new(Schema::of_type(SchemaType::Integer)),
        );
        body.properties.insert(
            "quantity".into(),
            Arc::new(Schema::of_type(SchemaType::Integer)),
        );
        let mut order = Schema::of_type(SchemaType::Object);
        for k in ["id", "quantity"] {
            order
                .properties
                .insert(k.into(), Arc::new(Schema::of_type(SchemaType::Integer)));
        }
        order.properties.insert(
            "total".into(),
            Arc::new(Schema::of_type(SchemaType::Number)),
        );
        let mut create = Operation::new(Method::Post, "/orders");
        create.request_body = Some(RequestBodySpec {
            required: true,
            content: [("application/json".to_string(), Arc::new(body))]
                .into_iter()
                .collect(),
        });
        create.responses.push(ResponseSpec {
            status: "201".into(),
            media_type: None,
            schema: Some(Arc::new(order)),
        });
        let mut inv = Inventory::empty(SpecVersion::OpenApi30);
        inv.operations = vec![create];
        inv
    }

    /// An order API that stores a client total (`vulnerable`) or computes 12.5 × quantity.
    fn api(vulnerable: bool) -> FakeProbe {
        FakeProbe::new()
            .identity("alice", &["alice"])
            .on_dynamic(move |r: &RequestSpec| {
                let body = match &r.body {
                    Some(RequestBody::Json(v)) => v.clone(),
                    _ => json!({}),
                };
                let q = body
                    .get("quantity")
                    .and_then(Value::as_i64)
                    .unwrap_or(1)
                    .max(1);
                let total = match body.get("total").and_then(Value::as_f64) {
                    Some(t) if vulnerable => t,
                    _ => 12.5 * q as f64,
                };
                Some(response(
                    201,
                    "application/json",
                    &json!({"id": 5, "quantity": q, "total": total}).to_string(),
                ))
            })
    }

    async fn run(p: &FakeProbe) -> Outcome {
        let inv = inventory();
        ClientValues
            .run(&RunCtx {
                probe: p,
                inventory: &inv,
                op: Some(&inv.operations[0]),
            })
            .await
    }

    #[tokio::test]
    async fn a_stored_client_total_is_confirmed() {
        let out = run(&api(true)).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].parameter.as_deref(), Some("total"));
    }

    #[tokio::test]
    async fn a_server_computed_total_is_silent() {
        assert!(run(&api(false)).await.findings.is_empty());
    }

    #[test]
    fn stored_numbers_are_read_inside_wrappers_in_any_convention() {
        let v = serde_json::json!({"status": "ok", "data": {"totalPrice": "0.01"}});
        assert_eq!(number_at(&v, "total_price"), Some(0.01));
        assert_eq!(
            number_at(&serde_json::json!({"total": 3}), "total"),
            Some(3.0)
        );
    }

    #[test]
    fn transfer_amounts_are_the_clients_to_choose() {
        let mut body = Schema::of_type(SchemaType::Object);
        body.properties.insert(
            "amount".into(),
            Arc::new(Schema::of_type(SchemaType::Number)),
        );
        body.properties.insert(
            "to_account".into(),
            Arc::new(Schema::of_type(SchemaType::String)),
        );
        let mut op = Operation::new(Method::Post, "/transfers");
        op.request_body = Some(RequestBodySpec {
            required: true,
            content: [("application/json".to_string(), Arc::new(body))]
                .into_iter()
                .collect(),
        });
        assert!(candidates(&op, &Inventory::empty(SpecVersion::OpenApi30)).is_empty());
    }
}
