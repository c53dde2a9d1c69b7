//! Extractors that answer in the API's error format: JSON bodies, queries, paths, the
//! signed-in caller and the client address.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::domain::DomainError;
use crate::domain::machine_key::KeyUse;
use crate::service::Principal;
use crate::service::pagination::PageRequest;

/// A JSON body. Not JSON, or not a JSON object, is `400 bad_request`; a field missing, of the
/// wrong type or with an unknown value is `400 validation_error` naming the field; a wrong
/// content type is `415` and an oversize body `413`, all in the API's error format.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json_content_type(req.headers()) {
            return Err(ApiError::unsupported_media_type());
        }
        let body = Bytes::from_request(req, state).await?;
        parse_json_body(&body).map(ApiJson)
    }
}

/// `application/json`, or any `application/*+json`, parameters aside.
fn is_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

/// Parses a request body straight into `T`; only when that fails, parses it again in two
/// steps, so that a problem with one field is told apart from a body that is not JSON at all:
/// first into a JSON value, then into `T` with the path of the field that failed. (A good body,
/// the common case, is parsed once.)
pub fn parse_json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // A derived struct also reads from a JSON array; only an object is a body.
    let is_object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if is_object && let Ok(parsed) = serde_json::from_slice::<T>(body) {
        return Ok(parsed);
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("request body must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let (field, message) = field_error(&e);
        DomainError::field(&field, message).into()
    })
}

/// The dotted name of the field a deserialisation error is about, and what is wrong with it
/// in words that do not show Rust types.
pub fn field_error(e: &serde_path_to_error::Error<serde_json::Error>) -> (String, String) {
    use serde_path_to_error::Segment;
    let mut path: Vec<String> = e
        .path()
        .iter()
        .filter_map(|segment| match segment {
            Segment::Map { key } => Some(key.clone()),
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect();
    let raw = e.inner().to_string();
    // serde reports a missing field at its parent's path, with the name only in the message.
    if let Some(missing) = between_backticks(&raw, "missing field `") {
        path.push(missing.to_string());
        return (path.join("."), "is required".into());
    }
    let field = if path.is_empty() {
        "body".to_string()
    } else {
        path.join(".")
    };
    (field, field_message(&raw))
}

fn between_backticks<'a>(raw: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = raw.strip_prefix(prefix)?;
    rest.split('`').next()
}

fn field_message(raw: &str) -> String {
    if raw.starts_with("unknown variant `") {
        // serde writes the choices as "`a`", "`a` or `b`" or "one of `a`, `b`, `c`".
        let choices = raw.split_once(", expected ").map(|(_, list)| {
            let list = list.strip_prefix("one of ").unwrap_or(list);
            list.replace("` or `", ", ").replace('`', "")
        });
        return match choices {
            Some(list) => format!("must be one of {list}"),
            None => "is not one of the allowed values".into(),
        };
    }
    if raw.starts_with("invalid type: ") || raw.starts_with("invalid value: ") {
        let expected = raw
            .rsplit_once(", expected ")
            .map_or("", |(_, expected)| expected);
        return format!("must be {}", plain_expected(expected));
    }
    raw.to_string()
}

/// serde's name for an expected type, in words a client understands.
fn plain_expected(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a sequence" => "a list".into(),
        "a map" => "an object".into(),
        e if e.starts_with("struct ") || e.starts_with("a map") => "an object".into(),
        e if e.starts_with("enum ") || e.starts_with("variant identifier") => {
            "one of the allowed values".into()
        }
        "" => "a value of another type".into(),
        e => e.to_string(),
    }
}

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
/// `None` also for a time outside what UTC RFC 3339 can show (see `domain::time::to_utc`).
pub fn parse_time(raw: &str) -> Option<crate::domain::time::Timestamp> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(raw, &Rfc3339) {
        return crate::domain::time::to_utc(t);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(raw, &format)
        .ok()
        .and_then(|d| crate::domain::time::to_utc(d.midnight().assume_utc()))
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
        let ip = state
            .client_addr
            .client_ip(&parts.headers, &parts.extensions)
            .map(|ip| ip.to_string());
        let principal = state.services.authenticate_bearer(token, ip).await?;
        state
            .api_limit
            .check(&principal.rate_limit_key())
            .map_err(|retry_after| DomainError::RateLimited { retry_after })?;
        if principal.is_key() {
            let route = parts
                .extensions
                .get::<axum::extract::MatchedPath>()
                .map_or("", |m| m.as_str());
            principal.may(rest_key_use(&parts.method, route))?;
        }
        Ok(AuthUser(principal))
    }
}

