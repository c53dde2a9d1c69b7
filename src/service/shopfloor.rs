//! The shop floor (API.md §Shop floor): assets, shifts, downtime reasons, downtime events,
//! production counts, OEE and the downtime Pareto. Everyone signed in reads; who writes is
//! decided here, in `visibility`'s terms.

use std::collections::HashMap;
use std::sync::Arc;

use ::time::OffsetDateTime;
use serde::{Deserialize, Serialize};

use super::Principal;
use super::activities::double_option;
use super::audit::AuditLog;
use super::pagination::{Page, PageRequest};
use super::visibility;
use crate::domain::error::FieldErrors;
use crate::domain::oee::{self, Group};
use crate::domain::shopfloor::{
    self as sf, Asset, AssetKind, AssetState, DowntimeEvent, DowntimeReason, Loss, ProductionCount,
    Shift, Weekday,
};
use crate::domain::time::{self, Timestamp};
use crate::domain::{AssetId, DomainError, DowntimeId, ProductionId, ReasonId, ShiftId};
use crate::store::{
    AssetFilter, Changeset, DowntimeFilter, Expect, IdKind, ProductionFilter, Store, Write,
};

/// `POST /api/assets/` body.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct NewAsset {
    /// 1–32 characters, unique.
    #[schema(min_length = 1, max_length = 32, pattern = r"\S")]
    pub code: String,
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// Its place in the tree.
    pub kind: AssetKind,
    /// The asset it belongs to.
    pub parent_id: Option<AssetId>,
    /// Seconds per unit at rated speed, > 0.
    #[schema(exclusive_minimum = 0)]
    pub ideal_cycle_secs: Option<f64>,
    /// Defaults to true.
    pub is_active: Option<bool>,
}

/// `PATCH /api/assets/{id}/` body.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct AssetPatch {
    /// New code.
    #[schema(min_length = 1, max_length = 32, pattern = r"\S")]
    pub code: Option<String>,
    /// New name.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    /// New kind.
    pub kind: Option<AssetKind>,
    /// New parent, or `null` for a root.
    #[serde(default, deserialize_with = "double_option::plain")]
    pub parent_id: Option<Option<AssetId>>,
    /// New ideal cycle, or `null`.
    #[serde(default, deserialize_with = "double_option::plain")]
    #[schema(exclusive_minimum = 0)]
    pub ideal_cycle_secs: Option<Option<f64>>,
    /// Active or not.
    pub is_active: Option<bool>,
    /// Apply only if the asset is at this version.
    pub version: Option<u64>,
}

/// `POST /api/shifts/` body; `PATCH` takes the same fields, each optional.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ShiftInput {
    /// 1–100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    /// `HH:MM`.
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub starts: Option<String>,
    /// `HH:MM`; at or before `starts` means the next day.
    #[schema(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
    pub ends: Option<String>,
    /// The days it starts on; defaults to Monday to Friday.
    #[schema(min_items = 1)]
    pub days: Option<Vec<Weekday>>,
    /// Apply only if the shift is at this version (PATCH).
    pub version: Option<u64>,
}

/// `POST /api/downtime/reasons/` body; `PATCH` takes the same fields, each optional.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ReasonInput {
    /// 1–32 characters, unique.
    #[schema(min_length = 1, max_length = 32, pattern = r"\S")]
    pub code: Option<String>,
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    /// The reason it refines, or `null`.
    #[serde(default, deserialize_with = "double_option::plain")]
    pub parent_id: Option<Option<ReasonId>>,
    /// Planned stop; defaults to false.
    pub planned: Option<bool>,
    /// Defaults to `availability`.
    pub loss: Option<Loss>,
    /// Apply only if the reason is at this version (PATCH).
    pub version: Option<u64>,
}

/// `POST /api/downtime/` body.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct NewDowntime {
    /// The asset that stopped.
    pub asset_id: AssetId,
    /// A leaf reason, or absent until classified.
    pub reason_id: Option<ReasonId>,
    /// Defaults to now.
    #[serde(default, with = "::time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// Absent or `null` while the asset is still down.
    #[serde(default, with = "::time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
    /// At most 2,000 characters.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: String,
}

/// `PATCH /api/downtime/{id}/` body (staff).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct DowntimePatch {
    /// New leaf reason, or `null`.
    #[serde(default, deserialize_with = "double_option::plain")]
    pub reason_id: Option<Option<ReasonId>>,
    /// New start.
    #[serde(default, with = "::time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// New end, or `null` to reopen.
    #[serde(default, deserialize_with = "double_option::time")]
    pub ended_at: Option<Option<OffsetDateTime>>,
    /// New note.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
    /// Apply only if the event is at this version.
    pub version: Option<u64>,
}

/// `POST /api/downtime/{id}/end/` body (optional).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct EndDowntime {
    /// Defaults to now.
    #[serde(default, with = "::time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
    /// Classify it while ending it.
    pub reason_id: Option<ReasonId>,
}

/// `POST /api/production/` body.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
pub struct NewProduction {
    /// The asset that made them.
    pub asset_id: AssetId,
    /// Start of the span.
    #[serde(with = "::time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// End of the span, after the start.
    #[serde(with = "::time::serde::rfc3339")]
    pub ended_at: OffsetDateTime,
    /// Units made.
    pub total_count: u64,
    /// Good units, at most `total_count`.
    pub good_count: u64,
}

