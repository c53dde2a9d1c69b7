//! Entities, typed ids, inputs and their validation: what Nexus is about, free of I/O.

pub mod change;
pub mod error;
pub mod ids;
pub mod time;
pub mod user;

pub use error::{DomainError, FieldErrors};
pub use ids::{SessionId, UserId};
