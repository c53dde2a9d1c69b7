//! Full-text search with tantivy: one index in `<data>/search/` over activities, projects,
//! updates and chat, fed by the change log. The database is the truth: the index remembers the
//! last change-log entry it holds (the commit payload), catches up from there on start and
//! whenever the bus wakes it, and is rebuilt from the database when it is missing or damaged.

pub mod query;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, FuzzyTermQuery, Occur, PhrasePrefixQuery, PhraseQuery, Query,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{
    Field as SchemaField, INDEXED, IndexRecordOption, STORED, STRING, Schema, TantivyDocument,
    TextFieldIndexing, TextOptions, Value as _,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term, doc};

use crate::domain::DomainError;
use crate::domain::change::ObjectKind;
use crate::domain::change::{ChangeEntry, ChangeOp};
use crate::domain::visibility::{Viewer, search_tags};
use crate::events::EventBus;
use crate::store::Store;
use query::{Field, Node};

/// The index folder's name inside the data directory.
pub const INDEX_DIR: &str = "search";
/// How long a write may wait before it is searchable.
const COMMIT_EVERY: Duration = Duration::from_millis(400);
/// Change-log entries read per catch-up step.
const CATCH_UP_PAGE: usize = 2_000;
/// Pages reaching deeper than this many hits are counted before they are collected.
const SINGLE_PASS_DEPTH: usize = 10_000;
/// Objects read from the database per step of a rebuild.
const REBUILD_PAGE: usize = 5_000;
/// Memory for the tantivy writer.
const WRITER_MEMORY: usize = 50 * 1024 * 1024;

/// Kinds of searchable object.
pub const KINDS: [&str; 4] = ["activity", "project", "update", "chat"];

#[derive(Clone, Copy)]
struct Fields {
    key: SchemaField,
    kind: SchemaField,
    id: SchemaField,
    title: SchemaField,
    body: SchemaField,
    /// Title and body words as written (not stemmed), for prefixes and typos.
    raw: SchemaField,
    /// Title words as written, for `title:` prefixes and typos.
    title_raw: SchemaField,
    status: SchemaField,
    kind_type: SchemaField,
    priority: SchemaField,
    /// Visibility tags: who may open the object (see `apply`).
    vis: SchemaField,
}

/// Text indexed as English words with their stems, so `pump` finds `pumps`.
fn stemmed_text() -> TextOptions {
    TextOptions::default().set_stored().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(STEMMER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    )
}

/// Words as written (lower-cased, not stemmed), not stored.
fn raw_text() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("default")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    )
}

/// The tokenizer of title and body: words, lower-cased, English stems.
const STEMMER: &str = "en_stem";

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        key: b.add_text_field("key", STRING),
        kind: b.add_text_field("kind", STRING | STORED),
        id: b.add_u64_field("id", INDEXED | STORED),
        title: b.add_text_field("title", stemmed_text()),
        body: b.add_text_field("body", stemmed_text()),
        raw: b.add_text_field("raw", raw_text()),
        title_raw: b.add_text_field("title_raw", raw_text()),
        status: b.add_text_field("status", STRING),
        kind_type: b.add_text_field("type", STRING),
        priority: b.add_text_field("priority", STRING),
        vis: b.add_text_field("vis", STRING),
    };
    (b.build(), fields)
}

/// Where the index stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Answering queries.
    Ready,
    /// Being rebuilt from the database; the number is percent done.
    Rebuilding(u8),
}

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

struct Inner {
    /// The title/body analyzer, to turn query words into index terms.
    analyzer: TextAnalyzer,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    /// The last change-log entry the committed index holds.
    indexed_seq: AtomicU64,
    /// 255 when ready, else percent rebuilt.
    readiness: AtomicU8,
    /// Publishes `indexed_seq` to searches waiting to read their own writes.
    committed: tokio::sync::watch::Sender<u64>,
    /// Asks the follower to commit now rather than gather more changes.
    urgent: tokio::sync::Notify,
}

/// The search index; cheap to clone.
#[derive(Clone)]
pub struct SearchIndex {
    inner: Arc<Inner>,
}

/// Why the index could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("search index {path}: {reason}")]
pub struct IndexError {
    path: String,
    reason: String,
}

