//! Search use cases: the search box, and the `q` filter of the activity and project lists.
//! Visibility is part of the query, so a caller never gets a hit they could not open.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Principal;
use super::pagination::PageRequest;
use super::visibility::viewer;
use crate::domain::DomainError;
use crate::domain::change::ObjectKind;
use crate::search::query::{self, Node};
use crate::search::{Hits, KINDS, SearchIndex};
use crate::store::Store;

/// A page of hits, with the time the search took.
pub struct SearchAnswer {
    /// The hits.
    pub hits: Hits,
    /// Milliseconds spent searching.
    pub took_ms: u64,
}

/// Search use cases; cheap to clone.
#[derive(Clone)]
pub struct SearchService {
    store: Arc<dyn Store>,
    index: SearchIndex,
}

/// Parses a query, answering `400` with where it fails.
pub fn parse(q: &str) -> Result<Node, DomainError> {
    query::parse(q).map_err(|e| DomainError::field("q", e.to_string()))
}

impl SearchService {
    /// Builds the service.
    pub fn new(store: Arc<dyn Store>, index: SearchIndex) -> Self {
        Self { store, index }
    }

    /// The index, for health checks.
    pub fn index(&self) -> &SearchIndex {
        &self.index
    }

    /// Lets the index take in every write committed so far (bounded: writes are searchable
    /// within a second in any case).
    async fn read_own_writes(&self) -> Result<(), DomainError> {
        let seq = self.store.last_seq().await?;
        self.index.wait_for(seq, Duration::from_secs(1)).await;
        Ok(())
    }

    /// Searches `kinds` (all when empty) for `q`, one page.
    pub async fn search(
        &self,
        principal: &Principal,
        q: &str,
        kinds: &[String],
        page: PageRequest,
    ) -> Result<SearchAnswer, DomainError> {
        let started = Instant::now();
        let node = parse(q)?;
        let mut chosen: Vec<&str> = Vec::new();
        for kind in kinds {
            match KINDS.iter().find(|k| **k == kind.as_str()) {
                Some(k) => chosen.push(k),
                None => {
                    return Err(DomainError::field(
                        "kind",
                        format!("must be among {}", KINDS.join(", ")),
                    ));
                }
            }
        }
        if chosen.is_empty() {
            chosen = KINDS.to_vec();
        }
        let viewer = viewer(self.store.as_ref(), principal).await?;
        self.read_own_writes().await?;
        let hits = self
            .index
            .search(&node, &viewer, &chosen, page.offset(), page.page_size)?;
        Ok(SearchAnswer {
            hits,
            took_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// Ids of the objects of `kind` matching `q` that the caller may see.
    pub async fn matching_ids(
        &self,
        principal: &Principal,
        q: &str,
        kind: ObjectKind,
    ) -> Result<Vec<u64>, DomainError> {
        let Some(kind) = kind.search_name() else {
            return Ok(Vec::new());
        };
        let node = parse(q)?;
        let viewer = viewer(self.store.as_ref(), principal).await?;
        self.read_own_writes().await?;
        self.index.matching_ids(&node, &viewer, kind)
    }
}