/// What a REST request asks of a machine key, by its method and route pattern: the REST
/// adapter's one map onto `KeyUse`. Chat, one's own account and notifications, keys and
/// administration are never a key's; reads of the rest are `Read`; the shop floor's reports are
/// `Report`; every other write is never a key's.
pub fn rest_key_use(method: &axum::http::Method, route: &str) -> KeyUse {
    use axum::http::Method;
    const PERSONAL: [&str; 6] = [
        "/api/chat",
        "/api/auth",
        "/api/updates/notifications",
        "/api/keys",
        "/api/admin",
        "/api/audit",
    ];
    let route = route.trim_end_matches('/');
    let under = |prefix: &str| {
        route == prefix
            || route
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    if PERSONAL.iter().any(|p| under(p)) {
        return KeyUse::Never;
    }
    if method == Method::GET || method == Method::HEAD {
        return KeyUse::Read;
    }
    const REPORTS: [&str; 4] = [
        "/api/downtime",
        "/api/downtime/{id}/end",
        "/api/production",
        "/api/andon",
    ];
    if method == Method::POST && REPORTS.contains(&route) {
        return KeyUse::Report;
    }
    KeyUse::Never
}

/// The client's address: the TCP peer, or the forwarded address when the peer is a trusted
/// proxy (see `client_addr`).
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state
            .client_addr
            .client_ip(&parts.headers, &parts.extensions)
            .map(ClientIp)
            .ok_or_else(|| DomainError::Internal("no client address on request".into()).into())
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use serde::Deserialize;

    use super::parse_json_body;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Task,
        Meeting,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        phone: String,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        #[serde(rename = "type")]
        kind: Option<Kind>,
        count: Option<u64>,
        inner: Option<Inner>,
    }

    async fn error_of(body: &str) -> (StatusCode, serde_json::Value) {
        let err = parse_json_body::<Body>(body.as_bytes()).expect_err("refused");
        let response = err.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("json"))
    }

    #[tokio::test]
    async fn field_problems_are_validation_errors_naming_the_field() {
        let cases = [
            (r#"{}"#, "title", "is required"),
            (r#"{"title": 5}"#, "title", "must be a string"),
            (
                r#"{"title": "t", "type": "bogus"}"#,
                "type",
                "must be one of task, meeting",
            ),
            (
                r#"{"title": "t", "count": "x"}"#,
                "count",
                "must be a whole number, 0 or more",
            ),
            (
                r#"{"title": "t", "count": -1}"#,
                "count",
                "must be a whole number, 0 or more",
            ),
            (
                r#"{"title": "t", "inner": {}}"#,
                "inner.phone",
                "is required",
            ),
            (
                r#"{"title": "t", "inner": {"phone": []}}"#,
                "inner.phone",
                "must be a string",
            ),
            (
                r#"{"title": "t", "inner": 3}"#,
                "inner",
                "must be an object",
            ),
        ];
        for (body, field, message) in cases {
            let (status, json) = error_of(body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(json["error"]["code"], "validation_error", "{body}: {json}");
            assert_eq!(json["error"]["fields"][field][0], message, "{body}: {json}");
            let text = json.to_string();
            assert!(
                !text.contains("deserialize") && !text.contains("u64"),
                "{text}"
            );
        }
    }

    #[tokio::test]
    async fn a_body_that_is_not_a_json_object_is_a_bad_request() {
        // The last is a valid `Body` as a sequence, which serde would accept.
        let sequence = r#" ["t", null, null, null]"#;
        for body in [
            "", "{", "not json", "[1]", "\"text\"", "null", "5", sequence,
        ] {
            let (status, json) = error_of(body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}");
            assert_eq!(json["error"]["code"], "bad_request", "{body:?}: {json}");
            assert!(json["error"].get("fields").is_none());
        }
    }

    #[test]
    fn a_key_reads_and_reports_by_route_and_never_reaches_personal_routes() {
        use super::rest_key_use;
        use crate::domain::machine_key::KeyUse;
        use axum::http::Method;
        let cases = [
            (Method::GET, "/api/activities", KeyUse::Read),
            (Method::GET, "/api/assets/{id}/tree", KeyUse::Read),
            (Method::GET, "/api/users", KeyUse::Read),
            (Method::POST, "/api/downtime", KeyUse::Report),
            (Method::POST, "/api/downtime/{id}/end", KeyUse::Report),
            (Method::POST, "/api/production/", KeyUse::Report),
            (Method::POST, "/api/andon", KeyUse::Report),
            (Method::PATCH, "/api/downtime/{id}", KeyUse::Never),
            (Method::POST, "/api/activities", KeyUse::Never),
            (Method::POST, "/api/users", KeyUse::Never),
            (Method::GET, "/api/chat/messages", KeyUse::Never),
            (Method::GET, "/api/chat", KeyUse::Never),
            (Method::GET, "/api/auth/user", KeyUse::Never),
            (Method::GET, "/api/updates/notifications", KeyUse::Never),
            (Method::GET, "/api/keys", KeyUse::Never),
            (Method::GET, "/api/admin/backup", KeyUse::Never),
            (Method::GET, "/api/chatter", KeyUse::Read),
            (Method::DELETE, "/api/keys/{id}", KeyUse::Never),
        ];
        for (method, route, expected) in cases {
            assert_eq!(rest_key_use(&method, route), expected, "{method} {route}");
        }
    }

    #[test]
    fn a_valid_body_parses() {
        let body: Body =
            parse_json_body(br#"{"title": "t", "type": "task", "unknown": 1}"#).expect("parses");
        assert_eq!(body.title, "t");
        assert!(matches!(body.kind, Some(Kind::Task)));
    }
}