/// `PATCH /api/production/{id}/` body (staff).
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ProductionPatch {
    /// New start.
    #[serde(default, with = "::time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// New end.
    #[serde(default, with = "::time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
    /// New total.
    pub total_count: Option<u64>,
    /// New good count.
    pub good_count: Option<u64>,
    /// Apply only if the count is at this version.
    pub version: Option<u64>,
}

/// `GET /api/shifts/current/` answer.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CurrentShift {
    /// The shift.
    pub shift: Shift,
    /// When this occurrence began (UTC).
    #[serde(with = "::time::serde::rfc3339")]
    pub start: OffsetDateTime,
    /// When it ends (UTC).
    #[serde(with = "::time::serde::rfc3339")]
    pub end: OffsetDateTime,
}

/// One row of `GET /api/oee/`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct OeeRow {
    /// The asset asked for.
    pub asset_id: AssetId,
    /// Bucket start.
    #[serde(with = "::time::serde::rfc3339")]
    pub from: OffsetDateTime,
    /// Bucket end.
    #[serde(with = "::time::serde::rfc3339")]
    pub to: OffsetDateTime,
    /// Planned production time, seconds.
    pub planned_secs: i64,
    /// Unplanned downtime in planned time, seconds.
    pub downtime_secs: i64,
    /// Run time, seconds.
    pub run_secs: i64,
    /// Units (split in proportion to time where a count straddles buckets).
    pub total_count: f64,
    /// Good units.
    pub good_count: f64,
    /// Run ÷ planned; `null` when nothing was planned.
    #[schema(required = true)]
    pub availability: Option<f64>,
    /// Ideal time of the units ÷ run; `null` without run time or ideal cycle.
    #[schema(required = true)]
    pub performance: Option<f64>,
    /// Good ÷ total; `null` without units.
    #[schema(required = true)]
    pub quality: Option<f64>,
    /// The product; `null` when a factor is.
    #[schema(required = true)]
    pub oee: Option<f64>,
}

/// One row of `GET /api/downtime/pareto/`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ParetoRow {
    /// The reason; `null` for events not yet classified.
    #[schema(required = true)]
    pub reason_id: Option<ReasonId>,
    /// Its code; `null` when unclassified.
    #[schema(required = true)]
    pub code: Option<String>,
    /// Its name; `Unclassified` for events without a reason.
    pub name: String,
    /// Events overlapping the window.
    pub events: u64,
    /// Their seconds inside the window.
    pub seconds: i64,
}

/// `GET /api/oee/` parameters.
#[derive(Clone, Copy, Debug)]
pub struct OeeQuery {
    /// The asset (its leaves are summed).
    pub asset: AssetId,
    /// Window start.
    pub from: Timestamp,
    /// Window end.
    pub to: Timestamp,
    /// Buckets.
    pub group: Group,
}

/// The longest OEE or Pareto window.
const MAX_WINDOW_SECS: i64 = 400 * 86_400;
/// The most buckets one OEE answer holds.
const MAX_BUCKETS: usize = 10_000;

fn not_found(what: &str) -> impl FnOnce() -> DomainError + '_ {
    move || DomainError::NotFound(format!("no such {what}"))
}

fn staff_only(principal: &Principal, what: &str) -> Result<(), DomainError> {
    if visibility::can_manage_shop_floor(&principal.user) {
        Ok(())
    } else {
        Err(DomainError::Forbidden(format!(
            "only admin or staff may {what}"
        )))
    }
}

/// A time as stored: UTC, whole seconds.
fn whole(t: OffsetDateTime, field: &str) -> Result<Timestamp, DomainError> {
    let t = time::to_utc(t).ok_or_else(|| DomainError::field(field, time::OUT_OF_RANGE))?;
    Ok(t.replace_nanosecond(0).unwrap_or(t))
}

fn expect(version: Option<u64>) -> Expect {
    version.map_or(Expect::Exists, Expect::Version)
}

/// Shop-floor use cases; cheap to clone.
#[derive(Clone)]
pub struct ShopfloorService {
    store: Arc<dyn Store>,
    audit: AuditLog,
    tz: jiff::tz::TimeZone,
}

impl ShopfloorService {
    /// Builds the service; days and shifts begin in `tz` (`plant.timezone`).
    pub fn new(store: Arc<dyn Store>, audit: AuditLog, tz: jiff::tz::TimeZone) -> Self {
        Self { store, audit, tz }
    }

    async fn apply(&self, changeset: Changeset, what: &str) -> Result<(), DomainError> {
        super::apply_or(self.store.as_ref(), changeset, not_found(what)).await
    }

    fn audited(
        &self,
        principal: &Principal,
        changeset: &mut Changeset,
        action: &str,
        target: String,
        detail: serde_json::Value,
    ) {
        changeset.push(self.audit.by(principal, action, target, detail));
    }

    // ---- assets ----

    /// One asset.
    pub async fn asset(&self, _principal: &Principal, id: AssetId) -> Result<Asset, DomainError> {
        self.store.asset(id).await?.ok_or_else(not_found("asset"))
    }

