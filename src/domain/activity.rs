//! Activities: the shop-floor work itself, with its types, statuses, priorities and the rules
//! for moving between statuses.

use serde::{Deserialize, Serialize};

use super::error::{FieldErrors, push_field};
use super::ids::{ActivityId, ProjectId, UserId};
use super::time::rfc3339;
use ::time::OffsetDateTime;

/// Declares a string enum with its wire names and labels, in order.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $wire:tt, $label:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $wire)] $variant,)+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire,)+ }
            }

            /// The label for people.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label,)+ }
            }

            /// Parses a wire name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }

            /// The wire names joined for error messages.
            pub fn choices() -> String {
                [$($wire),+].join(", ")
            }

            /// A small stable number for index keys.
            pub fn code(self) -> u8 {
                self as u8
            }
        }
    };
}

pub(crate) use wire_enum;

wire_enum!(
    /// What kind of work an activity is.
    ActivityType {
        /// A production run.
        Production = "production", "Production";
        /// Maintenance work.
        Maintenance = "maintenance", "Maintenance";
        /// A quality check.
        QualityCheck = "quality_check", "Quality check";
        /// An inspection.
        Inspection = "inspection", "Inspection";
        /// Machine setup.
        Setup = "setup", "Setup";
        /// A changeover between products.
        Changeover = "changeover", "Changeover";
        /// Downtime.
        Downtime = "downtime", "Downtime";
        /// Safety work.
        Safety = "safety", "Safety";
        /// Training.
        Training = "training", "Training";
        /// Anything else.
        Other = "other", "Other";
    }
);

wire_enum!(
    /// Where an activity stands.
    ActivityStatus {
        /// Not started.
        Planned = "planned", "Planned";
        /// Running.
        InProgress = "in_progress", "In progress";
        /// Paused.
        OnHold = "on_hold", "On hold";
        /// Done.
        Completed = "completed", "Completed";
        /// Called off.
        Cancelled = "cancelled", "Cancelled";
    }
);

wire_enum!(
    /// How urgent something is; orders low < medium < high < critical.
    Priority {
        /// Low.
        Low = "low", "Low";
        /// Medium (the default).
        Medium = "medium", "Medium";
        /// High.
        High = "high", "High";
        /// Critical.
        Critical = "critical", "Critical";
    }
);

impl ActivityStatus {
    /// Completed and cancelled are terminal: only admin or staff reopen them (to planned).
    pub fn is_terminal(self) -> bool {
        matches!(self, ActivityStatus::Completed | ActivityStatus::Cancelled)
    }
}

/// Whether a status change is allowed, per API.md §Activities.
#[derive(Debug, PartialEq, Eq)]
pub enum Move {
    /// Allowed for anyone who may update the activity.
    Allowed,
    /// Allowed only for admin or staff (reopening a terminal activity).
    StaffOnly,
    /// Not a legal move.
    Illegal,
}

/// Classifies the move `from → to`.
pub fn status_move(from: ActivityStatus, to: ActivityStatus) -> Move {
    use ActivityStatus::*;
    match (from, to) {
        (Planned, InProgress | OnHold | Cancelled)
        | (InProgress, OnHold | Completed | Cancelled)
        | (OnHold, InProgress | Cancelled) => Move::Allowed,
        (Completed | Cancelled, Planned) => Move::StaffOnly,
        _ => Move::Illegal,
    }
}

/// An activity as stored and as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Activity {
    /// Server-assigned id.
    pub id: ActivityId,
    /// 1–200 characters.
    pub title: String,
    /// At most 20,000 characters.
    pub description: String,
    /// Kind of work.
    #[serde(rename = "type")]
    pub activity_type: ActivityType,
    /// Where it stands.
    pub status: ActivityStatus,
    /// How urgent.
    pub priority: Priority,
    /// Planned or actual start.
    #[schema(required = true)]
    #[serde(with = "rfc3339::option")]
    pub start_time: Option<OffsetDateTime>,
    /// Planned or actual end; not before `start_time`.
    #[schema(required = true)]
    #[serde(with = "rfc3339::option")]
    pub end_time: Option<OffsetDateTime>,
    /// Who does it.
    #[schema(required = true)]
    pub assigned_to: Option<UserId>,
    /// Who created it.
    pub created_by: UserId,
    /// The project it belongs to.
    #[schema(required = true)]
    pub project_id: Option<ProjectId>,
    /// When created.
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// When last changed.
    #[serde(with = "rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Starts at 1, grows by one on every change.
    #[schema(minimum = 1)]
    pub version: u64,
}

/// Checks title, description and times; adds messages to `fields`.
pub fn validate_fields(
    title: Option<&str>,
    description: Option<&str>,
    start: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
    fields: &mut FieldErrors,
) {
    if let Some(title) = title {
        let n = title.chars().count();
        if title.trim().is_empty() {
            push_field(fields, "title", "must not be empty");
        } else if n > 200 {
            push_field(fields, "title", "must be at most 200 characters");
        }
    }
    if let Some(description) = description
        && description.chars().count() > 20_000
    {
        push_field(fields, "description", "must be at most 20000 characters");
    }
    if let (Some(start), Some(end)) = (start, end)
        && end < start
    {
        push_field(fields, "end_time", "must not be before start_time");
    }
}

#[cfg(test)]
mod tests {
    use super::ActivityStatus::*;
    use super::*;

    #[test]
    fn the_status_move_table_of_the_contract() {
        let allowed = [
            (Planned, InProgress),
            (Planned, OnHold),
            (Planned, Cancelled),
            (InProgress, OnHold),
            (InProgress, Completed),
            (InProgress, Cancelled),
            (OnHold, InProgress),
            (OnHold, Cancelled),
        ];
        let staff_only = [(Completed, Planned), (Cancelled, Planned)];
        for &from in ActivityStatus::ALL {
            for &to in ActivityStatus::ALL {
                if from == to {
                    continue;
                }
                let expected = if allowed.contains(&(from, to)) {
                    Move::Allowed
                } else if staff_only.contains(&(from, to)) {
                    Move::StaffOnly
                } else {
                    Move::Illegal
                };
                assert_eq!(status_move(from, to), expected, "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn wire_names_round_trip() {
        for &t in ActivityType::ALL {
            assert_eq!(ActivityType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert!(Priority::Low < Priority::Critical);
    }
}
