//! Reading: running a search for one caller and turning its hits into titles and snippets.

use serde::Serialize;
use tantivy::TantivyDocument;
use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::schema::Value as _;
use tantivy::snippet::SnippetGenerator;

use super::query::Node;
use super::{Readiness, SearchIndex};
use crate::domain::DomainError;
use crate::domain::visibility::Viewer;

/// Pages reaching deeper than this many hits are counted before they are collected.
const SINGLE_PASS_DEPTH: usize = 10_000;

/// One hit.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Hit {
    /// `activity`, `project`, `update` or `chat`.
    pub kind: String,
    /// The object's id.
    pub id: u64,
    /// Its title (a message's opening words).
    pub title: String,
    /// Matching text, HTML-escaped, with matches in `<mark>…</mark>`.
    pub snippet: String,
    /// Relevance.
    pub score: f32,
}

/// A page of hits and the total.
#[derive(Clone, Debug, Serialize)]
pub struct Hits {
    /// All matches.
    pub count: usize,
    /// This page.
    pub results: Vec<Hit>,
}

impl SearchIndex {
    /// `Unavailable` while the index is being rebuilt.
    fn check_ready(&self) -> Result<(), DomainError> {
        match self.readiness() {
            Readiness::Ready => Ok(()),
            Readiness::Rebuilding(p) => Err(DomainError::Unavailable(format!(
                "the search index is being rebuilt ({p}% done); try again shortly"
            ))),
        }
    }

    /// Runs a search for `viewer` over `kinds`, one page of hits.
    pub fn search(
        &self,
        node: &Node,
        viewer: &Viewer,
        kinds: &[&str],
        offset: usize,
        limit: usize,
    ) -> Result<Hits, DomainError> {
        self.check_ready()?;
        let internal = |e: tantivy::TantivyError| DomainError::Internal(format!("search: {e}"));
        let f = self.inner.fields;
        let query = self.inner.compiler.full_query(node, viewer, kinds);
        let searcher = self.inner.reader.searcher();
        // One pass for the usual pages. A deep page counts first, so the collector never
        // sizes itself by an offset a client chose (page=1e9 must not allocate or overflow).
        let (top, count) = if offset.saturating_add(limit) <= SINGLE_PASS_DEPTH {
            searcher
                .search(
                    &query,
                    &(
                        TopDocs::with_limit(limit.max(1))
                            .and_offset(offset)
                            .order_by_score(),
                        Count,
                    ),
                )
                .map_err(internal)?
        } else {
            let count = searcher.search(&query, &Count).map_err(internal)?;
            if offset >= count {
                return Ok(Hits {
                    count,
                    results: Vec::new(),
                });
            }
            let top = searcher
                .search(
                    &query,
                    &TopDocs::with_limit(limit.max(1).min(count - offset))
                        .and_offset(offset)
                        .order_by_score(),
                )
                .map_err(internal)?;
            (top, count)
        };
        let mut title_snippets =
            SnippetGenerator::create(&searcher, &*query, f.title).map_err(internal)?;
        let mut body_snippets =
            SnippetGenerator::create(&searcher, &*query, f.body).map_err(internal)?;
        title_snippets.set_max_num_chars(200);
        body_snippets.set_max_num_chars(200);
        let mut results = Vec::with_capacity(top.len());
        for (score, address) in top.into_iter().take(limit) {
            let document: TantivyDocument = searcher.doc(address).map_err(internal)?;
            let kind = document
                .get_first(f.kind)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            let id = document
                .get_first(f.id)
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            let title = document
                .get_first(f.title)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string();
            let mut snippet = body_snippets.snippet_from_doc(&document);
            if snippet.highlighted().is_empty() {
                snippet = title_snippets.snippet_from_doc(&document);
            }
            snippet.set_snippet_prefix_postfix("<mark>", "</mark>");
            let mut html = snippet.to_html();
            if html.is_empty() {
                html = escape_html(&title);
            }
            results.push(Hit {
                kind,
                id,
                title,
                snippet: html,
                score,
            });
        }
        Ok(Hits { count, results })
    }

    /// Every matching id of one kind, for the `q` filter of a list.
    pub fn matching_ids(
        &self,
        node: &Node,
        viewer: &Viewer,
        kind: &str,
    ) -> Result<Vec<u64>, DomainError> {
        self.check_ready()?;
        let internal = |e: tantivy::TantivyError| DomainError::Internal(format!("search: {e}"));
        let f = self.inner.fields;
        let query = self.inner.compiler.full_query(node, viewer, &[kind]);
        let searcher = self.inner.reader.searcher();
        let addresses = searcher
            .search(&query, &DocSetCollector)
            .map_err(internal)?;
        let mut ids = Vec::with_capacity(addresses.len());
        for address in addresses {
            let document: TantivyDocument = searcher.doc(address).map_err(internal)?;
            if let Some(id) = document.get_first(f.id).and_then(|v| v.as_u64()) {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}

/// Escapes text for HTML.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
