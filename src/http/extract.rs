//! Extractors that answer in the API's error format: JSON bodies, queries, paths, the
//! signed-in caller and the client address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::domain::DomainError;
use crate::service::Principal;
use crate::service::pagination::PageRequest;

/// A JSON body; bad JSON, wrong types, wrong content type and oversize bodies answer as
/// `400`, `415` and `413` in the API's error format.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// A JSON body that may be absent (empty); present, it must be valid JSON.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let empty = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() == b"0")
            || (req.headers().get(header::CONTENT_LENGTH).is_none()
                && req.headers().get(header::TRANSFER_ENCODING).is_none());
        if empty {
            return Ok(OptionalJson(None));
        }
        let ApiJson(value) = ApiJson::<T>::from_request(req, state).await?;
        Ok(OptionalJson(Some(value)))
    }
}

/// A path id: not a positive integer is `404`, as no such object exists.
pub struct PathId(pub u64);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(id) =
            axum::extract::Path::<u64>::from_request_parts(parts, state).await?;
        Ok(PathId(id))
    }
}

/// The query string as key → value (last one wins); malformed is `400`.
pub struct QueryMap(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(map) =
            axum::extract::Query::<HashMap<String, String>>::from_request_parts(parts, state)
                .await?;
        Ok(QueryMap(map))
    }
}

impl QueryMap {
    /// A value, with empty strings treated as absent.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `page` and `page_size`, validated.
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        Ok(PageRequest::parse(
            self.0.get("page").map(String::as_str),
            self.0.get("page_size").map(String::as_str),
        )?)
    }

    /// A boolean filter: `true`/`false` (also `1`/`0`); anything else is `400`.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(_) => Err(DomainError::field(key, "must be true or false").into()),
        }
    }
}

impl QueryMap {
    /// A value parsed by `parse`; unparsable is a `400` naming `key` and `expected`.
    pub fn parsed<T>(
        &self,
        key: &str,
        parse: impl FnOnce(&str) -> Option<T>,
        expected: &str,
    ) -> Result<Option<T>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(raw) => match parse(raw) {
                Some(v) => Ok(Some(v)),
                None => Err(DomainError::field(key, format!("must be {expected}")).into()),
            },
        }
    }

    /// A positive integer id.
    pub fn id(&self, key: &str) -> Result<Option<u64>, ApiError> {
        self.parsed(
            key,
            |raw| raw.parse::<u64>().ok().filter(|v| *v > 0),
            "a positive integer id",
        )
    }

    /// An RFC 3339 time, or a `YYYY-MM-DD` date meaning its midnight UTC.
    pub fn time(&self, key: &str) -> Result<Option<crate::domain::time::Timestamp>, ApiError> {
        self.parsed(
            key,
            parse_time,
            "an RFC 3339 time such as 2026-11-28T09:30:00Z, or a date",
        )
    }
}

/// Parses an RFC 3339 time (normalised to UTC) or a `YYYY-MM-DD` date (its midnight UTC);
/// a time whose UTC form is outside the years 0000 to 9999 does not parse.
pub fn parse_time(raw: &str) -> Option<crate::domain::time::Timestamp> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(raw, &Rfc3339) {
        return crate::domain::time::to_utc(t);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(raw, &format)
        .ok()
        .map(|d| d.midnight().assume_utc())
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The signed-in caller, from `Authorization: Bearer <access token>`; `401` otherwise, and
/// `429` over the per-user API rate.
pub struct AuthUser(pub Principal);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers).ok_or_else(|| {
            ApiError::from(DomainError::Unauthenticated(
                "authentication required: send Authorization: Bearer <access token>".into(),
            ))
        })?;
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        let principal = state.services.auth.authenticate(token, ip).await?;
        state
            .api_limit
            .check(&principal.user.id.0)
            .map_err(|retry_after| DomainError::RateLimited { retry_after })?;
        Ok(AuthUser(principal))
    }
}

/// The client's address (the TCP peer).
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| ClientIp(addr.ip()))
            .ok_or_else(|| DomainError::Internal("no client address on request".into()).into())
    }
}
