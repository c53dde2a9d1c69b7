//! Shift handovers (API.md §Shop floor: andon, shift handover, …): what the outgoing shift
//! tells the incoming one about an asset, written as a draft, submitted, and acknowledged by
//! someone else.

use ::time::OffsetDateTime;
use serde::{Deserialize, Serialize};

use super::activity::wire_enum;
use super::error::{FieldErrors, push_field};
use super::ids::{ActivityId, AssetId, HandoverId, ShiftId, UserId};
use super::time::rfc3339;

wire_enum!(
    /// Where a handover is: `draft` → `submitted` → `acknowledged`.
    HandoverStatus {
        /// Being written; only the writer changes it.
        Draft = "draft", "Draft";
        /// Handed over, waiting for someone of the next shift to acknowledge it.
        Submitted = "submitted", "Submitted";
        /// Read and acknowledged by someone other than the writer.
        Acknowledged = "acknowledged", "Acknowledged";
    }
);

/// A shift handover of one asset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Handover {
    /// Server-assigned id.
    pub id: HandoverId,
    /// The asset (line, area, machine) handed over.
    pub asset_id: AssetId,
    /// The shift that hands over.
    pub shift_id: ShiftId,
    /// What happened during the shift: 1–5,000 characters.
    pub summary: String,
    /// What the next shift must pick up: at most 5,000 characters.
    pub open_issues: String,
    /// Hazards and safety remarks: at most 5,000 characters.
    pub safety_notes: String,
    /// Activities the handover points to (at most 50, each one the writer can see).
    pub activity_ids: Vec<ActivityId>,
    /// `draft`, `submitted` or `acknowledged`.
    pub status: HandoverStatus,
    /// Who wrote it.
    pub written_by: UserId,
    /// When it was submitted; `null` for a draft.
    #[schema(required = true)]
    #[serde(with = "rfc3339::option")]
    pub submitted_at: Option<OffsetDateTime>,
    /// Who acknowledged it; `null` until then.
    #[schema(required = true)]
    pub acknowledged_by: Option<UserId>,
    /// When it was acknowledged; `null` until then.
    #[schema(required = true)]
    #[serde(with = "rfc3339::option")]
    pub acknowledged_at: Option<OffsetDateTime>,
    /// The acknowledger's comment (at most 2,000 characters); empty without one.
    pub ack_comment: String,
    /// When the acknowledgement timeout (`handover.ack_timeout_secs`) passed and staff were
    /// notified; `null` otherwise. Set once, by the server.
    #[schema(required = true)]
    #[serde(default, with = "rfc3339::option")]
    pub overdue_at: Option<OffsetDateTime>,
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

impl Handover {
    /// Whether the acknowledgement timeout is still to be reported: submitted, not
    /// acknowledged, not yet reported.
    pub fn awaiting_timeout(&self) -> bool {
        self.status == HandoverStatus::Submitted && self.overdue_at.is_none()
    }
}

/// Longest summary, open issues or safety notes.
pub const MAX_TEXT: usize = 5000;
/// Longest acknowledgement comment.
pub const MAX_COMMENT: usize = 2000;
/// Most activities one handover links.
pub const MAX_ACTIVITIES: usize = 50;

/// Checks a handover's texts and the number of its activities.
pub fn validate(h: &Handover, fields: &mut FieldErrors) {
    if h.summary.trim().is_empty() {
        push_field(fields, "summary", "must not be empty");
    }
    for (field, text) in [
        ("summary", &h.summary),
        ("open_issues", &h.open_issues),
        ("safety_notes", &h.safety_notes),
    ] {
        if text.chars().count() > MAX_TEXT {
            push_field(
                fields,
                field,
                format!("must be at most {MAX_TEXT} characters"),
            );
        }
    }
    if h.activity_ids.len() > MAX_ACTIVITIES {
        push_field(
            fields,
            "activity_ids",
            format!("must name at most {MAX_ACTIVITIES} activities"),
        );
    }
}

/// Checks an acknowledgement comment.
pub fn validate_comment(comment: &str, fields: &mut FieldErrors) {
    if comment.chars().count() > MAX_COMMENT {
        push_field(
            fields,
            "comment",
            format!("must be at most {MAX_COMMENT} characters"),
        );
    }
}
