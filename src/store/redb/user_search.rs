//! The directory's `q`: a case-insensitive substring of a username or display name (or an
//! email, for viewers who may see emails), answered from a trigram index.
//!
//! Every user is listed in `USERS_GRAMS` under each three-character run of their lower-cased
//! username and display name (and, flagged with `EMAIL`, of their email), counted per trigram
//! in `USER_GRAM_COUNTS`, in the row's transaction. A `q` of three characters or more is inside
//! a text only if every trigram of `q` is too, so the users listed under `q`'s rarest trigram
//! (intersected with the next rarest while that is cheap) are the only candidates; each is then
//! checked against `USERS_Q_BY_ID` and the matches sorted for the page. The cost follows the
//! rarest trigram, not the directory: a name looked up among a million users reads a few
//! thousand index keys. A `q` shorter than a trigram, or one so common that its rarest trigram
//! lists a quarter of the directory, walks the compact `q` index instead (`users.rs`), which
//! costs the same per user and needs no sort.

use std::collections::BTreeSet;

use redb::{ReadTransaction, ReadableTable, WriteTransaction};

use super::audit::nanos;
use super::storage_err;
use super::tables::*;
use crate::domain::user::User;
use crate::store::StoreError;

/// Set in a packed trigram that comes from an email, which only some viewers may match.
pub const EMAIL: u64 = 1 << 63;

/// Below this many candidates the trigram index is used whatever the directory's size.
const ALWAYS_INDEXED: usize = 4096;

/// A candidate list at most this many times shorter than the next trigram's list is narrowed by
/// walking that list; a longer one would cost more to walk than its candidates cost to check.
const NARROW_RATIO: usize = 8;

/// Candidates this few are checked directly rather than narrowed further.
const FEW: usize = 32;

/// What `q` is matched against, and how.
pub struct Needle {
    /// The lower-cased, non-empty `q`.
    pub q: String,
    /// Whether `q` also matches emails.
    pub email: bool,
    pub role: Option<&'static str>,
    pub active: Option<bool>,
}

impl Needle {
    pub fn matches(
        &self,
        role: &str,
        active: bool,
        name: &str,
        display: &str,
        email: &str,
    ) -> bool {
        self.role.is_none_or(|r| r == role)
            && self.active.is_none_or(|a| a == active)
            && (name.contains(&self.q)
                || display.contains(&self.q)
                || (self.email && email.contains(&self.q)))
    }
}

/// The distinct trigrams of `text`, each packed as three 21-bit characters.
fn grams(text: &str, flag: u64, into: &mut BTreeSet<u64>) {
    let chars: Vec<u64> = text.chars().map(u64::from).collect();
    for w in chars.windows(3) {
        into.insert(flag | (w[0] << 42) | (w[1] << 21) | w[2]);
    }
}

/// The lower-cased username, display name and email of `u`.
fn texts(u: &User) -> [String; 3] {
    [
        u.username.to_lowercase(),
        u.display_name.to_lowercase(),
        u.email.to_lowercase(),
    ]
}

/// Every trigram a user with these `texts` is listed under.
fn user_grams([name, display, email]: &[String; 3]) -> BTreeSet<u64> {
    let mut all = BTreeSet::new();
    grams(name, 0, &mut all);
    grams(display, 0, &mut all);
    grams(email, EMAIL, &mut all);
    all
}

/// Moves a user's trigrams and `USERS_Q_BY_ID` entry from `old` (`None`: not listed yet) to
/// `new`. Only the trigrams that differ are written, so a change that leaves the texts alone
/// (a role, a password) touches none of them.
pub(super) fn reindex_user_text(
    txn: &WriteTransaction,
    old: Option<&User>,
    new: &User,
) -> Result<(), StoreError> {
    let id = new.id.0;
    let new_texts = texts(new);
    let [name, display, email] = &new_texts;
    let text = (
        nanos(new.created_at),
        new.role.as_str(),
        new.is_active,
        name.as_str(),
        display.as_str(),
        email.as_str(),
    );
    txn.open_table(USERS_Q_BY_ID)
        .map_err(storage_err)?
        .insert(id, text)
        .map_err(storage_err)?;
    let before = old.map(|o| user_grams(&texts(o))).unwrap_or_default();
    let after = user_grams(&new_texts);
    let mut index = txn.open_table(USERS_GRAMS).map_err(storage_err)?;
    let mut counts = txn.open_table(USER_GRAM_COUNTS).map_err(storage_err)?;
    for (gram, insert) in before
        .difference(&after)
        .map(|g| (*g, false))
        .chain(after.difference(&before).map(|g| (*g, true)))
    {
        let n = counts
            .get(gram)
            .map_err(storage_err)?
            .map_or(0, |g| g.value());
        if insert {
            index.insert((gram, id), ()).map_err(storage_err)?;
            counts.insert(gram, n + 1).map_err(storage_err)?;
        } else {
            index.remove((gram, id)).map_err(storage_err)?;
            match n.saturating_sub(1) {
                0 => counts.remove(gram).map(drop),
                n => counts.insert(gram, n).map(drop),
            }
            .map_err(storage_err)?;
        }
    }
    Ok(())
}

