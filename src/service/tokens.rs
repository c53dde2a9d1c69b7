//! Access and refresh tokens: HS256 JWTs with the algorithm pinned.
//!
//! An access token carries `sub`, `sid`, `role`, `exp`, `iat`; a refresh token carries `sub`,
//! `sid`, `gen` (the session's refresh generation) and `typ: "refresh"`. Neither parses as the
//! other, so one can never be used in the other's place.

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
    /// Access-token lifetime in seconds.
    pub access_ttl_secs: u64,
    /// Refresh-token lifetime in seconds.
    pub refresh_ttl_secs: u64,
}

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
}
