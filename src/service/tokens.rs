//! Access and refresh tokens: HS256 JWTs with the algorithm pinned.
//!
//! An access token carries `sub`, `sid`, `role`, `exp`, `iat`; a refresh token carries `sub`,
//! `sid`, `gen` (the session's refresh generation) and `typ: "refresh"`. Neither parses as the
//! other, so one can never be used in the other's place.

use hmac::{KeyInit, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::time::Timestamp;
use crate::domain::user::User;
use crate::domain::{DomainError, SessionId, UserId};
use crate::store::Session;

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    sub: String,
    sid: u64,
    role: String,
    exp: u64,
    iat: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct RefreshClaims {
    sub: String,
    sid: u64,
    #[serde(rename = "gen")]
    generation: u64,
    typ: String,
    exp: u64,
    iat: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct WebClaims {
    sub: String,
    sid: u64,
    typ: String,
    exp: u64,
    iat: u64,
}

/// What a valid web-session cookie says.
#[derive(Clone, Copy, Debug)]
pub struct WebToken {
    /// The user.
    pub user_id: UserId,
    /// The session.
    pub session_id: SessionId,
    /// When it was issued (Unix seconds), to tell when it is due for renewal.
    pub issued_at: u64,
}

/// What a valid access token says.
#[derive(Clone, Copy, Debug)]
pub struct AccessToken {
    /// The user.
    pub user_id: UserId,
    /// The session.
    pub session_id: SessionId,
}

/// What a valid refresh token says.
#[derive(Clone, Copy, Debug)]
pub struct RefreshToken {
    /// The user.
    pub user_id: UserId,
    /// The session.
    pub session_id: SessionId,
    /// Which of the session's refresh tokens this is.
    pub generation: u64,
}

/// Signs and checks tokens; cheap to clone.
#[derive(Clone)]
pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// The raw signing key, for the CSRF tokens' HMAC.
    mac_key: Box<[u8]>,
    /// Access-token lifetime in seconds.
    pub access_ttl_secs: u64,
    /// Refresh-token lifetime in seconds.
    pub refresh_ttl_secs: u64,
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn unix(t: Timestamp) -> u64 {
    u64::try_from(t.unix_timestamp()).unwrap_or(0)
}

impl TokenService {
    /// Uses `key` as the HMAC key.
    pub fn new(
        key: &[u8],
        access_ttl_secs: u64,
        refresh_ttl_secs: u64,
    ) -> Result<Self, DomainError> {
        let bad_key =
            |e: jsonwebtoken::errors::Error| DomainError::Internal(format!("signing key: {e}"));
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(Self {
            encoding: EncodingKey::from_secret(key).map_err(bad_key)?,
            decoding: DecodingKey::from_secret(key).map_err(bad_key)?,
            validation,
            mac_key: key.into(),
            access_ttl_secs,
            refresh_ttl_secs,
        })
    }

    /// A new access token for `user` in `session`.
    pub fn access(&self, user: &User, session: SessionId) -> Result<String, DomainError> {
        let iat = unix(crate::domain::time::now());
        let claims = AccessClaims {
            sub: user.id.0.to_string(),
            sid: session.0,
            role: user.role.as_str().to_string(),
            iat,
            exp: iat + self.access_ttl_secs,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| DomainError::Internal(format!("signing failed: {e}")))
    }

    /// The refresh token for `session`'s current generation.
    pub fn refresh(&self, session: &Session) -> Result<String, DomainError> {
        let claims = RefreshClaims {
            sub: session.user_id.0.to_string(),
            sid: session.id.0,
            generation: session.refresh_generation,
            typ: "refresh".into(),
            iat: unix(crate::domain::time::now()),
            exp: unix(session.expires_at),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| DomainError::Internal(format!("signing failed: {e}")))
    }

    /// Checks an access token's signature, algorithm and expiry.
    pub fn verify_access(&self, token: &str) -> Option<AccessToken> {
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).ok()?;
        Some(AccessToken {
            user_id: UserId(data.claims.sub.parse().ok()?),
            session_id: SessionId(data.claims.sid),
        })
    }

    /// Checks a refresh token's signature, algorithm, type and expiry.
    pub fn verify_refresh(&self, token: &str) -> Option<RefreshToken> {
        let data =
            jsonwebtoken::decode::<RefreshClaims>(token, &self.decoding, &self.validation).ok()?;
        if data.claims.typ != "refresh" {
            return None;
        }
        Some(RefreshToken {
            user_id: UserId(data.claims.sub.parse().ok()?),
            session_id: SessionId(data.claims.sid),
            generation: data.claims.generation,
        })
    }

    /// A web-session cookie value for `session`, valid for `ttl_secs` from now. It carries
    /// `typ: "web"`, so it never passes as an access or a refresh token.
    pub fn web(&self, session: &Session, ttl_secs: u64) -> Result<String, DomainError> {
        let iat = unix(crate::domain::time::now());
        let claims = WebClaims {
            sub: session.user_id.0.to_string(),
            sid: session.id.0,
            typ: "web".into(),
            iat,
            exp: iat + ttl_secs,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| DomainError::Internal(format!("signing failed: {e}")))
    }

    /// Checks a web-session cookie's signature, algorithm, type and expiry.
    pub fn verify_web(&self, token: &str) -> Option<WebToken> {
        let data =
            jsonwebtoken::decode::<WebClaims>(token, &self.decoding, &self.validation).ok()?;
        if data.claims.typ != "web" {
            return None;
        }
        Some(WebToken {
            user_id: UserId(data.claims.sub.parse().ok()?),
            session_id: SessionId(data.claims.sid),
            issued_at: data.claims.iat,
        })
    }

    /// The CSRF token of `session`: an HMAC of its id under the signing key, so it is bound to
    /// the session, needs no storage, and dies with the session (a new sign-in is a new id).
    pub fn csrf(&self, session: SessionId) -> String {
        let mac = self.csrf_mac(session).finalize().into_bytes();
        mac.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `token` is `session`'s CSRF token (compared in constant time).
    pub fn csrf_matches(&self, session: SessionId, token: &str) -> bool {
        let Some(bytes) = decode_hex(token) else {
            return false;
        };
        self.csrf_mac(session).verify_slice(&bytes).is_ok()
    }

    fn csrf_mac(&self, session: SessionId) -> HmacSha256 {
        // HMAC takes keys of any length, so this cannot fail.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.mac_key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(b"nexus-csrf\0");
        mac.update(&session.0.to_be_bytes());
        mac
    }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}