    /// Assets by code.
    pub async fn assets(
        &self,
        _principal: &Principal,
        filter: AssetFilter,
        page: PageRequest,
    ) -> Result<Page<Asset>, DomainError> {
        let (count, results) = self
            .store
            .asset_page(&filter, page.offset(), page.page_size)
            .await?;
        Ok(Page {
            count,
            results,
            request: page,
        })
    }

    /// The asset and everything below it, parents before children.
    pub async fn subtree(
        &self,
        principal: &Principal,
        id: AssetId,
    ) -> Result<Vec<Asset>, DomainError> {
        self.asset(principal, id).await?;
        let mut out = Vec::new();
        for id in self.store.asset_subtree(id).await? {
            if let Some(a) = self.store.asset(id).await? {
                out.push(a);
            }
        }
        Ok(out)
    }

    fn check_asset(a: &Asset) -> Result<(), DomainError> {
        let mut fields = FieldErrors::new();
        sf::validate_code(&a.code, &mut fields);
        sf::validate_name(&a.name, sf::MAX_NAME, &mut fields);
        sf::validate_cycle(a.ideal_cycle_secs, &mut fields);
        DomainError::check(fields)
    }

    /// Creates an asset (admin, staff).
    pub async fn create_asset(
        &self,
        principal: &Principal,
        input: NewAsset,
    ) -> Result<Asset, DomainError> {
        staff_only(principal, "change assets")?;
        let now = time::now();
        let asset = Asset {
            id: AssetId(self.store.allocate_id(IdKind::Asset)),
            code: input.code,
            name: input.name.trim().to_string(),
            kind: input.kind,
            parent_id: input.parent_id,
            ideal_cycle_secs: input.ideal_cycle_secs,
            is_active: input.is_active.unwrap_or(true),
            state: AssetState::Running,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        Self::check_asset(&asset)?;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutAsset(asset.clone(), Expect::New));
        self.audited(
            principal,
            &mut changeset,
            "asset.create",
            format!("asset:{}", asset.id),
            serde_json::json!({"code": asset.code}),
        );
        self.apply(changeset, "asset").await?;
        Ok(asset)
    }

