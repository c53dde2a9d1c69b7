//! The single writer: takes every write request queued at that moment into one transaction,
//! commits it with one fsync, publishes the batch's change entries, then answers each request.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use redb::{Database, ReadableDatabase, ReadableTable, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use super::OpenOptions;
use super::disk::DiskGuard;
use super::storage_err;
use super::tables::{CHANGES, CHANGES_BY_OBJECT, put_json};
use crate::domain::change::{ChangeEntry, ChangeOp, ObjectKind, VisibilityKeys};
use crate::domain::time;
use crate::domain::visibility::Visible;
use crate::events::EventBus;
use crate::store::StoreError;

/// Most requests committed in one transaction, by default.
pub const MAX_BATCH: usize = 256;
/// Requests waiting for the writer before senders wait too (back-pressure).
const QUEUE_DEPTH: usize = 8192;

/// What a request's write sees: the batch's transaction and its change log.
pub struct Batch<'a> {
    txn: &'a WriteTransaction,
    changes: &'a mut Vec<ChangeEntry>,
    next_seq: &'a mut u64,
    /// Who the changes being recorded are by.
    actor: Option<u64>,
}

impl<'a> Batch<'a> {
    /// The batch's write transaction.
    pub fn txn(&self) -> &'a WriteTransaction {
        self.txn
    }

    /// Records the changes that follow as made by `actor`.
    pub fn set_actor(&mut self, actor: Option<u64>) {
        self.actor = actor;
    }

    /// Appends a change-log entry for a changed object, in this transaction; returns its seq.
    pub fn record_change(
        &mut self,
        kind: ObjectKind,
        id: u64,
        op: ChangeOp,
        keys: VisibilityKeys,
        data: &impl serde::Serialize,
    ) -> Result<u64, StoreError> {
        let entry = ChangeEntry {
            seq: *self.next_seq,
            kind,
            id,
            op,
            keys,
            ts: time::now(),
            data: serde_json::to_value(data).map_err(|e| StoreError::Backend(e.to_string()))?,
            actor: self.actor,
        };
        let mut table = self.txn.open_table(CHANGES).map_err(storage_err)?;
        put_json(&mut table, entry.seq, &entry)?;
        self.txn
            .open_table(CHANGES_BY_OBJECT)
            .map_err(storage_err)?
            .insert((kind.as_str(), id, entry.seq), ())
            .map_err(storage_err)?;
        *self.next_seq += 1;
        let seq = entry.seq;
        self.changes.push(entry);
        Ok(seq)
    }

    /// Appends the change-log entry of `object`, which carries its own kind and keys.
    pub fn record<T: Visible + serde::Serialize>(
        &mut self,
        object: &T,
        op: ChangeOp,
    ) -> Result<u64, StoreError> {
        self.record_change(
            T::KIND,
            object.object_id(),
            op,
            object.visibility_keys(),
            object,
        )
    }

    /// How many changes the batch has recorded so far.
    pub fn recorded(&self) -> usize {
        self.changes.len()
    }

    /// The changes recorded since `recorded()` returned `from`.
    pub fn recorded_since(&self, from: usize) -> Vec<ChangeEntry> {
        self.changes[from..].to_vec()
    }
}

/// Tells a request how its batch ended; `None` means committed.
type Completion = Box<dyn FnOnce(Option<StoreError>) + Send>;
/// A request's write, given its batch (or why it cannot run); returns its completion, and an
/// error if it broke the transaction.
type Job =
    Box<dyn FnOnce(Result<&mut Batch<'_>, StoreError>) -> (Completion, Option<StoreError>) + Send>;

/// Called with each committed batch's changes, on the writer thread.
pub type OnCommit = Box<dyn Fn(&Database, &[ChangeEntry]) + Send>;

enum Message {
    Write(Job),
    Stop(oneshot::Sender<()>),
}

/// Handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Message>,
    running: Arc<AtomicBool>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Writer {
    /// Starts the writer thread on `db`; `on_commit` sees each committed batch's changes
    /// before they are published and answered.
    pub fn start(
        db: Arc<Database>,
        bus: EventBus,
        on_commit: OnCommit,
        options: OpenOptions,
        disk: Arc<DiskGuard>,
    ) -> Result<Writer, StoreError> {
        let next_seq = {
            let txn = db.begin_read().map_err(storage_err)?;
            let table = txn.open_table(CHANGES).map_err(storage_err)?;
            let last = table.last().map_err(storage_err)?;
            last.map(|(k, _)| k.value() + 1).unwrap_or(1)
        };
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        let running = Arc::new(AtomicBool::new(true));
        let flag = running.clone();
        let thread = std::thread::Builder::new()
            .name("nexus-writer".into())
            .spawn(move || {
                run(&db, rx, &bus, &on_commit, next_seq, options, &disk);
                flag.store(false, Ordering::SeqCst);
            })
            .map_err(|e| StoreError::Backend(format!("cannot start writer thread: {e}")))?;
        Ok(Writer {
            queue,
            running,
            thread: Arc::new(Mutex::new(Some(thread))),
        })
    }

    /// Whether the thread is still taking writes.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    /// Queues `f` and waits until its batch is durable (or failed).
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |batch| {
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    let _ = reply.send(Err(e));
                    return (Box::new(|_| {}), None);
                }
            };
            let before = batch.changes.len();
            let result = f(batch);
            // A request that failed after recording a change, or with a storage error, may have
            // written part of itself: the whole transaction must not commit.
            let broke = match &result {
                Err(e) if batch.changes.len() != before || breaks_transaction(e) => Some(e.clone()),
                _ => None,
            };
            let completion: Completion = Box::new(move |failure| {
                let _ = reply.send(match failure {
                    None => result,
                    Some(e) => Err(e),
                });
            });
            (completion, broke)
        });
        self.queue
            .send(Message::Write(job))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Commits what is queued, stops the thread and waits for it.
    pub async fn close(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Stop(done)).await.is_ok() {
            let _ = wait.await;
        }
        let handle = self.thread.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

