//! A resolved, bounded view of a JSON Schema as OpenAPI uses it.
//!
//! The spec loader resolves `$ref`s, merges `allOf` and shares each named component through an
//! `Arc`, so a schema used by a thousand operations is held once and a cyclic schema is cut at
//! the point where it refers back to itself (`recursive_ref`).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemaType {
    Object,
    Array,
    String,
    Integer,
    Number,
    Boolean,
    Null,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// The component name when this schema came from `#/components/schemas/NAME` (or 2.0 definitions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<SchemaType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enum_values: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub properties: IndexMap<String, Arc<Schema>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Arc<Schema>>,
    /// Alternatives from `oneOf` / `anyOf`; synthesis picks the first that fits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub one_of: Vec<Arc<Schema>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_properties: Option<Arc<Schema>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_items: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub write_only: bool,
    /// Set when this node stands for a reference back to an enclosing schema (a cycle).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive_ref: Option<String>,
}

impl Schema {
    pub fn of_type(ty: SchemaType) -> Self {
        Schema {
            ty: Some(ty),
            ..Schema::default()
        }
    }

    /// The type, inferred from the shape when the spec left `type` out.
    pub fn effective_type(&self) -> Option<SchemaType> {
        if self.ty.is_some() {
            return self.ty;
        }
        if !self.properties.is_empty() || self.additional_properties.is_some() {
            Some(SchemaType::Object)
        } else if self.items.is_some() {
            Some(SchemaType::Array)
        } else {
            None
        }
    }

    /// True for schemas whose instances are numbers (integer or number).
    pub fn is_numeric(&self) -> bool {
        matches!(
            self.effective_type(),
            Some(SchemaType::Integer | SchemaType::Number)
        )
    }
}
