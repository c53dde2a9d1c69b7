//! `/api/openapi.json`: the OpenAPI 3 document, generated from the handlers' `#[utoipa::path]`
//! annotations and the request and response types, so it cannot drift from the code silently.

use std::collections::BTreeMap;

use axum::Json;
use serde::Serialize;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, ArrayItems, ObjectBuilder, OneOfBuilder, Schema,
    SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Required};
use utoipa::{Modify, Number, OpenApi, ToSchema};

use super::{health, rest};

/// The error body every failure answers (API.md §Errors).
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// The inside of an error body.
#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// e.g. `validation_error`, `not_found`.
    code: String,
    /// For people.
    message: String,
    /// Per-field messages, for validation errors only.
    fields: Option<BTreeMap<String, Vec<String>>>,
}

/// An option of a choice list: `{value, label}`.
#[derive(Serialize, ToSchema)]
pub struct Choice {
    value: String,
    label: String,
}

/// A status option: `{value, label, terminal}`.
#[derive(Serialize, ToSchema)]
pub struct StatusChoice {
    value: String,
    label: String,
    terminal: bool,
}

/// A conversation summary; `peer_id` for direct ones, `project_id` for rooms.
#[derive(Serialize, ToSchema)]
pub struct ConversationView {
    /// `direct` or `project`.
    kind: String,
    peer_id: Option<u64>,
    project_id: Option<u64>,
    last_message: crate::domain::chat::Message,
    unread: u64,
}

/// `/healthz` answer.
#[derive(Serialize, ToSchema)]
pub struct HealthBody {
    /// `ok`.
    status: String,
}

/// `/readyz` answer.
#[derive(Serialize, ToSchema)]
pub struct ReadyBody {
    /// `ready` or `unavailable`.
    status: String,
    /// Per part: `ok` or what fails.
    checks: BTreeMap<String, String>,
    /// Only when unavailable: code `unavailable` and the failing parts.
    error: Option<ErrorDetail>,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Component schemas that only ever describe answers. Their objects are closed
/// (`additionalProperties: false`), so that a field the server sends without documenting it, or
/// one that should never leave it, breaks the document instead of passing unnoticed. Request
/// bodies stay open: unknown fields in them are ignored (API.md §General).
const RESPONSE_SCHEMAS: &[&str] = &[
    "Activity",
    "AndonCall",
    "Asset",
    "AuditEntry",
    "CurrentShift",
    "DowntimeEvent",
    "DowntimeReason",
    "OeeRow",
    "ParetoRow",
    "ProductionCount",
    "Shift",
    "Choice",
    "ConversationView",
    "CreatedKey",
    "KeyView",
    "ErrorBody",
    "ErrorDetail",
    "HealthBody",
    "Hit",
    "Message",
    "NotificationView",
    "Profile",
    "Project",
    "ReadyBody",
    "SearchBody",
    "StatusChoice",
    "TokenBody",
    "Update",
    "UserView",
    "Handover",
];

/// `ListBody<T>` is named `ListBody_T`, and utoipa writes a generic argument's schema inline,
/// so every page repeated its object's schema and a generated client got a type of its own per
/// page (`ListBodyActivityResultsItem`) instead of `Activity`. Each page's `results` now
/// references the object's component schema.
struct PageItemsByRef;

impl Modify for PageItemsByRef {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let mut moved = Vec::new();
        for (name, schema) in components.schemas.iter_mut() {
            let Some(item) = name.strip_prefix("ListBody_") else {
                continue;
            };
            let RefOr::T(Schema::Object(page)) = schema else {
                continue;
            };
            if let Some(RefOr::T(Schema::Array(results))) = page.properties.get_mut("results") {
                let by_ref = ArrayItems::RefOrSchema(Box::new(Ref::from_schema_name(item).into()));
                if let ArrayItems::RefOrSchema(inline) =
                    std::mem::replace(&mut results.items, by_ref)
                {
                    moved.push((item.to_string(), *inline));
                }
            }
        }
        // An object type that only ever appears in pages has no component of its own yet.
        for (name, inline) in moved {
            components.schemas.entry(name).or_insert(inline);
        }
    }
}

struct StrictResponses;

impl Modify for StrictResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for (name, schema) in components.schemas.iter_mut() {
            if RESPONSE_SCHEMAS.contains(&name.as_str()) || name.starts_with("ListBody_") {
                close_objects(schema);
            }
        }
    }
}

