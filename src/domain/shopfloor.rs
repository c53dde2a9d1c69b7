//! The shop floor (API.md §Shop floor): assets, shifts, downtime reasons, downtime events and
//! production counts, and the rules each one keeps on its own.

use ::time::OffsetDateTime;
use serde::{Deserialize, Serialize};

use super::activity::wire_enum;
use super::error::{FieldErrors, push_field};
use super::ids::{AssetId, DowntimeId, ProductionId, ReasonId, ShiftId, UserId};
use super::time::rfc3339;

wire_enum!(
    /// Where an asset sits in the plant's tree.
    AssetKind {
        /// A whole plant.
        Site = "site", "Site";
        /// An area of a site.
        Area = "area", "Area";
        /// A production line.
        Line = "line", "Line";
        /// A workstation on a line.
        Workstation = "workstation", "Workstation";
        /// A machine.
        Machine = "machine", "Machine";
    }
);

wire_enum!(
    /// Derived: `down` while the asset has an open downtime event.
    AssetState {
        /// No open downtime event.
        Running = "running", "Running";
        /// An open downtime event.
        Down = "down", "Down";
    }
);

wire_enum!(
    /// Which OEE factor a downtime reason costs.
    Loss {
        /// Time lost (stops).
        Availability = "availability", "Availability";
        /// Speed lost (minor stops, slow running).
        Performance = "performance", "Performance";
        /// Good units lost (scrap, rework).
        Quality = "quality", "Quality";
    }
);

wire_enum!(
    /// A day of the week, as shifts name them.
    Weekday {
        /// Monday.
        Mon = "mon", "Monday";
        /// Tuesday.
        Tue = "tue", "Tuesday";
        /// Wednesday.
        Wed = "wed", "Wednesday";
        /// Thursday.
        Thu = "thu", "Thursday";
        /// Friday.
        Fri = "fri", "Friday";
        /// Saturday.
        Sat = "sat", "Saturday";
        /// Sunday.
        Sun = "sun", "Sunday";
    }
);

impl Weekday {
    /// Monday is 0.
    pub fn from_monday(n: i8) -> Weekday {
        Weekday::ALL
            .get(usize::try_from(n.rem_euclid(7)).unwrap_or(0))
            .copied()
            .unwrap_or(Weekday::Mon)
    }
}

/// A site, area, line, workstation or machine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Asset {
    /// Server-assigned id.
    pub id: AssetId,
    /// 1–32 characters, unique (case-insensitively).
    pub code: String,
    /// 1–200 characters.
    pub name: String,
    /// Its place in the tree.
    pub kind: AssetKind,
    /// The asset it belongs to; `null` for a root.
    #[schema(required = true)]
    pub parent_id: Option<AssetId>,
    /// Seconds per good unit at rated speed (> 0); needed for performance.
    #[schema(required = true)]
    pub ideal_cycle_secs: Option<f64>,
    /// Inactive assets stay in the tree and in history.
    pub is_active: bool,
    /// Derived from its open downtime event.
    pub state: AssetState,
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

/// A recurring shift in the plant's time zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Shift {
    /// Server-assigned id.
    pub id: ShiftId,
    /// 1–100 characters.
    pub name: String,
    /// Local start, `HH:MM`.
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub starts: String,
    /// Local end, `HH:MM`; at or before `starts` means it ends the next day.
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub ends: String,
    /// The days it starts on.
    pub days: Vec<Weekday>,
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

/// A reason for downtime; reasons form a tree and only leaves go on events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DowntimeReason {
    /// Server-assigned id.
    pub id: ReasonId,
    /// 1–32 characters, unique (case-insensitively).
    pub code: String,
    /// 1–200 characters.
    pub name: String,
    /// The reason it refines.
    #[schema(required = true)]
    pub parent_id: Option<ReasonId>,
    /// Planned stops (changeover, planned maintenance) leave planned production time instead
    /// of counting as a loss.
    pub planned: bool,
    /// The OEE factor it costs.
    pub loss: Loss,
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

