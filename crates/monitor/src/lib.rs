//! The monitoring service's alerting and pages: alert rules over scan outcomes (`alerts`),
//! HMAC-signed webhooks with retried deliveries (`webhooks`), and the server-rendered
//! dashboard (`dashboard`). Storage and routing live with the service; these modules take
//! plain structs and small traits so they are tested without either.

pub mod alerts;
pub mod dashboard;
pub mod webhooks;

#[cfg(test)]
mod fixture;