/// Closes every object with properties in `schema`, inline ones included; maps (objects that
/// already say what their additional properties are) stay as they are.
fn close_objects(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else {
        return;
    };
    match schema {
        Schema::Object(object) => {
            if object.additional_properties.is_none() && !object.properties.is_empty() {
                object.additional_properties =
                    Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
            object.properties.values_mut().for_each(close_objects);
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                close_objects(items);
            }
        }
        Schema::OneOf(one_of) => one_of.items.iter_mut().for_each(close_objects),
        Schema::AllOf(all_of) => all_of.items.iter_mut().for_each(close_objects),
        Schema::AnyOf(any_of) => any_of.items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// Query parameters that are not filters: an empty `page` or `page_size` is a `400`.
const PAGING: &[&str] = &["page", "page_size"];

/// The query of `GET /api/chat/messages/`: exactly one of `with` and `project` (API.md §Chat).
const CONVERSATION_QUERY: &str = "ConversationQuery";

/// Says how the server reads a query (`http::extract::QueryMap`), which the parameters' Rust
/// types alone do not:
/// - an empty filter (`?status=`, `?since=`) counts as absent (README), which the parameter
///   schemas forbid (an empty string is no status, id or date-time). OpenAPI says it with
///   `allowEmptyValue`: deprecated in 3.1 but still part of it, and left out of utoipa's
///   `Parameter`, so it goes in through the parameter's flattened extensions map;
/// - a query id is any `u64` (not the `int64` utoipa writes for one), and `page` and `page_size`
///   any whole number from 1 (a larger `page_size` is capped, API.md §Lists);
/// - a chat listing names exactly one of `with` and `project`: two parameters cannot say that,
///   one object parameter (`style: form, explode: true`, so still `?with=2` on the wire) can.
struct QueryAsRead;

impl Modify for QueryAsRead {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                if operation.operation_id.as_deref() == Some("chat_messages") {
                    one_conversation(operation.parameters.get_or_insert_with(Vec::new));
                }
                for parameter in operation.parameters.iter_mut().flatten() {
                    let RefOr::T(parameter) = parameter else {
                        continue;
                    };
                    as_read(parameter);
                }
            }
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        let id = |what: &str| {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(U64_MAX))
                .description(Some(what))
        };
        components.schemas.insert(
            CONVERSATION_QUERY.to_string(),
            ObjectBuilder::new()
                .property("with", id("The other user of a direct conversation"))
                .property("project", id("A project room"))
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
                .min_properties(Some(1))
                .max_properties(Some(1))
                .description(Some(
                    "Exactly one of `with` (a user id) and `project` (a project id).",
                ))
                .into(),
        );
    }
}

/// The largest id a query may name; `usize` is `u64` on every target Nexus ships for.
const U64_MAX: usize = usize::MAX;

/// Writes the first two points of [`QueryAsRead`] into one parameter.
fn as_read(parameter: &mut Parameter) {
    if !matches!(parameter.parameter_in, ParameterIn::Query) {
        return;
    }
    let paging = PAGING.contains(&parameter.name.as_str());
    if matches!(parameter.required, Required::False) && !paging {
        parameter
            .extensions
            .get_or_insert_with(Default::default)
            .insert("allowEmptyValue".to_string(), serde_json::Value::Bool(true));
    }
    if let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut()
        && matches!(schema.schema_type, SchemaType::Type(Type::Integer))
    {
        schema.format = None;
        schema.maximum = (!paging).then_some(Number::UInt(U64_MAX));
    }
}

/// Adds the `conversation` object parameter (`with` or `project`) to the chat listing.
fn one_conversation(parameters: &mut Vec<RefOr<Parameter>>) {
    let conversation = ParameterBuilder::new()
        .name("conversation")
        .parameter_in(ParameterIn::Query)
        .required(Required::True)
        .style(Some(ParameterStyle::Form))
        .explode(Some(true))
        .description(Some(
            "`with={user id}` for a direct conversation or `project={project id}` for a room, \
             exactly one of them (both or neither is a `400`)",
        ))
        .schema(Some(Ref::from_schema_name(CONVERSATION_QUERY)))
        .build();
    parameters.insert(0, RefOr::T(conversation));
}

