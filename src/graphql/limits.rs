//! What one GraphQL request may ask for (API.md §GraphQL: depth 10, complexity 1,000, and
//! bounds on size, aliases and root fields). Over any bound is a GraphQL error answered before
//! anything executes, never a slow request. Complexity is async-graphql's own count (with
//! pages weighted by their size, `types::page_cost`); the rest is checked here on the parsed
//! document, fragments followed, with a budget so that no document costs more to check than
//! its size allows.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Request, ServerError, ServerResult, Variables};

use super::error::server_error;

/// Deepest field nesting of a query (`{ a { b } }` is 2).
pub const MAX_DEPTH: usize = 10;
/// Most complexity (about one per field selected; pages count per five rows).
pub const MAX_COMPLEXITY: usize = 1000;
/// Longest query text, in bytes.
pub const MAX_QUERY_BYTES: usize = 32 * 1024;
/// Most aliased fields in one document.
pub const MAX_ALIASES: usize = 30;
/// Most fields at the root of one operation.
pub const MAX_ROOT_FIELDS: usize = 20;
/// Introspection (`__schema`, `__type`) is exempt from `MAX_DEPTH`, since the usual query of
/// an IDE is 12 levels deep; instead its lists (`types`, `fields`, …) may nest at most this
/// deep, which the usual query needs and which keeps `fields { type { fields … } }` from
/// multiplying.
pub const MAX_INTROSPECTION_LISTS: usize = 3;
/// Most selections visited while checking, fragments expanded: well above what any document
/// within the complexity limit has, and a bound on a document of fragments spread in
/// fragments.
const MAX_VISITS: usize = 5000;

/// The introspection fields that answer lists.
const INTROSPECTION_LISTS: [&str; 8] = [
    "types",
    "fields",
    "inputFields",
    "interfaces",
    "possibleTypes",
    "enumValues",
    "args",
    "directives",
];

/// The extension checking size, depth, aliases and root fields.
pub struct Limits;

impl ExtensionFactory for Limits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Limits)
    }
}

#[async_trait::async_trait]
impl Extension for Limits {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if request.query.len() > MAX_QUERY_BYTES {
            return Err(too_much(format!(
                "the query is longer than {MAX_QUERY_BYTES} bytes"
            )));
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        check(&document).map_err(too_much)?;
        Ok(document)
    }
}

fn too_much(message: String) -> ServerError {
    server_error(message, "bad_request")
}

/// Checks every operation of `document` against the bounds; the message says which failed.
pub fn check(document: &ExecutableDocument) -> Result<(), String> {
    let mut walk = Walk {
        document,
        fragments: Vec::new(),
        aliases: 0,
        visits: 0,
    };
    for (_, operation) in document.operations.iter() {
        let root = &operation.node.selection_set.node;
        let roots = walk.root_fields(root)?;
        if roots > MAX_ROOT_FIELDS {
            return Err(format!(
                "the operation selects {roots} root fields; at most {MAX_ROOT_FIELDS} are allowed"
            ));
        }
        walk.selections(root, 0, None)?;
    }
    Ok(())
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    /// The fragments being expanded, to stop at a cycle (which validation then refuses).
    fragments: Vec<&'a str>,
    aliases: usize,
    visits: usize,
}

impl<'a> Walk<'a> {
    fn visit(&mut self) -> Result<(), String> {
        self.visits += 1;
        if self.visits > MAX_VISITS {
            return Err("the query selects too many fields".into());
        }
        Ok(())
    }

    /// The fields of a root selection set, fragments expanded.
    fn root_fields(&mut self, set: &'a SelectionSet) -> Result<usize, String> {
        let mut count = 0;
        for item in &set.items {
            self.visit()?;
            count += match &item.node {
                Selection::Field(_) => 1,
                Selection::InlineFragment(inline) => {
                    self.root_fields(&inline.node.selection_set.node)?
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match self.enter(name) {
                        Some(set) => {
                            let n = self.root_fields(set)?;
                            self.fragments.pop();
                            n
                        }
                        None => 0,
                    }
                }
            };
        }
        Ok(count)
    }

