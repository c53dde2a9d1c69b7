//! Every redb table of Nexus, and the helpers that read and write their values.
//!
//! Values are JSON bytes behind `get_json`/`put_json`, so a damaged record is a `StoreError`
//! rather than a panic, and a field added later with a serde default reads old records.

use redb::{ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::storage_err;
use crate::store::StoreError;

/// Named counters and settings: `schema_version`, `next_id.<kind>`.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// The change log: seq → `ChangeEntry`.
pub const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");
/// (kind, object id, seq) of every change-log entry: one object's history.
pub const CHANGES_BY_OBJECT: TableDefinition<(&str, u64, u64), ()> =
    TableDefinition::new("changes_by_object");
/// Users by id.
pub const USERS: TableDefinition<u64, &[u8]> = TableDefinition::new("users");
/// Lower-cased username → user id.
pub const USERS_BY_USERNAME: TableDefinition<&str, u64> = TableDefinition::new("users_by_username");
/// Lower-cased email → user id.
pub const USERS_BY_EMAIL: TableDefinition<&str, u64> = TableDefinition::new("users_by_email");
/// Sessions by id.
pub const SESSIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("sessions");
/// (user id, session id) → (): a user's sessions, for revoking them together.
pub const SESSIONS_BY_USER: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("sessions_by_user");

/// Activities by id.
pub const ACTIVITIES: TableDefinition<u64, &[u8]> = TableDefinition::new("activities");
/// (status code, activity id) → ().
pub const ACT_BY_STATUS: TableDefinition<(u8, u64), ()> = TableDefinition::new("act_by_status");
/// (type code, activity id) → ().
pub const ACT_BY_TYPE: TableDefinition<(u8, u64), ()> = TableDefinition::new("act_by_type");
/// (priority code, activity id) → ().
pub const ACT_BY_PRIORITY: TableDefinition<(u8, u64), ()> = TableDefinition::new("act_by_priority");
/// (assignee id or 0, activity id) → ().
pub const ACT_BY_ASSIGNEE: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("act_by_assignee");
/// (creator id, activity id) → ().
pub const ACT_BY_CREATOR: TableDefinition<(u64, u64), ()> = TableDefinition::new("act_by_creator");
/// (project id or 0, activity id) → ().
pub const ACT_BY_PROJECT: TableDefinition<(u64, u64), ()> = TableDefinition::new("act_by_project");
/// (start time as unix seconds, activity id) → (), for activities with a start time.
pub const ACT_BY_START: TableDefinition<(i64, u64), ()> = TableDefinition::new("act_by_start");
/// Projects by id.
pub const PROJECTS: TableDefinition<u64, &[u8]> = TableDefinition::new("projects");
/// Lower-cased name of a project not archived → its id.
pub const PROJECTS_BY_NAME: TableDefinition<&str, u64> = TableDefinition::new("projects_by_name");
/// (user id, project id) → () for the manager and every team member.
pub const PROJECTS_BY_PERSON: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("projects_by_person");
/// Updates (announcements) by id.
pub const UPDATES: TableDefinition<u64, &[u8]> = TableDefinition::new("updates");
/// Notifications by id.
pub const NOTIFICATIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("notifications");
/// (recipient id, notification id) → ().
pub const NOTIFICATIONS_BY_USER: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("notifications_by_user");
/// Chat messages by id.
pub const MESSAGES: TableDefinition<u64, &[u8]> = TableDefinition::new("messages");
/// (conversation key high, low, message id) → (); see `chat::conversation_key`.
pub const MESSAGES_BY_CONVERSATION: TableDefinition<(u64, u64, u64), ()> =
    TableDefinition::new("messages_by_conversation");
/// (user id, peer id) → () for every direct conversation a user has.
pub const CHAT_PEERS: TableDefinition<(u64, u64), ()> = TableDefinition::new("chat_peers");
/// (user id, conversation key high, low) → last message id read.
pub const CHAT_READ: TableDefinition<(u64, u64, u64), u64> = TableDefinition::new("chat_read");
/// Audit entries by id.
pub const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");

// ---- chat lists ----

/// (conversation key high, low, sender id or 0 for everyone's, level, unit) → messages in the
/// unit: level 0 holds each message id (count 1), level `l` the ids sharing `id >> 8l`. Counts
/// and offsets of a conversation read at most 256 rows per level (see `chat::Rank`).
pub const CHAT_RANK: TableDefinition<(u64, u64, u64, u8, u64), u64> =
    TableDefinition::new("chat_rank");

// ---- audit log and notifications: list indexes (issue 18) ----

/// (unix nanoseconds, audit id) → (): the whole log by time, for `since` and retention.
pub const AUDIT_BY_TS: TableDefinition<(i64, u64), ()> = TableDefinition::new("audit_by_ts");
/// Audit id → its time in unix nanoseconds: the whole log, newest first, without decoding rows.
pub const AUDIT_TS_BY_ID: TableDefinition<u64, i64> = TableDefinition::new("audit_ts_by_id");
/// (action, audit id) → unix nanoseconds.
pub const AUDIT_BY_ACTION: TableDefinition<(&str, u64), i64> =
    TableDefinition::new("audit_by_action");
/// (actor id, audit id) → unix nanoseconds, for entries with an actor.
pub const AUDIT_BY_ACTOR: TableDefinition<(u64, u64), i64> = TableDefinition::new("audit_by_actor");
/// (actor id, action, audit id) → unix nanoseconds, for entries with an actor.
pub const AUDIT_BY_ACTOR_ACTION: TableDefinition<(u64, &str, u64), i64> =
    TableDefinition::new("audit_by_actor_action");
/// (filter key, UTC day or `i64::MIN` for all days) → entries (see `audit::count_keys`).
pub const AUDIT_COUNTS: TableDefinition<(&str, i64), u64> = TableDefinition::new("audit_counts");
/// (recipient id, notification id) → () for each notification not yet read.
pub const NOTIFICATIONS_UNREAD: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("notifications_unread");
/// (created at as unix nanoseconds, notification id) → recipient id, for each read
/// notification: what retention may remove, oldest first.
pub const NOTIFICATIONS_READ_BY_CREATED: TableDefinition<(i64, u64), u64> =
    TableDefinition::new("notifications_read_by_created");
/// (recipient id, 0 = all or 1 = unread) → how many notifications.
pub const NOTIFICATION_COUNTS: TableDefinition<(u64, u8), u64> =
    TableDefinition::new("notification_counts");

// ---- updates, users and projects: list indexes (issue 18) ----
//
// Each list index is keyed by a filter prefix ("" for no filter, then one per indexed filter
// and combination; see `updates::prefixes`, `users::prefixes`, `projects::prefixes`), then the
// sort key, then the id: a page of any indexed filter in any ordering is one range walk.

/// (filter prefix, created at as unix nanoseconds, update id) → ().
pub const UPDATES_BY_CREATED: TableDefinition<(&str, i64, u64), ()> =
    TableDefinition::new("updates_by_created");
/// (filter prefix, priority code, update id) → created at as unix nanoseconds.
pub const UPDATES_BY_PRIORITY: TableDefinition<(&str, u8, u64), i64> =
    TableDefinition::new("updates_by_priority");
/// (filter prefix, UTC day or `i64::MIN` for all days) → updates.
pub const UPDATE_COUNTS: TableDefinition<(&str, i64), u64> = TableDefinition::new("update_counts");
/// (filter prefix, lower-cased username, user id) → ().
pub const USERS_BY_NAME: TableDefinition<(&str, &str, u64), ()> =
    TableDefinition::new("users_by_name");
/// (filter prefix, created at as unix nanoseconds, user id) → ().
pub const USERS_BY_CREATED: TableDefinition<(&str, i64, u64), ()> =
    TableDefinition::new("users_by_created");
/// (lower-cased username, user id) → (role, active, lower-cased display name, lower-cased
/// email): what `q` matches, walked in username order without decoding rows.
pub const USERS_Q_BY_NAME: TableDefinition<(&str, u64), (&str, bool, &str, &str)> =
    TableDefinition::new("users_q_by_name");
/// (created at as unix nanoseconds, user id) → (role, active, lower-cased username, display
/// name, email): the same, in creation order.
pub const USERS_Q_BY_CREATED: TableDefinition<(i64, u64), UserText> =
    TableDefinition::new("users_q_by_created");
/// (role, active, lower-cased username, display name, email).
pub type UserText = (&'static str, bool, &'static str, &'static str, &'static str);
/// (packed trigram, user id) → (): the users whose lower-cased username or display name has
/// the trigram, or, with `user_search::EMAIL` set in the trigram, whose email has it.
pub const USERS_GRAMS: TableDefinition<(u64, u64), ()> = TableDefinition::new("users_grams");
/// Packed trigram → how many users `USERS_GRAMS` lists under it.
pub const USER_GRAM_COUNTS: TableDefinition<u64, u64> = TableDefinition::new("user_gram_counts");
/// User id → (created at as unix nanoseconds, role, active, lower-cased username, display
/// name, email): what a trigram candidate is checked and ordered by, without decoding rows.
pub const USERS_Q_BY_ID: TableDefinition<u64, UserTextById> = TableDefinition::new("users_q_by_id");
/// (created at as unix nanoseconds, role, active, lower-cased username, display name, email).
pub type UserTextById = (
    i64,
    &'static str,
    bool,
    &'static str,
    &'static str,
    &'static str,
);
/// Filter prefix → users.
pub const USER_COUNTS: TableDefinition<&str, u64> = TableDefinition::new("user_counts");
/// (filter prefix, lower-cased name, project id) → (status code, manager id).
pub const PROJECTS_BY_LNAME: TableDefinition<(&str, &str, u64), (u8, u64)> =
    TableDefinition::new("projects_by_lname");
/// (filter prefix, start date as a julian day or `i64::MAX` when unset, project id) → (status
/// code, manager id).
pub const PROJECTS_BY_START: TableDefinition<(&str, i64, u64), (u8, u64)> =
    TableDefinition::new("projects_by_start");
/// (filter prefix, end date as a julian day or `i64::MAX` when unset, project id) → (status
/// code, manager id).
pub const PROJECTS_BY_END: TableDefinition<(&str, i64, u64), (u8, u64)> =
    TableDefinition::new("projects_by_end");
/// (filter prefix, created at as unix nanoseconds, project id) → (status code, manager id).
pub const PROJECTS_BY_CREATED: TableDefinition<(&str, i64, u64), (u8, u64)> =
    TableDefinition::new("projects_by_created");
/// (team member id, project id) → (): the team alone, without the manager.
pub const PROJECTS_BY_MEMBER: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("projects_by_member");
/// Filter prefix → projects.
pub const PROJECT_COUNTS: TableDefinition<&str, u64> = TableDefinition::new("project_counts");

/// Rows a backfill holds in memory at once.
const BACKFILL_CHUNK: usize = 10_000;

/// Runs `index` over every row of `table`, in id order, once per database: the META key
/// `marker` records that it ran (in the same transaction). For index tables added after rows
/// were written; rows are read in chunks, so a long table is never in memory at once.
pub fn backfill_once<T: DeserializeOwned>(
    txn: &redb::WriteTransaction,
    marker: &str,
    table: TableDefinition<u64, &[u8]>,
    mut index: impl FnMut(&T) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    {
        let mut meta = txn.open_table(META).map_err(storage_err)?;
        if meta.get(marker).map_err(storage_err)?.is_some() {
            return Ok(());
        }
        meta.insert(marker, 1).map_err(storage_err)?;
    }
    let mut next = 0u64;
    loop {
        let mut chunk: Vec<T> = Vec::new();
        let mut last = None;
        {
            let rows = txn.open_table(table).map_err(storage_err)?;
            for row in rows
                .range(next..)
                .map_err(storage_err)?
                .take(BACKFILL_CHUNK)
            {
                let (key, value) = row.map_err(storage_err)?;
                last = Some(key.value());
                chunk.push(decode(value.value())?);
            }
        }
        let Some(last) = last else {
            return Ok(());
        };
        for row in &chunk {
            index(row)?;
        }
        match last.checked_add(1) {
            Some(n) => next = n,
            None => return Ok(()),
        }
    }
}

/// Reads and decodes the JSON value at `key`.
pub fn get_json<K, T, Tbl>(table: &Tbl, key: K::SelfType<'_>) -> Result<Option<T>, StoreError>
where
    K: redb::Key + 'static,
    T: DeserializeOwned,
    Tbl: ReadableTable<K, &'static [u8]>,
{
    match table.get(key).map_err(storage_err)? {
        None => Ok(None),
        Some(guard) => decode(guard.value()).map(Some),
    }
}

/// Decodes one stored JSON value.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Encodes and writes `value` at `key`.
pub fn put_json<K, T>(
    table: &mut redb::Table<'_, K, &'static [u8]>,
    key: K::SelfType<'_>,
    value: &T,
) -> Result<(), StoreError>
where
    K: redb::Key + 'static,
    T: Serialize,
{
    let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Backend(e.to_string()))?;
    table.insert(key, bytes.as_slice()).map_err(storage_err)?;
    Ok(())
}

// ---- the shop floor (issue 15) ----
//
// Times in these keys are unix seconds (the API's times are whole seconds); an open downtime
// event's end is `i64::MAX` and an absent reason or parent is 0.

/// Assets by id.
pub const ASSETS: TableDefinition<u64, &[u8]> = TableDefinition::new("assets");
/// Lower-cased code → (asset id, kind code, parent id or 0): uniqueness, and the list in code
/// order without decoding rows.
pub const ASSETS_BY_CODE: TableDefinition<&str, (u64, u8, u64)> =
    TableDefinition::new("assets_by_code");
/// (parent id or 0, asset id) → (): the tree.
pub const ASSETS_BY_PARENT: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("assets_by_parent");
/// (asset id, downtime event id) → () for each open event: the asset's derived state.
pub const ASSETS_DOWN: TableDefinition<(u64, u64), ()> = TableDefinition::new("assets_down");
/// Shifts by id.
pub const SHIFTS: TableDefinition<u64, &[u8]> = TableDefinition::new("shifts");
/// Downtime reasons by id.
pub const REASONS: TableDefinition<u64, &[u8]> = TableDefinition::new("downtime_reasons");
/// Lower-cased code → reason id.
pub const REASONS_BY_CODE: TableDefinition<&str, u64> =
    TableDefinition::new("downtime_reasons_by_code");
/// (parent id or 0, reason id) → (): the tree, and whether a reason is a leaf.
pub const REASONS_BY_PARENT: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("downtime_reasons_by_parent");
/// Downtime events by id.
pub const DOWNTIME: TableDefinition<u64, &[u8]> = TableDefinition::new("downtime");
/// (asset id, start, event id) → (end, reason id): one asset's events in time order, for the
/// overlap check and the OEE.
pub const DOWNTIME_BY_ASSET: TableDefinition<(u64, i64, u64), (i64, u64)> =
    TableDefinition::new("downtime_by_asset");
/// (start, event id) → (asset id, end, reason id): the list, newest first.
pub const DOWNTIME_BY_START: TableDefinition<(i64, u64), (u64, i64, u64)> =
    TableDefinition::new("downtime_by_start");
/// (reason id, event id) → (): what a reason is on.
pub const DOWNTIME_BY_REASON: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("downtime_by_reason");
/// Production counts by id.
pub const PRODUCTION: TableDefinition<u64, &[u8]> = TableDefinition::new("production");
/// (asset id, start, count id) → (end, total, good): one asset's counts in time order.
pub const PRODUCTION_BY_ASSET: TableDefinition<(u64, i64, u64), (i64, u64, u64)> =
    TableDefinition::new("production_by_asset");
/// (start, count id) → (asset id, end): the list, newest first.
pub const PRODUCTION_BY_START: TableDefinition<(i64, u64), (u64, i64)> =
    TableDefinition::new("production_by_start");
/// Asset id → the longest count it ever had, in seconds: how far before a window a count
/// that reaches into it may start.
pub const PRODUCTION_SPAN: TableDefinition<u64, i64> = TableDefinition::new("production_span");

// ---- andon calls (issue 16) ----

/// Andon calls by id.
pub const ANDON: TableDefinition<u64, &[u8]> = TableDefinition::new("andon");
/// (raised at as unix seconds, call id) → (asset id, status code, level, kind code): the list,
/// newest first, filtered without decoding rows.
pub const ANDON_BY_RAISED: TableDefinition<(i64, u64), (u64, u8, u8, u8)> =
    TableDefinition::new("andon_by_raised");
/// (raised at as unix seconds, call id) → level, for each call still `open`: what the
/// escalation sweep reads, oldest first.
pub const ANDON_OPEN: TableDefinition<(i64, u64), u8> = TableDefinition::new("andon_open");

/// Machine key id → the key (JSON).
pub const MACHINE_KEYS: TableDefinition<u64, &[u8]> = TableDefinition::new("machine_keys");
/// SHA-256 of a key's secret (hex) → its id: how a request's key is found.
pub const MACHINE_KEYS_BY_HASH: TableDefinition<&str, u64> =
    TableDefinition::new("machine_keys_by_hash");
// ---- acknowledged updates (issue 16) ----
//
// An update that requires acknowledgement is also in `UPDATES_BY_CREATED` and `UPDATE_COUNTS`
// under the prefix `ack` (see `updates::prefixes`): the list a user's pending acknowledgements
// are walked from. Times here are unix seconds.

/// (update id, user id) → when the user acknowledged the update.
pub const UPDATE_ACKS: TableDefinition<(u64, u64), i64> = TableDefinition::new("update_acks");
/// User id → how many of the updates that require acknowledgement now the user acknowledged:
/// with the `ack` count, how many are pending without walking them.
pub const UPDATE_ACK_COUNTS: TableDefinition<u64, u64> = TableDefinition::new("update_ack_counts");
/// Update id → (when it began requiring acknowledgement, whether its reminder was sent).
pub const UPDATE_ACK_REMINDERS: TableDefinition<u64, (i64, bool)> =
    TableDefinition::new("update_ack_reminders");
/// (when it began requiring acknowledgement, update id) → () for each update whose reminder is
/// still to be sent: what the deadline sweep reads, oldest first.
pub const UPDATE_ACK_REMINDERS_DUE: TableDefinition<(i64, u64), ()> =
    TableDefinition::new("update_ack_reminders_due");
// ---- shift handovers (issue 16) ----

/// Shift handovers by id.
pub const HANDOVERS: TableDefinition<u64, &[u8]> = TableDefinition::new("handovers");
/// (created, handover id) → (asset id, status code, writer id): the list, newest first,
/// filtered without decoding rows.
pub const HANDOVERS_BY_CREATED: TableDefinition<(i64, u64), (u64, u8, u64)> =
    TableDefinition::new("handovers_by_created");
/// (submitted, handover id) → () for each handover submitted, not acknowledged and not yet
/// reported overdue: what the deadline sweep reads, oldest first.
pub const HANDOVERS_DUE: TableDefinition<(i64, u64), ()> = TableDefinition::new("handovers_due");
/// (asset id, handover id) → (): whether an asset has handovers.
pub const HANDOVERS_BY_ASSET: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("handovers_by_asset");
