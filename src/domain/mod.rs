//! Entities, typed ids, inputs and their validation: what Nexus is about, free of I/O.

pub mod activity;
pub mod andon;
pub mod audit;
pub mod change;
pub mod chat;
pub mod error;
pub mod handover;
pub mod ids;
pub mod machine_key;
pub mod oee;
pub mod project;
pub mod shopfloor;
pub mod time;
pub mod update;
pub mod user;
pub mod visibility;

pub use error::{DomainError, FieldErrors};
pub use ids::HandoverId;
pub use ids::{
    ActivityId, AndonId, AssetId, AuditId, DowntimeId, KeyId, MessageId, NotificationId,
    ProductionId, ProjectId, ReasonId, SessionId, ShiftId, UpdateId, UserId,
};
