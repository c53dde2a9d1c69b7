//! Andon calls (API.md §Shop floor: andon): a call for help at an asset, its status flow and
//! the escalation levels it reaches from the time it was raised.

use ::time::OffsetDateTime;
use serde::{Deserialize, Serialize};

use super::activity::wire_enum;
use super::error::{FieldErrors, push_field};
use super::ids::{AndonId, AssetId, UserId};
use super::time::rfc3339;

wire_enum!(
    /// What kind of help is called for.
    AndonKind {
        /// A machine needs maintenance.
        Maintenance = "maintenance", "Maintenance";
        /// A quality problem.
        Quality = "quality", "Quality";
        /// Material is missing.
        Material = "material", "Material";
        /// A safety hazard: starts at level 1.
        Safety = "safety", "Safety";
        /// Anything else.
        Help = "help", "Help";
    }
);

wire_enum!(
    /// Where a call is: `open` → `acknowledged` → `resolved` (or `open` → `resolved`).
    AndonStatus {
        /// Raised, nobody has answered yet; it escalates.
        Open = "open", "Open";
        /// Someone is on the way; it no longer escalates.
        Acknowledged = "acknowledged", "Acknowledged";
        /// Dealt with.
        Resolved = "resolved", "Resolved";
    }
);

/// A call for help at an asset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AndonCall {
    /// Server-assigned id.
    pub id: AndonId,
    /// Where help is needed.
    pub asset_id: AssetId,
    /// What kind of help.
    pub kind: AndonKind,
    /// 1–2,000 characters.
    pub message: String,
    /// Where the call is.
    pub status: AndonStatus,
    /// 0 when raised (1 for `safety`), 1 once staff are called, 2 once admins are.
    #[schema(minimum = 0, maximum = 2)]
    pub level: u8,
    /// Who raised it.
    pub raised_by: UserId,
    /// When it was raised.
    #[serde(with = "rfc3339")]
    pub raised_at: OffsetDateTime,
    /// Who acknowledged it; `null` until then (and when resolved straight from open).
    #[schema(required = true)]
    pub acknowledged_by: Option<UserId>,
    /// When it was acknowledged.
    #[schema(required = true)]
    #[serde(with = "rfc3339::option")]
    pub acknowledged_at: Option<OffsetDateTime>,
    /// Who resolved it; `null` until then.
    #[schema(required = true)]
    pub resolved_by: Option<UserId>,
    /// When it was resolved.
    #[schema(required = true)]
    #[serde(with = "rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
    /// What was done, at most 2,000 characters; `null` until resolved.
    #[schema(required = true)]
    pub resolution: Option<String>,
    /// When created (the same as `raised_at`).
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// When last changed.
    #[serde(with = "rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Starts at 1, grows by one on every change (an escalation too).
    #[schema(minimum = 1)]
    pub version: u64,
}

/// Longest message and resolution.
pub const MAX_TEXT: usize = 2000;
/// The highest level.
pub const TOP_LEVEL: u8 = 2;

/// Checks a call's message: 1–2,000 characters, not blank.
pub fn validate_message(message: &str, fields: &mut FieldErrors) {
    if message.trim().is_empty() {
        push_field(fields, "message", "must not be empty");
    } else if message.chars().count() > MAX_TEXT {
        push_field(fields, "message", "must be at most 2000 characters");
    }
}

/// Checks a resolution: at most 2,000 characters.
pub fn validate_resolution(resolution: &str, fields: &mut FieldErrors) {
    if resolution.chars().count() > MAX_TEXT {
        push_field(fields, "resolution", "must be at most 2000 characters");
    }
}

/// The level a call of `kind` starts at: `safety` calls go to staff at once.
pub fn initial_level(kind: AndonKind) -> u8 {
    if kind == AndonKind::Safety { 1 } else { 0 }
}

/// The level an `open` call of `kind` raised at `raised_at` has reached at `now`, given the
/// escalation delays `after` (`andon.escalate_after_secs`, seconds after raising for levels 1
/// and 2). Computed from stored times alone, so any sweep, before or after a restart, agrees.
pub fn due_level(
    kind: AndonKind,
    raised_at: OffsetDateTime,
    now: OffsetDateTime,
    after: &[u64],
) -> u8 {
    let elapsed = (now - raised_at).whole_seconds();
    let reached = after
        .iter()
        .take(usize::from(TOP_LEVEL))
        .filter(|delay| i64::try_from(**delay).is_ok_and(|d| elapsed >= d))
        .count();
    u8::try_from(reached)
        .unwrap_or(TOP_LEVEL)
        .max(initial_level(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_delays_and_safety_starts_at_one() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let at = |s: i64| t0 + ::time::Duration::seconds(s);
        let after = [120, 600];
        assert_eq!(due_level(AndonKind::Help, t0, at(0), &after), 0);
        assert_eq!(due_level(AndonKind::Help, t0, at(119), &after), 0);
        assert_eq!(due_level(AndonKind::Help, t0, at(120), &after), 1);
        assert_eq!(due_level(AndonKind::Help, t0, at(599), &after), 1);
        assert_eq!(due_level(AndonKind::Help, t0, at(600), &after), 2);
        assert_eq!(due_level(AndonKind::Help, t0, at(60_000), &after), 2);
        assert_eq!(due_level(AndonKind::Safety, t0, at(0), &after), 1);
        assert_eq!(due_level(AndonKind::Safety, t0, at(600), &after), 2);
        // A clock set back never lowers a level below the start.
        assert_eq!(due_level(AndonKind::Safety, t0, at(-5), &after), 1);
    }
}