    /// Changes an asset (admin, staff); a parent that would make a cycle is `400`.
    pub async fn update_asset(
        &self,
        principal: &Principal,
        id: AssetId,
        patch: AssetPatch,
    ) -> Result<Asset, DomainError> {
        let old = self.asset(principal, id).await?;
        staff_only(principal, "change assets")?;
        let mut new = old.clone();
        if let Some(c) = patch.code {
            new.code = c;
        }
        if let Some(n) = patch.name {
            new.name = n.trim().to_string();
        }
        if let Some(k) = patch.kind {
            new.kind = k;
        }
        if let Some(p) = patch.parent_id {
            new.parent_id = p;
        }
        if let Some(c) = patch.ideal_cycle_secs {
            new.ideal_cycle_secs = c;
        }
        if let Some(a) = patch.is_active {
            new.is_active = a;
        }
        Self::check_asset(&new)?;
        if new.parent_id == Some(id) {
            return Err(DomainError::field(
                "parent_id",
                "would make the tree a cycle",
            ));
        }
        // A stale version is refused even when nothing would change.
        stale_check(patch.version, old.version)?;
        if new == old {
            return Ok(old);
        }
        new.updated_at = time::now();
        new.version = old.version + 1;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutAsset(
            new.clone(),
            Expect::Version(patch.version.unwrap_or(old.version)),
        ));
        self.audited(
            principal,
            &mut changeset,
            "asset.update",
            format!("asset:{id}"),
            serde_json::json!({"code": new.code}),
        );
        self.apply(changeset, "asset").await?;
        self.asset(principal, id).await
    }

    /// Deletes an asset with no children, events or counts (admin, staff).
    pub async fn delete_asset(
        &self,
        principal: &Principal,
        id: AssetId,
    ) -> Result<(), DomainError> {
        let old = self.asset(principal, id).await?;
        staff_only(principal, "change assets")?;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::DeleteAsset(id));
        self.audited(
            principal,
            &mut changeset,
            "asset.delete",
            format!("asset:{id}"),
            serde_json::json!({"code": old.code}),
        );
        self.apply(changeset, "asset").await
    }

    // ---- shifts ----

    /// Every shift.
    pub async fn shifts(&self, _principal: &Principal) -> Result<Vec<Shift>, DomainError> {
        Ok(self.store.shifts().await?)
    }

    /// One shift.
    pub async fn shift(&self, _principal: &Principal, id: ShiftId) -> Result<Shift, DomainError> {
        self.store.shift(id).await?.ok_or_else(not_found("shift"))
    }

    fn admin_only(principal: &Principal) -> Result<(), DomainError> {
        if visibility::can_manage_shifts(&principal.user) {
            Ok(())
        } else {
            Err(DomainError::Forbidden(
                "only an admin may change shifts".into(),
            ))
        }
    }

    /// Creates a shift (admin).
    pub async fn create_shift(
        &self,
        principal: &Principal,
        input: ShiftInput,
    ) -> Result<Shift, DomainError> {
        Self::admin_only(principal)?;
        no_version_on_create(input.version)?;
        let now = time::now();
        let mut fields = FieldErrors::new();
        for (field, value) in [
            ("name", &input.name),
            ("starts", &input.starts),
            ("ends", &input.ends),
        ] {
            if value.is_none() {
                crate::domain::error::push_field(&mut fields, field, "is required");
            }
        }
        DomainError::check(fields)?;
        let shift = Shift {
            id: ShiftId(self.store.allocate_id(IdKind::Shift)),
            name: input.name.unwrap_or_default().trim().to_string(),
            starts: input.starts.unwrap_or_default(),
            ends: input.ends.unwrap_or_default(),
            days: input.days.unwrap_or_else(|| Weekday::ALL[..5].to_vec()),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let mut fields = FieldErrors::new();
        sf::validate_shift(&shift, &mut fields);
        DomainError::check(fields)?;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutShift(shift.clone(), Expect::New));
        self.audited(
            principal,
            &mut changeset,
            "shift.create",
            format!("shift:{}", shift.id),
            serde_json::json!({"name": shift.name}),
        );
        self.apply(changeset, "shift").await?;
        Ok(shift)
    }

    /// Changes a shift (admin).
    pub async fn update_shift(
        &self,
        principal: &Principal,
        id: ShiftId,
        input: ShiftInput,
    ) -> Result<Shift, DomainError> {
        let old = self.shift(principal, id).await?;
        Self::admin_only(principal)?;
        let mut new = old.clone();
        if let Some(n) = input.name {
            new.name = n.trim().to_string();
        }
        if let Some(s) = input.starts {
            new.starts = s;
        }
        if let Some(e) = input.ends {
            new.ends = e;
        }
        if let Some(d) = input.days {
            new.days = d;
        }
        let mut fields = FieldErrors::new();
        sf::validate_shift(&new, &mut fields);
        DomainError::check(fields)?;
        // A stale version is refused even when nothing would change.
        stale_check(input.version, old.version)?;
        if new == old {
            return Ok(old);
        }
        new.updated_at = time::now();
        new.version = old.version + 1;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutShift(
            new.clone(),
            Expect::Version(input.version.unwrap_or(old.version)),
        ));
        self.audited(
            principal,
            &mut changeset,
            "shift.update",
            format!("shift:{id}"),
            serde_json::json!({"name": new.name}),
        );
        self.apply(changeset, "shift").await?;
        Ok(new)
    }

    /// Deletes a shift (admin).
    pub async fn delete_shift(
        &self,
        principal: &Principal,
        id: ShiftId,
    ) -> Result<(), DomainError> {
        let old = self.shift(principal, id).await?;
        Self::admin_only(principal)?;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::DeleteShift(id));
        self.audited(
            principal,
            &mut changeset,
            "shift.delete",
            format!("shift:{id}"),
            serde_json::json!({"name": old.name}),
        );
        self.apply(changeset, "shift").await
    }

    /// The shift occurrence holding `at`, if any.
    pub async fn shift_at(
        &self,
        _principal: &Principal,
        at: Timestamp,
    ) -> Result<Option<CurrentShift>, DomainError> {
        let shifts = self.store.shifts().await?;
        let now = at.unix_timestamp();
        for (start, end) in oee::shift_spans(&self.tz, &shifts, now, now + 1) {
            if start <= now && now < end {
                // Which shift the span is: the one whose clock times give this start.
                for shift in &shifts {
                    let spans =
                        oee::shift_spans(&self.tz, std::slice::from_ref(shift), now, now + 1);
                    if let Some(&(s, e)) = spans.iter().find(|(s, e)| *s <= now && now < *e) {
                        let (Ok(s), Ok(e)) = (
                            OffsetDateTime::from_unix_timestamp(s.max(start)),
                            OffsetDateTime::from_unix_timestamp(e.min(end)),
                        ) else {
                            continue;
                        };
                        return Ok(Some(CurrentShift {
                            shift: shift.clone(),
                            start: s,
                            end: e,
                        }));
                    }
                }
            }
        }
        Ok(None)
    }

    // ---- downtime reasons ----

    /// One reason.
    pub async fn reason(
        &self,
        _principal: &Principal,
        id: ReasonId,
    ) -> Result<DowntimeReason, DomainError> {
        self.store
            .reason(id)
            .await?
            .ok_or_else(not_found("downtime reason"))
    }

    /// Reasons by code.
    pub async fn reasons(
        &self,
        _principal: &Principal,
        page: PageRequest,
    ) -> Result<Page<DowntimeReason>, DomainError> {
        let (count, results) = self
            .store
            .reason_page(page.offset(), page.page_size)
            .await?;
        Ok(Page {
            count,
            results,
            request: page,
        })
    }

    fn check_reason(r: &DowntimeReason) -> Result<(), DomainError> {
        let mut fields = FieldErrors::new();
        sf::validate_code(&r.code, &mut fields);
        sf::validate_name(&r.name, sf::MAX_NAME, &mut fields);
        if r.parent_id == Some(r.id) {
            crate::domain::error::push_field(
                &mut fields,
                "parent_id",
                "would make the tree a cycle",
            );
        }
        DomainError::check(fields)
    }

    /// Creates a reason (admin, staff).
    pub async fn create_reason(
        &self,
        principal: &Principal,
        input: ReasonInput,
    ) -> Result<DowntimeReason, DomainError> {
        staff_only(principal, "change downtime reasons")?;
        no_version_on_create(input.version)?;
        let now = time::now();
        let reason = DowntimeReason {
            id: ReasonId(self.store.allocate_id(IdKind::Reason)),
            code: input.code.unwrap_or_default(),
            name: input.name.unwrap_or_default().trim().to_string(),
            parent_id: input.parent_id.flatten(),
            planned: input.planned.unwrap_or(false),
            loss: input.loss.unwrap_or(Loss::Availability),
            created_at: now,
            updated_at: now,
            version: 1,
        };
        Self::check_reason(&reason)?;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutReason(reason.clone(), Expect::New));
        self.audited(
            principal,
            &mut changeset,
            "downtime_reason.create",
            format!("downtime_reason:{}", reason.id),
            serde_json::json!({"code": reason.code}),
        );
        self.apply(changeset, "downtime reason").await?;
        Ok(reason)
    }

    /// Changes a reason (admin, staff).
    pub async fn update_reason(
        &self,
        principal: &Principal,
        id: ReasonId,
        input: ReasonInput,
    ) -> Result<DowntimeReason, DomainError> {
        let old = self.reason(principal, id).await?;
        staff_only(principal, "change downtime reasons")?;
        let mut new = old.clone();
        if let Some(c) = input.code {
            new.code = c;
        }
        if let Some(n) = input.name {
            new.name = n.trim().to_string();
        }
        if let Some(p) = input.parent_id {
            new.parent_id = p;
        }
        if let Some(p) = input.planned {
            new.planned = p;
        }
        if let Some(l) = input.loss {
            new.loss = l;
        }
        Self::check_reason(&new)?;
        // A stale version is refused even when nothing would change.
        stale_check(input.version, old.version)?;
        if new == old {
            return Ok(old);
        }
        new.updated_at = time::now();
        new.version = old.version + 1;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutReason(
            new.clone(),
            Expect::Version(input.version.unwrap_or(old.version)),
        ));
        self.audited(
            principal,
            &mut changeset,
            "downtime_reason.update",
            format!("downtime_reason:{id}"),
            serde_json::json!({"code": new.code}),
        );
        self.apply(changeset, "downtime reason").await?;
        Ok(new)
    }

    /// Deletes a reason with no children and no events (admin, staff).
    pub async fn delete_reason(
        &self,
        principal: &Principal,
        id: ReasonId,
    ) -> Result<(), DomainError> {
        let old = self.reason(principal, id).await?;
        staff_only(principal, "change downtime reasons")?;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::DeleteReason(id));
        self.audited(
            principal,
            &mut changeset,
            "downtime_reason.delete",
            format!("downtime_reason:{id}"),
            serde_json::json!({"code": old.code}),
        );
        self.apply(changeset, "downtime reason").await
    }

    // ---- downtime events ----

    /// One event.
    pub async fn downtime(
        &self,
        _principal: &Principal,
        id: DowntimeId,
    ) -> Result<DowntimeEvent, DomainError> {
        self.store
            .downtime(id)
            .await?
            .ok_or_else(not_found("downtime event"))
    }

    /// The ids of `asset`'s subtree, or `400` naming `field` when it does not exist.
    async fn subtree_of(&self, asset: AssetId, field: &str) -> Result<Vec<AssetId>, DomainError> {
        if self.store.asset(asset).await?.is_none() {
            return Err(DomainError::field(field, "must name an existing asset"));
        }
        Ok(self.store.asset_subtree(asset).await?)
    }

    /// Events, newest first; `asset` includes its subtree.
    pub async fn downtimes(
        &self,
        _principal: &Principal,
        asset: Option<AssetId>,
        mut filter: DowntimeFilter,
        page: PageRequest,
    ) -> Result<Page<DowntimeEvent>, DomainError> {
        if let Some(asset) = asset {
            filter.assets = Some(self.subtree_of(asset, "asset").await?);
        }
        let (count, results) = self
            .store
            .downtime_page(&filter, page.offset(), page.page_size)
            .await?;
        Ok(Page {
            count,
            results,
            request: page,
        })
    }

    fn check_downtime(e: &DowntimeEvent) -> Result<(), DomainError> {
        let mut fields = FieldErrors::new();
        sf::validate_span(e.started_at, e.ended_at, "ended_at", &mut fields);
        sf::validate_note(&e.note, &mut fields);
        DomainError::check(fields)
    }

    /// Reports a stop (anyone); one overlapping another of the asset is `409`.
    pub async fn report_downtime(
        &self,
        principal: &Principal,
        input: NewDowntime,
    ) -> Result<DowntimeEvent, DomainError> {
        let now = time::now();
        let started_at = match input.started_at {
            Some(t) => whole(t, "started_at")?,
            None => now,
        };
        let ended_at = input.ended_at.map(|t| whole(t, "ended_at")).transpose()?;
        let event = DowntimeEvent {
            id: DowntimeId(self.store.allocate_id(IdKind::Downtime)),
            asset_id: input.asset_id,
            reason_id: input.reason_id,
            started_at,
            ended_at,
            note: input.note,
            reported_by: principal.user.id,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        Self::check_downtime(&event)?;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutDowntime(event.clone(), Expect::New));
        self.audited(
            principal,
            &mut changeset,
            "downtime.report",
            format!("downtime:{}", event.id),
            serde_json::json!({"asset_id": event.asset_id}),
        );
        self.apply(changeset, "downtime event").await?;
        Ok(event)
    }

    /// Ends an open stop (anyone); ending one already ended is `409`.
    pub async fn end_downtime(
        &self,
        principal: &Principal,
        id: DowntimeId,
        input: EndDowntime,
    ) -> Result<DowntimeEvent, DomainError> {
        let old = self.downtime(principal, id).await?;
        if !visibility::can_end_downtime(&principal.user, &old) {
            return Err(DomainError::Forbidden("may not end this event".into()));
        }
        if old.ended_at.is_some() {
            return Err(DomainError::Conflict(
                "the downtime event has already ended".into(),
            ));
        }
        let now = time::now();
        let mut new = old.clone();
        new.ended_at = Some(match input.ended_at {
            Some(t) => whole(t, "ended_at")?,
            None => now.max(old.started_at + ::time::Duration::seconds(1)),
        });
        if let Some(r) = input.reason_id {
            new.reason_id = Some(r);
        }
        Self::check_downtime(&new)?;
        new.updated_at = now;
        new.version = old.version + 1;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutDowntime(
            new.clone(),
            Expect::Version(old.version),
        ));
        self.audited(
            principal,
            &mut changeset,
            "downtime.end",
            format!("downtime:{id}"),
            serde_json::json!({"asset_id": new.asset_id}),
        );
        self.apply(changeset, "downtime event").await?;
        Ok(new)
    }

    /// Edits an event (admin, staff).
    pub async fn update_downtime(
        &self,
        principal: &Principal,
        id: DowntimeId,
        patch: DowntimePatch,
    ) -> Result<DowntimeEvent, DomainError> {
        let old = self.downtime(principal, id).await?;
        staff_only(principal, "edit downtime events")?;
        let mut new = old.clone();
        if let Some(r) = patch.reason_id {
            new.reason_id = r;
        }
        if let Some(t) = patch.started_at {
            new.started_at = whole(t, "started_at")?;
        }
        if let Some(t) = patch.ended_at {
            new.ended_at = t.map(|t| whole(t, "ended_at")).transpose()?;
        }
        if let Some(n) = patch.note {
            new.note = n;
        }
        Self::check_downtime(&new)?;
        // A stale version is refused even when nothing would change.
        stale_check(patch.version, old.version)?;
        if new == old {
            return Ok(old);
        }
        new.updated_at = time::now();
        new.version = old.version + 1;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutDowntime(
            new.clone(),
            Expect::Version(patch.version.unwrap_or(old.version)),
        ));
        self.audited(
            principal,
            &mut changeset,
            "downtime.update",
            format!("downtime:{id}"),
            serde_json::json!({"asset_id": new.asset_id}),
        );
        self.apply(changeset, "downtime event").await?;
        Ok(new)
    }

    /// Deletes an event (admin, staff).
    pub async fn delete_downtime(
        &self,
        principal: &Principal,
        id: DowntimeId,
    ) -> Result<(), DomainError> {
        let old = self.downtime(principal, id).await?;
        staff_only(principal, "delete downtime events")?;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::DeleteDowntime(id));
        self.audited(
            principal,
            &mut changeset,
            "downtime.delete",
            format!("downtime:{id}"),
            serde_json::json!({"asset_id": old.asset_id}),
        );
        self.apply(changeset, "downtime event").await
    }

    // ---- production counts ----

    /// One count.
    pub async fn production(
        &self,
        _principal: &Principal,
        id: ProductionId,
    ) -> Result<ProductionCount, DomainError> {
        self.store
            .production(id)
            .await?
            .ok_or_else(not_found("production count"))
    }

    /// Counts, newest first; `asset` includes its subtree.
    pub async fn productions(
        &self,
        _principal: &Principal,
        asset: Option<AssetId>,
        mut filter: ProductionFilter,
        page: PageRequest,
    ) -> Result<Page<ProductionCount>, DomainError> {
        if let Some(asset) = asset {
            filter.assets = Some(self.subtree_of(asset, "asset").await?);
        }
        let (count, results) = self
            .store
            .production_page(&filter, page.offset(), page.page_size)
            .await?;
        Ok(Page {
            count,
            results,
            request: page,
        })
    }

    fn check_production(c: &ProductionCount) -> Result<(), DomainError> {
        let mut fields = FieldErrors::new();
        sf::validate_span(c.started_at, Some(c.ended_at), "ended_at", &mut fields);
        sf::validate_counts(c.total_count, c.good_count, &mut fields);
        DomainError::check(fields)
    }

    /// Reports a count (anyone).
    pub async fn report_production(
        &self,
        principal: &Principal,
        input: NewProduction,
    ) -> Result<ProductionCount, DomainError> {
        let now = time::now();
        let count = ProductionCount {
            id: ProductionId(self.store.allocate_id(IdKind::Production)),
            asset_id: input.asset_id,
            started_at: whole(input.started_at, "started_at")?,
            ended_at: whole(input.ended_at, "ended_at")?,
            total_count: input.total_count,
            good_count: input.good_count,
            reported_by: principal.user.id,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        Self::check_production(&count)?;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutProduction(count.clone(), Expect::New));
        self.audited(
            principal,
            &mut changeset,
            "production.report",
            format!("production:{}", count.id),
            serde_json::json!({"asset_id": count.asset_id, "total_count": count.total_count}),
        );
        self.apply(changeset, "production count").await?;
        Ok(count)
    }

    /// Edits a count (admin, staff).
    pub async fn update_production(
        &self,
        principal: &Principal,
        id: ProductionId,
        patch: ProductionPatch,
    ) -> Result<ProductionCount, DomainError> {
        let old = self.production(principal, id).await?;
        staff_only(principal, "edit production counts")?;
        let mut new = old.clone();
        if let Some(t) = patch.started_at {
            new.started_at = whole(t, "started_at")?;
        }
        if let Some(t) = patch.ended_at {
            new.ended_at = whole(t, "ended_at")?;
        }
        if let Some(n) = patch.total_count {
            new.total_count = n;
        }
        if let Some(n) = patch.good_count {
            new.good_count = n;
        }
        Self::check_production(&new)?;
        // A stale version is refused even when nothing would change.
        stale_check(patch.version, old.version)?;
        if new == old {
            return Ok(old);
        }
        new.updated_at = time::now();
        new.version = old.version + 1;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::PutProduction(
            new.clone(),
            expect(Some(patch.version.unwrap_or(old.version))),
        ));
        self.audited(
            principal,
            &mut changeset,
            "production.update",
            format!("production:{id}"),
            serde_json::json!({"asset_id": new.asset_id}),
        );
        self.apply(changeset, "production count").await?;
        Ok(new)
    }

    /// Deletes a count (admin, staff).
    pub async fn delete_production(
        &self,
        principal: &Principal,
        id: ProductionId,
    ) -> Result<(), DomainError> {
        let old = self.production(principal, id).await?;
        staff_only(principal, "delete production counts")?;
        let mut changeset = Changeset::by(principal.user.id);
        changeset.push(Write::DeleteProduction(id));
        self.audited(
            principal,
            &mut changeset,
            "production.delete",
            format!("production:{id}"),
            serde_json::json!({"asset_id": old.asset_id}),
        );
        self.apply(changeset, "production count").await
    }

    /// The filtered events as CSV, header row first, read a page at a time.
    pub async fn downtime_csv(
        &self,
        principal: &Principal,
        asset: Option<AssetId>,
        filter: DowntimeFilter,
    ) -> Result<String, DomainError> {
        let mut out =
            String::from("id,asset_id,reason_id,started_at,ended_at,note,reported_by\r\n");
        let mut number = 1;
        loop {
            let request = PageRequest {
                page: number,
                page_size: 200,
            };
            let page = self
                .downtimes(principal, asset, filter.clone(), request)
                .await?;
            for e in &page.results {
                out.push_str(&format!(
                    "{},{},{},{},{},{},{}\r\n",
                    e.id,
                    e.asset_id,
                    e.reason_id.map(|r| r.to_string()).unwrap_or_default(),
                    rfc3339_text(e.started_at),
                    e.ended_at.map(rfc3339_text).unwrap_or_default(),
                    csv_field(&e.note),
                    e.reported_by
                ));
            }
            if !page.has_next() {
                return Ok(out);
            }
            number += 1;
        }
    }

    // ---- OEE and Pareto ----

    fn window(from: Timestamp, to: Timestamp) -> Result<(i64, i64), DomainError> {
        let (from, to) = (from.unix_timestamp(), to.unix_timestamp());
        if to <= from {
            return Err(DomainError::field("to", "must be after from"));
        }
        if to - from > MAX_WINDOW_SECS {
            return Err(DomainError::field(
                "to",
                "must be at most 400 days after from",
            ));
        }
        Ok((from, to))
    }

    /// The leaves below `asset` (itself when it has no children).
    async fn leaves(&self, asset: AssetId) -> Result<Vec<Asset>, DomainError> {
        let mut out = Vec::new();
        for id in self.subtree_of(asset, "asset").await? {
            if !self.store.asset_has_children(id).await?
                && let Some(a) = self.store.asset(id).await?
            {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// Whether each reason is planned, read once per reason.
    async fn planned_of(
        &self,
        cache: &mut HashMap<ReasonId, Option<DowntimeReason>>,
        reason: ReasonId,
    ) -> Result<bool, DomainError> {
        if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry(reason) {
            slot.insert(self.store.reason(reason).await?);
        }
        Ok(cache
            .get(&reason)
            .and_then(|r| r.as_ref())
            .is_some_and(|r| r.planned))
    }

    /// OEE per bucket of the window, summing the asset's leaves (API.md §Shop floor).
    pub async fn oee(
        &self,
        _principal: &Principal,
        query: OeeQuery,
    ) -> Result<Vec<OeeRow>, DomainError> {
        let (from, to) = Self::window(query.from, query.to)?;
        let shifts = self.store.shifts().await?;
        let (buckets, coverage) = oee::plan(&self.tz, &shifts, query.group, from, to);
        if buckets.len() > MAX_BUCKETS {
            return Err(DomainError::field(
                "group",
                "gives more than 10000 buckets for this window; choose a coarser one",
            ));
        }
        let now = time::now().unix_timestamp();
        let mut reasons = HashMap::new();
        let mut leaves = Vec::new();
        for asset in self.leaves(query.asset).await? {
            let mut stops = Vec::new();
            for s in self.store.stops_between(asset.id, from, to).await? {
                let planned = match s.reason {
                    Some(r) => self.planned_of(&mut reasons, r).await?,
                    None => false,
                };
                let end = s.end.unwrap_or(now.max(s.start));
                stops.push(oee::Stop {
                    start: s.start,
                    end,
                    planned,
                });
            }
            let counts = self
                .store
                .counts_between(asset.id, from, to)
                .await?
                .into_iter()
                .map(|c| oee::Count {
                    start: c.start,
                    end: c.end,
                    total: c.total,
                    good: c.good,
                })
                .collect();
            leaves.push(oee::Leaf {
                ideal_cycle_secs: asset.ideal_cycle_secs,
                stops,
                counts,
            });
        }
        let mut rows = Vec::new();
        for f in oee::compute(&buckets, &coverage, &leaves) {
            let (Ok(bf), Ok(bt)) = (
                OffsetDateTime::from_unix_timestamp(f.from),
                OffsetDateTime::from_unix_timestamp(f.to),
            ) else {
                continue;
            };
            rows.push(OeeRow {
                asset_id: query.asset,
                from: bf,
                to: bt,
                planned_secs: f.planned_secs,
                downtime_secs: f.downtime_secs,
                run_secs: f.run_secs,
                total_count: f.total_count,
                good_count: f.good_count,
                availability: f.availability,
                performance: f.performance,
                quality: f.quality,
                oee: f.oee,
            });
        }
        Ok(rows)
    }

    /// Unplanned downtime in the window by reason, the largest first; planned stops are not a
    /// loss and are left out.
    pub async fn pareto(
        &self,
        _principal: &Principal,
        asset: AssetId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<ParetoRow>, DomainError> {
        let (from, to) = Self::window(from, to)?;
        let now = time::now().unix_timestamp();
        let mut reasons = HashMap::new();
        let mut by_reason: HashMap<Option<ReasonId>, (u64, i64)> = HashMap::new();
        for leaf in self.leaves(asset).await? {
            for s in self.store.stops_between(leaf.id, from, to).await? {
                if let Some(r) = s.reason
                    && self.planned_of(&mut reasons, r).await?
                {
                    continue;
                }
                let end = s.end.unwrap_or(now.max(s.start)).min(to);
                let secs = (end - s.start.max(from)).max(0);
                let entry = by_reason.entry(s.reason).or_default();
                entry.0 += 1;
                entry.1 += secs;
            }
        }
        let mut rows: Vec<ParetoRow> = by_reason
            .into_iter()
            .map(|(reason, (events, seconds))| {
                let r = reason.and_then(|r| reasons.get(&r).cloned().flatten());
                ParetoRow {
                    reason_id: reason,
                    code: r.as_ref().map(|r| r.code.clone()),
                    name: r.map_or_else(|| "Unclassified".to_string(), |r| r.name),
                    events,
                    seconds,
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            b.seconds
                .cmp(&a.seconds)
                .then(b.events.cmp(&a.events))
                .then(a.reason_id.cmp(&b.reason_id))
        });
        Ok(rows)
    }
}

fn rfc3339_text(t: Timestamp) -> String {
    t.format(&::time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break, quotes doubled;
/// otherwise exactly as stored, as the activity export does (README §The API).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The OEE table as CSV, header row first; a `null` ratio is an empty field.
pub fn oee_csv(rows: &[OeeRow]) -> String {
    let mut out = String::from(
        "asset_id,from,to,planned_secs,downtime_secs,run_secs,total_count,good_count,availability,performance,quality,oee\r\n",
    );
    let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}\r\n",
            r.asset_id,
            rfc3339_text(r.from),
            rfc3339_text(r.to),
            r.planned_secs,
            r.downtime_secs,
            r.run_secs,
            r.total_count,
            r.good_count,
            num(r.availability),
            num(r.performance),
            num(r.quality),
            num(r.oee)
        ));
    }
    out
}

/// `Conflict` when the client's `version` is not the stored one, as the store answers a stale
/// write; checked before a change that would change nothing returns early.
fn stale_check(given: Option<u64>, stored: u64) -> Result<(), DomainError> {
    match given {
        Some(v) if v != stored => Err(crate::store::StoreError::Stale.into()),
        _ => Ok(()),
    }
}

/// A new object has no version to check against: the `PATCH`-only field is refused on `POST`,
/// where the two share one body.
fn no_version_on_create(version: Option<u64>) -> Result<(), DomainError> {
    match version {
        Some(_) => Err(DomainError::field(
            "version",
            "is only for changes (PATCH), not for creating",
        )),
        None => Ok(()),
    }
}
