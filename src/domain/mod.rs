//! Entities, typed ids, inputs and their validation: what Nexus is about, free of I/O.

pub mod activity;
pub mod audit;
pub mod change;
pub mod chat;
pub mod error;
pub mod ids;
pub mod project;
pub mod time;
pub mod update;
pub mod user;
pub mod visibility;

pub use error::{DomainError, FieldErrors};
pub use ids::{
    ActivityId, AuditId, MessageId, NotificationId, ProjectId, SessionId, UpdateId, UserId,
};