/// The ids listed under `gram`, in id order.
fn listed(index: &impl ReadableTable<(u64, u64), ()>, gram: u64) -> Result<Vec<u64>, StoreError> {
    index
        .range((gram, 0)..=(gram, u64::MAX))
        .map_err(storage_err)?
        .map(|row| row.map(|(k, _)| k.value().1).map_err(storage_err))
        .collect()
}

/// Keeps the ids of `ids` (in id order) that are also listed under `gram`.
fn narrow(
    index: &impl ReadableTable<(u64, u64), ()>,
    ids: &mut Vec<u64>,
    gram: u64,
) -> Result<(), StoreError> {
    let mut other = index
        .range((gram, 0)..=(gram, u64::MAX))
        .map_err(storage_err)?
        .map(|row| row.map(|(k, _)| k.value().1));
    let mut next = other.next().transpose().map_err(storage_err)?;
    let mut result: Result<(), StoreError> = Ok(());
    ids.retain(|&id| {
        while next.is_some_and(|n| n < id) {
            match other.next().transpose() {
                Ok(n) => next = n,
                Err(e) => {
                    result = Err(storage_err(e));
                    next = None;
                }
            }
        }
        next == Some(id)
    });
    result
}

/// The users that may match `needle`, in id order, from the trigram index; `None` when `q` is
/// shorter than a trigram or so common that walking the `users` directory costs less.
pub(super) fn candidates(
    txn: &ReadTransaction,
    needle: &Needle,
    users: usize,
) -> Result<Option<Vec<u64>>, StoreError> {
    let mut plain = BTreeSet::new();
    grams(&needle.q, 0, &mut plain);
    if plain.is_empty() {
        return Ok(None);
    }
    let index = txn.open_table(USERS_GRAMS).map_err(storage_err)?;
    let counts = txn.open_table(USER_GRAM_COUNTS).map_err(storage_err)?;
    let most = ALWAYS_INDEXED.max(users / 4);
    let flags: &[u64] = if needle.email { &[0, EMAIL] } else { &[0] };
    let mut found = Vec::new();
    for &flag in flags {
        let mut rarest = Vec::with_capacity(plain.len());
        for &gram in &plain {
            let n = counts
                .get(gram | flag)
                .map_err(storage_err)?
                .map_or(0, |g| g.value());
            rarest.push((usize::try_from(n).unwrap_or(usize::MAX), gram | flag));
        }
        rarest.sort_unstable();
        let Some(&(least, first)) = rarest.first() else {
            continue;
        };
        if least == 0 {
            continue;
        }
        if least > most {
            return Ok(None);
        }
        let mut ids = listed(&index, first)?;
        for &(n, gram) in &rarest[1..] {
            if ids.len() <= FEW || n > ids.len().saturating_mul(NARROW_RATIO) {
                break;
            }
            narrow(&index, &mut ids, gram)?;
        }
        found.extend(ids);
    }
    found.sort_unstable();
    found.dedup();
    Ok(Some(found))
}

/// The page `offset..offset + limit` of the `candidates` that match `needle`, in username (or
/// creation) order, ties by id, and how many match.
pub(super) fn page(
    txn: &ReadTransaction,
    needle: &Needle,
    candidates: Vec<u64>,
    by_name: bool,
    descending: bool,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<u64>), StoreError> {
    let texts = txn.open_table(USERS_Q_BY_ID).map_err(storage_err)?;
    let mut named: Vec<(String, u64)> = Vec::new();
    let mut timed: Vec<(i64, u64)> = Vec::new();
    for id in candidates {
        let Some(text) = texts.get(id).map_err(storage_err)? else {
            continue;
        };
        let (ts, role, active, name, display, email) = text.value();
        if !needle.matches(role, active, name, display, email) {
            continue;
        }
        if by_name {
            named.push((name.to_owned(), id));
        } else {
            timed.push((ts, id));
        }
    }
    let count = named.len() + timed.len();
    let page = if by_name {
        page_of(named, descending, offset, limit)
    } else {
        page_of(timed, descending, offset, limit)
    };
    Ok((count, page))
}

/// The ids of `offset..offset + limit` of `keyed` in key order (then id order), reversed when
/// `descending`; only the rows up to the page's end are sorted.
fn page_of<K: Ord>(
    mut keyed: Vec<(K, u64)>,
    descending: bool,
    offset: usize,
    limit: usize,
) -> Vec<u64> {
    let order = |a: &(K, u64), b: &(K, u64)| {
        let o = a.cmp(b);
        if descending { o.reverse() } else { o }
    };
    let end = offset.saturating_add(limit);
    if end == 0 || offset >= keyed.len() {
        return Vec::new();
    }
    if end < keyed.len() {
        keyed.select_nth_unstable_by(end, order);
        keyed.truncate(end);
    }
    keyed.sort_unstable_by(order);
    keyed.into_iter().skip(offset).map(|(_, id)| id).collect()
}
