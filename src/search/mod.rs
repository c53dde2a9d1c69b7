//! Full-text search with tantivy: one index in `<data>/search/` over activities, projects,
//! updates and chat, fed by the change log. The database is the truth: the index remembers the
//! last change-log entry it holds (the commit payload), catches up from there on start and
//! whenever the bus wakes it, and is rebuilt from the database when it is missing or damaged.
//!
//! By job: `schema` (the fields), `documents` (what the index holds of a change), `follow`
//! (catching up with the log, rebuilding, committing), `compile` (a parsed query to a tantivy
//! query), `read` (running a search); `query` parses the search box's language.

mod compile;
mod documents;
mod follow;
pub mod query;
mod read;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy};

use compile::Compiler;
pub use read::{Hit, Hits, escape_html};
use schema::{Fields, STEMMER, schema};

/// The index folder's name inside the data directory.
pub const INDEX_DIR: &str = "search";
/// Memory for the tantivy writer.
const WRITER_MEMORY: usize = 50 * 1024 * 1024;

/// Kinds of searchable object.
pub const KINDS: [&str; 8] = [
    "activity", "project", "update", "chat", "asset", "downtime", "handover", "andon",
];

/// Where the index stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Answering queries.
    Ready,
    /// Being rebuilt from the database; the number is percent done.
    Rebuilding(u8),
}

struct Inner {
    /// The index folder.
    dir: PathBuf,
    /// Turns parsed queries into index queries.
    compiler: Compiler,
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

/// Opens or creates the index in `path`; whether it existed.
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
            dir: path.clone(),
            compiler: Compiler::new(fields, analyzer),
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

    /// Objects the index holds, as of its last commit.
    pub fn doc_count(&self) -> u64 {
        self.inner.reader.searcher().num_docs()
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        self.inner.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The files of the index on disk, in bytes (a directory walk: call it off the async
    /// workers).
    pub fn size_bytes(&self) -> std::io::Result<u64> {
        let mut total = 0;
        for entry in std::fs::read_dir(&self.inner.dir)? {
            let metadata = entry?.metadata()?;
            if metadata.is_file() {
                total += metadata.len();
            }
        }
        Ok(total)
    }

    /// The index folder.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(INDEX_DIR)
    }
}