    /// The selection set of fragment `name`, now being expanded; `None` for a cycle or an
    /// unknown fragment.
    fn enter(&mut self, name: &'a str) -> Option<&'a SelectionSet> {
        if self.fragments.contains(&name) {
            return None;
        }
        let fragment = self.document.fragments.get(name)?;
        self.fragments.push(name);
        Some(&fragment.node.selection_set.node)
    }

    /// Walks `set`, whose parent field is at `depth`; `introspection` is how many
    /// introspection lists enclose it, inside `__schema` or `__type`.
    fn selections(
        &mut self,
        set: &'a SelectionSet,
        depth: usize,
        introspection: Option<usize>,
    ) -> Result<(), String> {
        for item in &set.items {
            self.visit()?;
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if field.alias.is_some() {
                        self.aliases += 1;
                        if self.aliases > MAX_ALIASES {
                            return Err(format!("the query has more than {MAX_ALIASES} aliases"));
                        }
                    }
                    let name = field.name.node.as_str();
                    let (depth, introspection) = match introspection {
                        Some(lists) => {
                            let lists = lists + usize::from(INTROSPECTION_LISTS.contains(&name));
                            if lists > MAX_INTROSPECTION_LISTS {
                                return Err(format!(
                                    "introspection lists nest more than {MAX_INTROSPECTION_LISTS} deep"
                                ));
                            }
                            (depth, Some(lists))
                        }
                        None if name == "__schema" || name == "__type" => (depth, Some(0)),
                        None => {
                            if depth + 1 > MAX_DEPTH {
                                return Err(format!(
                                    "the query nests fields more than {MAX_DEPTH} deep"
                                ));
                            }
                            (depth + 1, None)
                        }
                    };
                    self.selections(&field.selection_set.node, depth, introspection)?;
                }
                Selection::InlineFragment(inline) => {
                    self.selections(&inline.node.selection_set.node, depth, introspection)?;
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(set) = self.enter(name) {
                        self.selections(set, depth, introspection)?;
                        self.fragments.pop();
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(query: &str) -> Result<(), String> {
        check(&async_graphql::parser::parse_query(query).expect("parses"))
    }

    fn nested(depth: usize) -> String {
        let mut q = String::from("id");
        for _ in 1..depth {
            q = format!("project {{ {q} }}");
        }
        format!("{{ {q} }}")
    }

    #[test]
    fn depth_counts_fields_through_fragments() {
        assert!(checked(&nested(MAX_DEPTH)).is_ok());
        assert!(checked(&nested(MAX_DEPTH + 1)).is_err());
        let inner = nested(MAX_DEPTH + 1);
        let body = inner
            .strip_prefix("{ ")
            .and_then(|b| b.strip_suffix(" }"))
            .expect("braced");
        let via_fragment = format!("query {{ ...F }} fragment F on Query {{ {body} }}");
        assert!(checked(&via_fragment).unwrap_err().contains("deep"));
    }

    #[test]
    fn the_usual_introspection_query_passes_and_a_multiplying_one_does_not() {
        let usual = "{ __schema { types { fields { args { type { ofType { ofType { ofType { \
            ofType { ofType { ofType { ofType { name } } } } } } } } } } } } }";
        assert!(checked(usual).is_ok());
        let multiplying =
            "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
        assert!(checked(multiplying).unwrap_err().contains("introspection"));
    }

    #[test]
    fn aliases_root_fields_and_fragment_bombs_are_bounded() {
        let aliases: String = (0..=MAX_ALIASES)
            .map(|i| format!("a{i}: me {{ id }} "))
            .collect();
        assert!(checked(&format!("{{ {aliases} }}")).is_err());
        let roots: String = (0..=MAX_ROOT_FIELDS).map(|_| "me { id } ").collect();
        assert!(
            checked(&format!("{{ {roots} }}"))
                .unwrap_err()
                .contains("root")
        );
        // Each fragment spreads the next twice: 2^20 fields once expanded.
        let mut bomb = String::from("query { ...F0 } ");
        for i in 0..20 {
            bomb.push_str(&format!(
                "fragment F{i} on Query {{ ...F{n} ...F{n} }} ",
                n = i + 1
            ));
        }
        bomb.push_str("fragment F20 on Query { me { id } }");
        assert!(checked(&bomb).is_err());
        // A cycle is left for validation to refuse, not looped on.
        assert!(checked("query { ...A } fragment A on Query { ...A }").is_ok());
    }
}