/// Errors that leave the transaction unusable, as opposed to a request's own refusal.
fn breaks_transaction(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Backend(_) | StoreError::Unavailable(_) | StoreError::Corrupt(_)
    )
}

fn run(
    db: &Database,
    mut rx: mpsc::Receiver<Message>,
    bus: &EventBus,
    on_commit: &OnCommit,
    mut next_seq: u64,
    options: OpenOptions,
    disk: &DiskGuard,
) {
    let max_batch = options.max_batch.max(1);
    let mut stop: Option<oneshot::Sender<()>> = None;
    while stop.is_none() {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        let mut jobs = Vec::new();
        match first {
            Message::Write(job) => jobs.push(job),
            Message::Stop(done) => stop = Some(done),
        }
        while stop.is_none() && jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(Message::Write(job)) => jobs.push(job),
                Ok(Message::Stop(done)) => stop = Some(done),
                Err(_) => break,
            }
        }
        if jobs.is_empty() {
            continue;
        }
        // Refused before redb sees it: a write that fails for want of space would fail the
        // whole open database, reads included.
        if let Err(e) = disk.check() {
            for job in jobs {
                fail_unrun(job, e.clone());
            }
            continue;
        }
        commit_batch(
            db,
            jobs,
            bus,
            on_commit,
            &mut next_seq,
            options.quick_repair,
        );
    }
    if let Some(done) = stop {
        let _ = done.send(());
    }
}

/// A durable write transaction: fsynced at commit, two-phase; with `quick_repair` it also
/// saves the allocator state, so opening after a crash need not walk the whole file.
pub(super) fn begin(db: &Database, quick_repair: bool) -> Result<WriteTransaction, StoreError> {
    let mut txn = db.begin_write().map_err(storage_err)?;
    txn.set_durability(redb::Durability::Immediate)
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    txn.set_two_phase_commit(true);
    txn.set_quick_repair(quick_repair);
    Ok(txn)
}

fn commit_batch(
    db: &Database,
    jobs: Vec<Job>,
    bus: &EventBus,
    on_commit: &OnCommit,
    next_seq: &mut u64,
    quick_repair: bool,
) {
    let started = std::time::Instant::now();
    let requests = jobs.len();
    let txn = match begin(db, quick_repair) {
        Ok(txn) => txn,
        Err(e) => {
            tracing::error!(error = %e, "cannot begin write transaction");
            for job in jobs {
                fail_unrun(job, e.clone());
            }
            return;
        }
    };
    let mut changes = Vec::new();
    let mut seq = *next_seq;
    let mut completions = Vec::with_capacity(jobs.len());
    let mut broken: Option<StoreError> = None;
    for job in jobs {
        if let Some(e) = &broken {
            fail_unrun(job, e.clone());
            continue;
        }
        let mut batch = Batch {
            txn: &txn,
            changes: &mut changes,
            next_seq: &mut seq,
            actor: None,
        };
        match catch_unwind(AssertUnwindSafe(|| job(Ok(&mut batch)))) {
            Ok((completion, failure)) => {
                completions.push(completion);
                if failure.is_some() {
                    broken = failure;
                }
            }
            Err(_) => {
                tracing::error!("a write panicked; its batch is rolled back");
                broken = Some(StoreError::Backend("a write panicked".into()));
            }
        }
    }
    let outcome = match broken {
        Some(e) => {
            tracing::error!(error = %e, "write batch rolled back");
            let _ = txn.abort();
            Some(e)
        }
        None => txn.commit().map_err(storage_err).err(),
    };
    match outcome {
        None => {
            crate::metrics::record_commit(requests, started.elapsed());
            *next_seq = seq;
            on_commit(db, &changes);
            bus.publish(changes);
            for completion in completions {
                completion(None);
            }
        }
        Some(e) => {
            tracing::warn!(error = %e, "write batch failed");
            for completion in completions {
                completion(Some(e.clone()));
            }
        }
    }
}

/// Answers a request whose write never ran because its batch had already failed.
fn fail_unrun(job: Job, e: StoreError) {
    let (completion, _) = job(Err(e));
    completion(None);
}
