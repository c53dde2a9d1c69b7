//! Machine keys (API.md §Machine keys): credentials for PLC gateways and wall screens, which
//! act with only their scopes, never as a person. What each scope allows is decided here, once;
//! every adapter (REST, GraphQL, live streams, web UI) classifies its request as a `KeyUse` and
//! asks `allows`, and refuses whatever it cannot classify.

use ::time::OffsetDateTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::activity::wire_enum;
use super::error::{FieldErrors, push_field};
use super::ids::{KeyId, UserId};
use super::time::rfc3339;

wire_enum!(
    /// What a machine key may do.
    KeyScope {
        /// Every read a `user` may make, chat and personal data aside.
        Read = "read", "Read";
        /// Report from the shop floor: downtime events (and ending them), production counts and
        /// andon calls.
        Report = "report", "Report";
        /// `read` plus the live stream, for wall screens.
        Display = "display", "Display";
    }
);

/// What a request asks of a machine key, as its adapter classifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUse {
    /// Reading shared plant data: what any `user` may read, except chat and personal data.
    Read,
    /// Reporting from the shop floor (downtime, production counts, andon calls).
    Report,
    /// The live event stream (WebSocket, SSE, GraphQL subscriptions, live pages).
    Live,
    /// Anything else: chat, one's own account and notifications, user administration, other
    /// keys, and every other write. A key never may.
    Never,
}

/// Whether a key with `scopes` may make a request of `use_`.
pub fn allows(scopes: &[KeyScope], use_: KeyUse) -> bool {
    let has = |s: KeyScope| scopes.contains(&s);
    match use_ {
        KeyUse::Read => has(KeyScope::Read) || has(KeyScope::Display),
        KeyUse::Report => has(KeyScope::Report),
        KeyUse::Live => has(KeyScope::Display),
        KeyUse::Never => false,
    }
}

/// The start of every key's secret, so a leaked one is recognisable (and found by secret
/// scanners) and a bearer credential can be told from an access token at a glance.
pub const SECRET_PREFIX: &str = "nxk_";

/// A new secret: the prefix and 256 random bits in hex.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    let mut secret = String::with_capacity(SECRET_PREFIX.len() + 64);
    secret.push_str(SECRET_PREFIX);
    for b in bytes {
        secret.push_str(&format!("{b:02x}"));
    }
    secret
}

/// What the store keeps of a secret: its SHA-256 in hex. A plain fast hash is enough here,
/// unlike for passwords: a secret is 256 random bits, so a stolen hash cannot be reversed by
/// guessing, and a slow hash would only make every request a key sends slower. Looking a key
/// up by this hash also means no key's secret is ever compared byte by byte.
pub fn secret_hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// Whether `token` has the shape of a key's secret (`nxk_` and 64 hex digits).
pub fn looks_like_secret(token: &str) -> bool {
    token
        .strip_prefix(SECRET_PREFIX)
        .is_some_and(|rest| rest.len() == 64 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A machine key as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MachineKey {
    /// Its id.
    pub id: KeyId,
    /// What it is for, e.g. "Line 2 PLC gateway".
    pub name: String,
    /// What it may do; at least one, each once.
    pub scopes: Vec<KeyScope>,
    /// The admin who created it.
    pub created_by: UserId,
    /// When it was created.
    #[serde(with = "rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was last used, to the minute or so (see the key service).
    #[serde(with = "rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// When it was revoked; a revoked key authenticates nothing.
    #[serde(with = "rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// `secret_hash` of its secret; never shown.
    pub secret_hash: String,
}

impl MachineKey {
    /// Whether the key may still authenticate: the one rule for a request and a live session.
    pub fn is_live(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// The longest key name.
pub const NAME_MAX: usize = 100;

/// Checks a new key's name and scopes; returns the scopes each once, in a fixed order.
pub fn validate_new(name: &str, scopes: &[KeyScope]) -> Result<Vec<KeyScope>, FieldErrors> {
    let mut errors = FieldErrors::new();
    let length = name.trim().chars().count();
    if length == 0 || name.chars().count() > NAME_MAX {
        push_field(
            &mut errors,
            "name",
            format!("must be 1 to {NAME_MAX} characters"),
        );
    }
    if scopes.is_empty() {
        push_field(
            &mut errors,
            "scopes",
            format!("must name at least one of {}", KeyScope::choices()),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut unique: Vec<KeyScope> = scopes.to_vec();
    unique.sort();
    unique.dedup();
    Ok(unique)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scope_allows_what_the_contract_says_and_nothing_else() {
        use KeyScope::*;
        let cases: [(&[KeyScope], [bool; 4]); 5] = [
            // Read, Report, Live, Never
            (&[Read], [true, false, false, false]),
            (&[Report], [false, true, false, false]),
            (&[Display], [true, false, true, false]),
            (&[Read, Report, Display], [true, true, true, false]),
            (&[], [false, false, false, false]),
        ];
        for (scopes, expected) in cases {
            let got = [KeyUse::Read, KeyUse::Report, KeyUse::Live, KeyUse::Never]
                .map(|u| allows(scopes, u));
            assert_eq!(got, expected, "{scopes:?}");
        }
    }

    #[test]
    fn secrets_are_random_recognisable_and_hashed() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert!(looks_like_secret(&a), "{a}");
        assert!(!looks_like_secret("eyJhbGciOiJIUzI1NiJ9.x.y"));
        assert!(!looks_like_secret(&a[..a.len() - 1]));
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert_ne!(secret_hash(&a), secret_hash(&b));
        assert_eq!(secret_hash(&a).len(), 64);
        assert!(!secret_hash(&a).contains(&a[4..]));
    }

    #[test]
    fn a_new_key_needs_a_name_and_a_scope() {
        assert!(validate_new("", &[KeyScope::Read]).is_err());
        assert!(validate_new("gateway", &[]).is_err());
        assert!(validate_new(&"x".repeat(NAME_MAX + 1), &[KeyScope::Read]).is_err());
        assert_eq!(
            validate_new(
                "gateway",
                &[KeyScope::Report, KeyScope::Read, KeyScope::Read]
            ),
            Ok(vec![KeyScope::Read, KeyScope::Report])
        );
    }
}