/// Bodies that take exactly one of two ids (API.md §Chat): a chat message goes to a user or to
/// a project room, a read marker names a conversation with a user or a room. Each becomes
/// `allOf: [its fields, oneOf: [first id set and the other absent or null, the reverse]]`, so
/// that the document, not only the prose, says that both or neither is a `400`.
const EXACTLY_ONE_OF: &[(&str, &str, &str, &str, &str)] = &[
    (
        "NewMessage",
        "receiver_id",
        "UserId",
        "project_id",
        "ProjectId",
    ),
    ("ReadInput", "with", "UserId", "project", "ProjectId"),
];

struct ExactlyOneOf;

impl Modify for ExactlyOneOf {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for &(name, a, a_schema, b, b_schema) in EXACTLY_ONE_OF {
            let Some(fields) = components.schemas.remove(name) else {
                continue;
            };
            let only = |set: &str, set_schema: &str, unset: &str| {
                ObjectBuilder::new()
                    .property(set, Ref::from_schema_name(set_schema))
                    .property(unset, ObjectBuilder::new().schema_type(Type::Null))
                    .required(set)
            };
            let combined = AllOfBuilder::new()
                .item(fields)
                .item(
                    OneOfBuilder::new()
                        .item(only(a, a_schema, b))
                        .item(only(b, b_schema, a)),
                )
                .description(Some(format!("Exactly one of `{a}` and `{b}`.")));
            components.schemas.insert(name.to_string(), combined.into());
        }
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Nexus", description = "Shop-floor operations for a small plant. See API.md for the contract."),
    modifiers(&BearerAuth, &PageItemsByRef, &StrictResponses, &ExactlyOneOf, &QueryAsRead),
    paths(
        rest::auth::register, rest::auth::login, rest::auth::refresh, rest::auth::logout,
        rest::auth::me, rest::auth::update_me, rest::auth::change_password,
        rest::users::list, rest::users::create, rest::users::read, rest::users::update,
        rest::activities::list, rest::activities::create, rest::activities::read,
        rest::activities::update, rest::activities::remove, rest::activities::types,
        rest::activities::statuses, rest::activities::export,
        rest::projects::list, rest::projects::create, rest::projects::read,
        rest::projects::update, rest::projects::remove, rest::projects::team,
        rest::projects::add_member, rest::projects::remove_member,
        rest::projects::activities, rest::projects::create_activity,
        rest::updates::list, rest::updates::create, rest::updates::read, rest::updates::update,
        rest::updates::remove, rest::updates::notifications, rest::updates::read_one,
        rest::updates::read_all, rest::updates::acknowledge, rest::updates::acknowledgements,
        rest::chat::send, rest::chat::messages, rest::chat::remove, rest::chat::conversations,
        rest::chat::mark_read,
        rest::audit::list,
        rest::admin::backup,
        rest::search::search,
        rest::shopfloor::assets_list, rest::shopfloor::assets_create, rest::shopfloor::assets_read,
        rest::shopfloor::assets_update, rest::shopfloor::assets_remove, rest::shopfloor::assets_tree,
        rest::shopfloor::shifts_list, rest::shopfloor::shifts_create, rest::shopfloor::shifts_read,
        rest::shopfloor::shifts_update, rest::shopfloor::shifts_remove,
        rest::shopfloor::shifts_current,
        rest::shopfloor::reasons_list, rest::shopfloor::reasons_create,
        rest::shopfloor::reasons_read, rest::shopfloor::reasons_update,
        rest::shopfloor::reasons_remove,
        rest::shopfloor::downtime_list, rest::shopfloor::downtime_create,
        rest::shopfloor::downtime_read, rest::shopfloor::downtime_update,
        rest::shopfloor::downtime_remove, rest::shopfloor::downtime_end,
        rest::shopfloor::downtime_pareto, rest::shopfloor::downtime_export,
        rest::shopfloor::production_list, rest::shopfloor::production_create,
        rest::andon::list, rest::andon::raise, rest::andon::read, rest::andon::acknowledge,
        rest::andon::resolve,
        rest::shopfloor::production_read, rest::shopfloor::production_update,
        rest::shopfloor::production_remove,
        rest::shopfloor::oee, rest::shopfloor::oee_export,
        rest::keys::list, rest::keys::create, rest::keys::read, rest::keys::revoke,
        rest::handovers::list, rest::handovers::create, rest::handovers::read,
        rest::handovers::update, rest::handovers::remove, rest::handovers::submit,
        rest::handovers::acknowledge,
        health::healthz, health::readyz,
        super::metrics::metrics,
    ),
    components(schemas(ErrorBody, ErrorDetail))
)]
pub struct ApiDoc;

/// Serves the document.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