fn open_dir(path: &Path) -> Result<(Index, bool), tantivy::TantivyError> {
    std::fs::create_dir_all(path)?;
    let dir = tantivy::directory::MmapDirectory::open(path)?;
    let (schema, _) = schema();
    let existed = Index::exists(&dir)?;
    let index = Index::open_or_create(dir, schema)?;
    Ok((index, existed))
}

impl SearchIndex {
    /// Opens the index in `data_dir`, or makes a new empty one (to be rebuilt) when it is
    /// missing, damaged or of another schema. Returns the index and whether it needs a rebuild.
    pub fn open(data_dir: &Path) -> Result<(SearchIndex, bool), IndexError> {
        let path = data_dir.join(INDEX_DIR);
        let fail = |reason: String| IndexError {
            path: path.display().to_string(),
            reason,
        };
        let (index, rebuild) = match open_dir(&path) {
            Ok((index, existed)) => (index, !existed),
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "search index unreadable; rebuilding it");
                let _ = std::fs::remove_dir_all(&path);
                let (index, _) = open_dir(&path).map_err(|e| fail(e.to_string()))?;
                (index, true)
            }
        };
        let seq = if rebuild {
            0
        } else {
            index
                .load_metas()
                .ok()
                .and_then(|m| m.payload)
                .and_then(|p| p.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let writer = index
            .writer(WRITER_MEMORY)
            .map_err(|e| fail(e.to_string()))?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e: tantivy::TantivyError| fail(e.to_string()))?;
        let (_, fields) = schema();
        let analyzer = index
            .tokenizers()
            .get(STEMMER)
            .ok_or_else(|| fail("no English stemmer".into()))?;
        let inner = Inner {
            analyzer,
            reader,
            writer: Mutex::new(writer),
            fields,
            indexed_seq: AtomicU64::new(seq),
            readiness: AtomicU8::new(if rebuild { 0 } else { 255 }),
            committed: tokio::sync::watch::Sender::new(seq),
            urgent: tokio::sync::Notify::new(),
        };
        Ok((
            SearchIndex {
                inner: Arc::new(inner),
            },
            rebuild,
        ))
    }

    /// Ready, or rebuilding (percent).
    pub fn readiness(&self) -> Readiness {
        match self.inner.readiness.load(Ordering::SeqCst) {
            255 => Readiness::Ready,
            p => Readiness::Rebuilding(p),
        }
    }

    /// The last change-log entry the index holds (what the log must keep after it).
    pub fn indexed_seq(&self) -> u64 {
        self.inner.indexed_seq.load(Ordering::SeqCst)
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        self.inner.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `entries` to the writer (not yet committed).
    fn apply_all(&self, entries: &[ChangeEntry]) {
        let writer = self.writer();
        for entry in entries {
            self.apply(&writer, entry);
        }
    }

    /// Adds, replaces or removes the document of one change.
    fn apply(&self, writer: &IndexWriter, entry: &ChangeEntry) {
        let Some(kind) = entry.kind.search_name() else {
            return;
        };
        let f = self.inner.fields;
        let key = format!("{kind}:{}", entry.id);
        writer.delete_term(Term::from_field_text(f.key, &key));
        if entry.op == ChangeOp::Deleted {
            return;
        }
        let d = &entry.data;
        let text = |name: &str| d[name].as_str().unwrap_or("").to_string();
        let mut document = doc!(
            f.key => key,
            f.kind => kind,
            f.id => entry.id,
        );
        let tags = search_tags(entry.kind, &entry.keys);
        match kind {
            "activity" => {
                add_words(&mut document, f, &text("title"), &text("description"));
                document.add_text(f.status, text("status"));
                document.add_text(f.kind_type, text("type"));
                document.add_text(f.priority, text("priority"));
            }
            "project" => {
                add_words(&mut document, f, &text("name"), &text("description"));
                document.add_text(f.status, text("status"));
            }
            "update" => {
                add_words(&mut document, f, &text("title"), &text("content"));
                document.add_text(f.kind_type, text("type"));
                document.add_text(f.priority, text("priority"));
            }
            _ => {
                let content = text("content");
                let title: String = content.chars().take(80).collect();
                add_words(&mut document, f, &title, &content);
            }
        }
        for tag in tags {
            document.add_text(f.vis, tag);
        }
        if let Err(e) = writer.add_document(document) {
            tracing::error!(error = %e, "could not index a document");
        }
    }

    /// Commits what was applied, recording `seq` as the last entry held, and makes it
    /// visible; on the blocking pool, since it syncs files.
    async fn commit(&self, seq: u64) -> Result<(), DomainError> {
        let inner = self.inner.clone();
        let committed =
            tokio::task::spawn_blocking(move || -> Result<(), tantivy::TantivyError> {
                let mut writer = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
                let outcome = writer.prepare_commit().and_then(|mut prepared| {
                    prepared.set_payload(&seq.to_string());
                    prepared.commit()
                });
                if let Err(e) = outcome {
                    // Back to the last commit, so the retry applies the same changes afresh
                    // (a full disk, say, fails the commit but leaves the writer usable).
                    if let Err(r) = writer.rollback() {
                        tracing::error!(error = %r, "search index rollback failed");
                    }
                    return Err(e);
                }
                inner.indexed_seq.store(seq, Ordering::SeqCst);
                inner.reader.reload()?;
                inner.committed.send_replace(seq);
                Ok(())
            })
            .await
            .map_err(|e| DomainError::Internal(format!("search commit task: {e}")))?;
        committed.map_err(|e| DomainError::Internal(format!("search commit: {e}")))
    }

    /// Rebuilds the whole index from the database's current objects, then records the log
    /// position they reflect. Progress goes to the log.
    pub async fn rebuild(&self, store: &dyn Store) -> Result<(), DomainError> {
        self.inner.readiness.store(0, Ordering::SeqCst);
        let internal =
            |e: tantivy::TantivyError| DomainError::Internal(format!("search rebuild: {e}"));
        let seq = store.last_seq().await?;
        let total = store.searchable_count().await?.max(1);
        tracing::info!(objects = total, "rebuilding the search index");
        self.writer().delete_all_documents().map_err(internal)?;
        let mut done = 0usize;
        let mut last_report = Instant::now();
        for kind in ObjectKind::SEARCHABLE {
            let mut after = 0;
            loop {
                let page = store.searchable_objects(kind, after, REBUILD_PAGE).await?;
                let Some(last) = page.last().map(|e| e.id) else {
                    break;
                };
                self.apply_all(&page);
                done += page.len();
                after = last;
                let percent = (done * 100 / total).min(99) as u8;
                self.inner.readiness.store(percent, Ordering::SeqCst);
                if last_report.elapsed() > Duration::from_secs(2) {
                    tracing::info!(done, total, "rebuilding the search index: {percent}%");
                    last_report = Instant::now();
                }
            }
        }
        self.commit(seq).await?;
        self.inner.readiness.store(255, Ordering::SeqCst);
        tracing::info!(objects = done, "search index rebuilt");
        Ok(())
    }

    /// Applies every change-log entry after the index's position; commits once at the end.
    pub async fn catch_up(&self, store: &dyn Store) -> Result<usize, DomainError> {
        let mut after = self.indexed_seq();
        if let Some(first) = store.first_seq().await?
            && after + 1 < first
        {
            // The log no longer reaches back to the index's position.
            self.rebuild(store).await?;
            after = self.indexed_seq();
        }
        let mut applied = 0;
        loop {
            let page = store.changes_after(after, CATCH_UP_PAGE).await?;
            let Some(last) = page.last().map(|e| e.seq) else {
                break;
            };
            self.apply_all(&page);
            self.commit(last).await?;
            applied += page.len();
            after = last;
            if page.len() < CATCH_UP_PAGE {
                break;
            }
        }
        Ok(applied)
    }

    /// Follows the change log until `stopping`: woken by the bus, it catches up at most every
    /// `COMMIT_EVERY`, so writes are searchable within a second without a commit per request.
    pub async fn follow(
        self,
        store: Arc<dyn Store>,
        bus: EventBus,
        needs_rebuild: bool,
        mut stopping: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut events = bus.subscribe();
        if needs_rebuild && let Err(e) = self.rebuild(store.as_ref()).await {
            tracing::error!(error = %e, "search index rebuild failed");
        }
        let mut failing = false;
        loop {
            match self.catch_up(store.as_ref()).await {
                Ok(_) if failing => {
                    tracing::info!("search index catch-up recovered");
                    failing = false;
                }
                Ok(_) => {}
                Err(e) if !failing => {
                    tracing::error!(error = %e, "search index catch-up failed; retrying every second");
                    failing = true;
                }
                Err(e) => tracing::debug!(error = %e, "search index catch-up failed again"),
            }
            tokio::select! {
                _ = stopping.changed() => break,
                () = tokio::time::sleep(Duration::from_secs(1)), if failing => {}
                received = events.recv() => {
                    if let Err(tokio::sync::broadcast::error::RecvError::Closed) = received {
                        break;
                    }
                    // Gather whatever else commits meanwhile into the same index commit,
                    // unless a search is waiting for it.
                    tokio::select! {
                        () = tokio::time::sleep(COMMIT_EVERY) => {}
                        () = self.inner.urgent.notified() => {}
                    }
                    while events.try_recv().is_ok() {}
                }
            }
        }
        if let Err(e) = self.catch_up(store.as_ref()).await {
            tracing::warn!(error = %e, "final search catch-up failed; it resumes on start");
        }
    }

    /// Waits (at most `limit`) until the index holds change `seq`, so a search sees the writes
    /// committed before it; past the limit it answers from what the index has.
    pub async fn wait_for(&self, seq: u64, limit: Duration) {
        if self.indexed_seq() >= seq || self.readiness() != Readiness::Ready {
            return;
        }
        self.inner.urgent.notify_one();
        let mut committed = self.inner.committed.subscribe();
        let _ = tokio::time::timeout(limit, committed.wait_for(|s| *s >= seq)).await;
    }

    /// The visibility filter for `viewer`, as a query: what they may open, by kind.
    /// The visibility filter for `viewer`: one set of tags, so the rules of §Roles cost a
    /// single union of short posting lists.
    fn visibility(&self, viewer: &Viewer, _user: u64) -> Box<dyn Query> {
        let f = self.inner.fields;
        Box::new(TermSetQuery::new(
            viewer
                .search_tags()
                .iter()
                .map(|t| Term::from_field_text(f.vis, t)),
        ))
    }

    /// The as-written field for prefixes and typos: title only for `title:`, else both.
    fn raw_field(&self, field: Option<Field>) -> SchemaField {
        match field {
            Some(Field::Title) => self.inner.fields.title_raw,
            _ => self.inner.fields.raw,
        }
    }

    fn text_fields(&self, field: Option<Field>) -> Vec<SchemaField> {
        let f = self.inner.fields;
        match field {
            None => vec![f.title, f.body],
            Some(Field::Title) => vec![f.title],
            Some(Field::Status) => vec![f.status],
            Some(Field::Type) => vec![f.kind_type],
            Some(Field::Priority) => vec![f.priority],
        }
    }

    /// The index terms of `text` in a title/body field.
    fn analyze(&self, text: &str) -> Vec<String> {
        let mut analyzer = self.inner.analyzer.clone();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    /// Terms of `words` for `field`: stemmed for text, as given for exact fields.
    fn terms_for(&self, field: Option<Field>, words: &[String]) -> Vec<String> {
        if field.is_some_and(|f| f.is_exact()) {
            words.to_vec()
        } else {
            words.iter().flat_map(|w| self.analyze(w)).collect()
        }
    }

    /// Turns a parsed query into a tantivy query.
    fn build(&self, node: &Node) -> Box<dyn Query> {
        let any = |parts: Vec<Box<dyn Query>>| -> Box<dyn Query> {
            if parts.len() == 1 {
                parts
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| Box::new(AllQuery))
            } else {
                Box::new(BooleanQuery::new(
                    parts.into_iter().map(|q| (Occur::Should, q)).collect(),
                ))
            }
        };
        match node {
            Node::Word { field, text } => {
                let terms = self.terms_for(*field, std::slice::from_ref(text));
                if terms.len() != 1 {
                    return self.build(&Node::Phrase {
                        field: *field,
                        words: terms,
                    });
                }
                let stem = &terms[0];
                let mut parts: Vec<Box<dyn Query>> = self
                    .text_fields(*field)
                    .into_iter()
                    .map(|target| {
                        Box::new(TermQuery::new(
                            Term::from_field_text(target, stem),
                            IndexRecordOption::WithFreqs,
                        )) as Box<dyn Query>
                    })
                    .collect();
                // One typo is forgiven in words of five letters or more, compared with the
                // words as written (stems would shorten them).
                if field.is_none_or(|f| !f.is_exact()) && text.chars().count() >= 5 {
                    let raw = self.raw_field(*field);
                    parts.push(Box::new(FuzzyTermQuery::new(
                        Term::from_field_text(raw, text),
                        1,
                        true,
                    )));
                }
                any(parts)
            }
            Node::Prefix { field, text } => {
                let target = if field.is_some_and(|f| f.is_exact()) {
                    self.text_fields(*field)
                        .into_iter()
                        .next()
                        .unwrap_or(self.inner.fields.raw)
                } else {
                    self.raw_field(*field)
                };
                Box::new(PhrasePrefixQuery::new(vec![Term::from_field_text(
                    target, text,
                )]))
            }
            Node::Phrase { field, words } => {
                let words = self.terms_for(*field, words);
                if words.len() < 2 {
                    return match words.into_iter().next() {
                        Some(text) => self.build(&Node::Word {
                            field: *field,
                            text,
                        }),
                        None => Box::new(BooleanQuery::new(Vec::new())),
                    };
                }
                any(self
                    .text_fields(*field)
                    .into_iter()
                    .map(|target| {
                        let terms = words
                            .iter()
                            .map(|w| Term::from_field_text(target, w))
                            .collect();
                        Box::new(PhraseQuery::new(terms)) as Box<dyn Query>
                    })
                    .collect())
            }
            Node::And(parts) => {
                let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for part in parts {
                    match part {
                        Node::Not(inner) => clauses.push((Occur::MustNot, self.build(inner))),
                        other => clauses.push((Occur::Must, self.build(other))),
                    }
                }
                if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
                    clauses.push((Occur::Must, Box::new(AllQuery)));
                }
                Box::new(BooleanQuery::new(clauses))
            }
            Node::Or(parts) => any(parts.iter().map(|p| self.build(p)).collect()),
            Node::Not(inner) => Box::new(BooleanQuery::new(vec![
                (Occur::Must, Box::new(AllQuery)),
                (Occur::MustNot, self.build(inner)),
            ])),
        }
    }

    fn full_query(
        &self,
        node: &Node,
        viewer: &Viewer,
        user: u64,
        kinds: &[&str],
    ) -> Box<dyn Query> {
        let f = self.inner.fields;
        let mut clauses = vec![
            (Occur::Must, self.build(node)),
            (Occur::Must, self.visibility(viewer, user)),
        ];
        if kinds.len() < KINDS.len() {
            let kinds = kinds.iter().map(|k| Term::from_field_text(f.kind, k));
            clauses.push((
                Occur::Must,
                Box::new(TermSetQuery::new(kinds)) as Box<dyn Query>,
            ));
        }
        Box::new(BooleanQuery::new(clauses))
    }

    fn check_ready(&self) -> Result<(), DomainError> {
        match self.readiness() {
            Readiness::Ready => Ok(()),
            Readiness::Rebuilding(p) => Err(DomainError::Unavailable(format!(
                "the search index is being rebuilt ({p}% done); try again shortly"
            ))),
        }
    }

    /// Runs a search for `viewer` (user id `user`) over `kinds`, one page of hits.
    pub fn search(
        &self,
        node: &Node,
        viewer: &Viewer,
        user: u64,
        kinds: &[&str],
        offset: usize,
        limit: usize,
    ) -> Result<Hits, DomainError> {
        self.check_ready()?;
        let internal = |e: tantivy::TantivyError| DomainError::Internal(format!("search: {e}"));
        let f = self.inner.fields;
        let query = self.full_query(node, viewer, user, kinds);
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
        user: u64,
        kind: &str,
    ) -> Result<Vec<u64>, DomainError> {
        self.check_ready()?;
        let internal = |e: tantivy::TantivyError| DomainError::Internal(format!("search: {e}"));
        let f = self.inner.fields;
        let query = self.full_query(node, viewer, user, &[kind]);
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

    /// The index folder.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(INDEX_DIR)
    }
}

/// Adds title and body, stemmed and as written.
fn add_words(document: &mut TantivyDocument, f: Fields, title: &str, body: &str) {
    document.add_text(f.title, title);
    document.add_text(f.body, body);
    document.add_text(f.raw, title);
    document.add_text(f.raw, body);
    document.add_text(f.title_raw, title);
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