/// A stop of one asset; events of one asset never overlap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DowntimeEvent {
    /// Server-assigned id.
    pub id: DowntimeId,
    /// The asset that stopped.
    pub asset_id: AssetId,
    /// Why; `null` until classified. Always a leaf reason.
    #[schema(required = true)]
    pub reason_id: Option<ReasonId>,
    /// When it stopped.
    #[serde(with = "rfc3339")]
    pub started_at: OffsetDateTime,
    /// When it ran again; `null` while the asset is still down.
    #[schema(required = true)]
    #[serde(with = "rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
    /// At most 2,000 characters.
    pub note: String,
    /// Who reported it.
    pub reported_by: UserId,
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

/// Units made by one asset over a span of time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductionCount {
    /// Server-assigned id.
    pub id: ProductionId,
    /// The asset that made them.
    pub asset_id: AssetId,
    /// Start of the span.
    #[serde(with = "rfc3339")]
    pub started_at: OffsetDateTime,
    /// End of the span; not before `started_at`.
    #[serde(with = "rfc3339")]
    pub ended_at: OffsetDateTime,
    /// Units made.
    pub total_count: u64,
    /// Good units; at most `total_count`.
    pub good_count: u64,
    /// Who reported it.
    pub reported_by: UserId,
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

/// Longest code of an asset or reason.
pub const MAX_CODE: usize = 32;
/// Longest name.
pub const MAX_NAME: usize = 200;
/// Longest downtime note.
pub const MAX_NOTE: usize = 2000;

/// Checks a code (1–32 characters, no blanks around it).
pub fn validate_code(code: &str, fields: &mut FieldErrors) {
    let n = code.chars().count();
    if code.trim().is_empty() {
        push_field(fields, "code", "must not be empty");
    } else if n > MAX_CODE {
        push_field(fields, "code", "must be at most 32 characters");
    } else if code.trim() != code {
        push_field(fields, "code", "must not start or end with a space");
    }
}

/// Checks a name (1–`max` characters, not blank).
pub fn validate_name(name: &str, max: usize, fields: &mut FieldErrors) {
    if name.trim().is_empty() {
        push_field(fields, "name", "must not be empty");
    } else if name.chars().count() > max {
        push_field(fields, "name", format!("must be at most {max} characters"));
    }
}

/// Checks the ideal cycle: finite and above zero.
pub fn validate_cycle(cycle: Option<f64>, fields: &mut FieldErrors) {
    if let Some(c) = cycle
        && !(c.is_finite() && c > 0.0)
    {
        push_field(fields, "ideal_cycle_secs", "must be greater than 0");
    }
}

/// Parses `HH:MM` into minutes after midnight.
pub fn parse_clock(raw: &str) -> Option<u16> {
    let (h, m) = raw.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// Checks a shift's name, clock times and days.
pub fn validate_shift(shift: &Shift, fields: &mut FieldErrors) {
    validate_name(&shift.name, 100, fields);
    for (field, value) in [("starts", &shift.starts), ("ends", &shift.ends)] {
        if parse_clock(value).is_none() {
            push_field(
                fields,
                field,
                "must be a time HH:MM between 00:00 and 23:59",
            );
        }
    }
    if shift.days.is_empty() {
        push_field(fields, "days", "must name at least one day");
    }
}

/// Checks a span of time: the end (when given) after the start.
pub fn validate_span(
    start: OffsetDateTime,
    end: Option<OffsetDateTime>,
    end_field: &str,
    fields: &mut FieldErrors,
) {
    if let Some(end) = end
        && end <= start
    {
        push_field(fields, end_field, "must be after started_at");
    }
}

/// Checks production counts.
pub fn validate_counts(total: u64, good: u64, fields: &mut FieldErrors) {
    if good > total {
        push_field(fields, "good_count", "must not exceed total_count");
    }
}

/// Checks a downtime note.
pub fn validate_note(note: &str, fields: &mut FieldErrors) {
    if note.chars().count() > MAX_NOTE {
        push_field(fields, "note", "must be at most 2000 characters");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_parse_within_a_day_only() {
        assert_eq!(parse_clock("06:00"), Some(360));
        assert_eq!(parse_clock("23:59"), Some(1439));
        assert_eq!(parse_clock("24:00"), None);
        assert_eq!(parse_clock("6:00"), None);
        assert_eq!(parse_clock("06:60"), None);
        assert_eq!(parse_clock("x"), None);
    }
}
