//! Projects: a manager, a team, and the activities that belong to them.

use serde::{Deserialize, Serialize};
use time::Date;

use super::activity::wire_enum;
use super::error::{FieldErrors, push_field};
use super::ids::{ProjectId, UserId};
use super::time::rfc3339;
use ::time::OffsetDateTime;

wire_enum!(
    /// Where a project stands.
    ProjectStatus {
        /// Being planned.
        Planning = "planning", "Planning";
        /// Running.
        Active = "active", "Active";
        /// Paused.
        OnHold = "on_hold", "On hold";
        /// Done.
        Completed = "completed", "Completed";
        /// Put away; its name may be reused.
        Archived = "archived", "Archived";
    }
);

/// Serde for `YYYY-MM-DD` dates.
pub mod date_format {
    time::serde::format_description!(pub iso_date, Date, "[year]-[month]-[day]");
}

/// A project as stored and as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Project {
    /// Server-assigned id.
    pub id: ProjectId,
    /// 1–200 characters, unique among projects not archived.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Where it stands.
    pub status: ProjectStatus,
    /// Planned start.
    #[schema(required = true)]
    #[serde(with = "date_format::iso_date::option")]
    pub start_date: Option<Date>,
    /// Planned end.
    #[schema(required = true)]
    #[serde(with = "date_format::iso_date::option")]
    pub end_date: Option<Date>,
    /// Who runs it.
    pub manager_id: UserId,
    /// Its members, in the order they joined.
    pub team_members: Vec<UserId>,
    /// When created.
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// When last changed.
    #[serde(with = "rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Project {
    /// Whether `user` is its manager or on its team.
    pub fn involves(&self, user: UserId) -> bool {
        self.manager_id == user || self.team_members.contains(&user)
    }

    /// Everyone in it: manager first, then the team.
    pub fn people(&self) -> Vec<UserId> {
        let mut people = vec![self.manager_id];
        people.extend(self.team_members.iter().filter(|m| **m != self.manager_id));
        people
    }
}

/// The key that makes project names unique (case-insensitively).
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Checks name, description and dates.
pub fn validate_fields(
    name: Option<&str>,
    description: Option<&str>,
    start: Option<Date>,
    end: Option<Date>,
    fields: &mut FieldErrors,
) {
    if let Some(name) = name {
        if name.trim().is_empty() {
            push_field(fields, "name", "must not be empty");
        } else if name.chars().count() > 200 {
            push_field(fields, "name", "must be at most 200 characters");
        }
    }
    if let Some(d) = description
        && d.chars().count() > 20_000
    {
        push_field(fields, "description", "must be at most 20000 characters");
    }
    // `YYYY-MM-DD` has room for years 0 to 9999 only; the parser also takes signed years
    // (`-0001-01-01`), which the API would then show in a form the contract does not allow.
    for (field, date) in [("start_date", start), ("end_date", end)] {
        if date.is_some_and(|d| !(0..=9999).contains(&d.year())) {
            push_field(
                fields,
                field,
                "must be a date from 0000-01-01 to 9999-12-31",
            );
        }
    }
    if let (Some(start), Some(end)) = (start, end)
        && end < start
    {
        push_field(fields, "end_date", "must not be before start_date");
    }
}
