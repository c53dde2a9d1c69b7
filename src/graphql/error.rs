//! Errors as GraphQL answers them: each carries the REST `code` in `extensions.code` (the same
//! mapping as REST's `ApiError`, reused, not copied), and a validation error the fields it is
//! about, named as the GraphQL input names them (camelCase).

use async_graphql::{ErrorExtensionValues, ServerError, Value};

use crate::domain::DomainError;
use crate::http::error::ApiError;

/// A domain error as a GraphQL error.
pub(crate) fn from_domain(e: DomainError) -> async_graphql::Error {
    let api = ApiError::from(e);
    let mut error = async_graphql::Error::new(api.message());
    let mut extensions = ErrorExtensionValues::default();
    extend(&mut extensions, &api);
    error.extensions = Some(extensions);
    error
}

/// Adds `code`, `fields` and `retryAfter` of `api` to `extensions`.
pub(crate) fn extend(extensions: &mut ErrorExtensionValues, api: &ApiError) {
    extensions.set("code", api.code());
    if let Some(fields) = api.fields() {
        let fields: async_graphql::indexmap::IndexMap<async_graphql::Name, Value> = fields
            .iter()
            .map(|(field, messages)| {
                let messages = messages.iter().map(|m| Value::from(m.as_str())).collect();
                (
                    async_graphql::Name::new(camel_path(field)),
                    Value::List(messages),
                )
            })
            .collect();
        extensions.set("fields", Value::Object(fields));
    }
    if let Some(secs) = api.retry_after_secs() {
        extensions.set("retryAfter", secs);
    }
}

/// A server error (one found before any resolver ran) with `code`.
pub(crate) fn server_error(message: impl Into<String>, code: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

/// Gives every error of `response` a code: one that none of ours made (the query did not
/// parse or validate, or went over a limit) is the client's mistake, `bad_request`; a
/// persisted query the server does not hold is `not_found`.
pub(crate) fn finish(mut response: async_graphql::Response) -> async_graphql::Response {
    for error in &mut response.errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|e| e.get("code").is_some());
        if !has_code {
            let code = if error.message == "PersistedQueryNotFound" {
                "not_found"
            } else {
                "bad_request"
            };
            error
                .extensions
                .get_or_insert_with(ErrorExtensionValues::default)
                .set("code", code);
        }
    }
    response
}

/// `team_members.1` as `teamMembers.1`: the REST name of a field as GraphQL spells it.
pub(crate) fn camel_path(path: &str) -> String {
    path.split('.').map(camel).collect::<Vec<_>>().join(".")
}

fn camel(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    let mut upper = false;
    for c in segment.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `-startTime` as `-start_time`: an ordering given in GraphQL's spelling as the services
/// know it (REST's spelling passes unchanged).
pub(crate) fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Shorthand: a service result as a resolver result.
pub(crate) trait OrGql<T> {
    /// Maps the error with `from_domain`.
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> OrGql<T> for Result<T, DomainError> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(from_domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_field_names_are_spelled_as_graphql_inputs_are() {
        assert_eq!(camel_path("end_time"), "endTime");
        assert_eq!(camel_path("team_members.1"), "teamMembers.1");
        assert_eq!(camel_path("profile.job_title"), "profile.jobTitle");
        assert_eq!(camel_path("q"), "q");
        assert_eq!(snake("-startTime"), "-start_time");
        assert_eq!(snake("start_time"), "start_time");
    }

    #[test]
    fn a_domain_error_carries_the_rest_code_and_fields() {
        let error = from_domain(DomainError::field(
            "end_time",
            "must not be before start_time",
        ));
        let extensions = error.extensions.expect("extensions");
        assert_eq!(
            extensions.get("code"),
            Some(&Value::from("validation_error"))
        );
        let fields = extensions.get("fields").expect("fields").to_string();
        assert!(fields.contains("endTime"), "{fields}");
        let hidden = from_domain(DomainError::NotFound("no such activity".into()));
        assert_eq!(
            hidden.extensions.expect("extensions").get("code"),
            Some(&Value::from("not_found"))
        );
    }
}
