//! What a GraphQL operation asks of a machine key (see `domain::machine_key`): the GraphQL
//! adapter's one map onto `KeyUse`. Queries are reads, but those of personal data (`me`,
//! notifications, chat) are never a key's; mutations are reports only when every field is one
//! of the shop floor's reports; subscriptions are the live stream (the realtime service then
//! keeps chat and notifications from a key). Whatever cannot be read plainly — a document that
//! does not parse, a persisted query sent by hash, a fragment at the top — is never a key's.

use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};

use crate::domain::machine_key::KeyUse;

/// Top-level query fields that read a person's own data.
const PERSONAL: [&str; 4] = ["me", "notifications", "messages", "conversations"];
/// Mutations that report from the shop floor.
const REPORTS: [&str; 4] = [
    "reportDowntime",
    "endDowntime",
    "reportProduction",
    "raiseAndon",
];

/// The use `request` makes of a key.
pub(crate) fn key_use(request: &async_graphql::Request) -> KeyUse {
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return KeyUse::Never;
    };
    let operation = match (&document.operations, request.operation_name.as_deref()) {
        (DocumentOperations::Single(op), _) => &op.node,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
            Some(op) => &op.node,
            None => return KeyUse::Never,
        },
        (DocumentOperations::Multiple(_), None) => return KeyUse::Never,
    };
    let mut fields = Vec::new();
    for item in &operation.selection_set.node.items {
        match &item.node {
            Selection::Field(field) => fields.push(field.node.name.node.to_string()),
            Selection::FragmentSpread(_) | Selection::InlineFragment(_) => return KeyUse::Never,
        }
    }
    let plain = |f: &String| f.starts_with("__");
    match operation.ty {
        OperationType::Query => {
            if fields.iter().any(|f| PERSONAL.contains(&f.as_str())) {
                KeyUse::Never
            } else {
                KeyUse::Read
            }
        }
        OperationType::Mutation => {
            let reports = fields.iter().filter(|f| !plain(f));
            if fields.iter().any(|f| !plain(f))
                && reports.clone().all(|f| REPORTS.contains(&f.as_str()))
            {
                KeyUse::Report
            } else {
                KeyUse::Never
            }
        }
        OperationType::Subscription => KeyUse::Live,
    }
}

#[cfg(test)]
mod tests {
    use super::key_use;
    use crate::domain::machine_key::KeyUse;

    fn use_of(query: &str) -> KeyUse {
        key_use(&async_graphql::Request::new(query))
    }

    #[test]
    fn operations_map_onto_key_uses() {
        assert_eq!(use_of("{ assets { count } }"), KeyUse::Read);
        assert_eq!(
            use_of("query { activities { count } users { count } }"),
            KeyUse::Read
        );
        assert_eq!(use_of("{ me { id } }"), KeyUse::Never);
        assert_eq!(
            use_of("{ assets { count } notifications { count } }"),
            KeyUse::Never
        );
        assert_eq!(
            use_of("{ messages(withUserId: 1) { count } }"),
            KeyUse::Never
        );
        assert_eq!(
            use_of("mutation { reportDowntime(input: {assetId: 1}) { id } }"),
            KeyUse::Report
        );
        assert_eq!(
            use_of(
                "mutation { reportDowntime(input: {assetId: 1}) { id } createActivity(input: {title: \"x\"}) { id } }"
            ),
            KeyUse::Never
        );
        assert_eq!(
            use_of("mutation { sendMessage(input: {content: \"x\"}) { id } }"),
            KeyUse::Never
        );
        assert_eq!(use_of("mutation { __typename }"), KeyUse::Never);
        assert_eq!(
            use_of("subscription { andonChanged { event } }"),
            KeyUse::Live
        );
        assert_eq!(
            use_of("{ ...F } fragment F on Query { me { id } }"),
            KeyUse::Never
        );
        assert_eq!(use_of("not graphql {"), KeyUse::Never);
        assert_eq!(use_of(""), KeyUse::Never);
    }
}
