//! Backups you can trust: one archive (gzip'd tar) holding a consistent copy of the database,
//! the signing key and a manifest, checked end to end before a restore writes anything.
//!
//! The copy is the store's snapshot (one read transaction, writes go on meanwhile), checked
//! with the database's own integrity check and compared table by table with the source before
//! it is packed. A restore unpacks into a temporary directory beside the target, checks every
//! file's SHA-256 and size, the database's integrity and its rows per table against the
//! manifest, and only then moves it into place.

pub mod schedule;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::signing_key::KEY_FILE;
use crate::store::Store;
use crate::store::snapshot::{self, CopyProgress, DB_FILE, TableCounts};

/// The archive layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The manifest's name inside the archive.
pub const MANIFEST: &str = "manifest.json";

/// What an archive holds, written first in it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// The archive layout (`FORMAT_VERSION`).
    pub format: u32,
    /// The Nexus that made it.
    pub nexus_version: String,
    /// The database schema of the copy.
    pub schema_version: u64,
    /// When the copy was taken (RFC 3339, UTC).
    pub created_at: String,
    /// Rows per table of the copy.
    pub tables: TableCounts,
    /// Every other file of the archive, by name.
    pub files: BTreeMap<String, FileEntry>,
}

/// One file of an archive.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    /// Its size in bytes.
    pub bytes: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
}

impl Manifest {
    /// Rows over every table.
    pub fn total_rows(&self) -> u64 {
        self.tables.values().sum()
    }

    /// Bytes over every file.
    pub fn total_bytes(&self) -> u64 {
        self.files.values().map(|f| f.bytes).sum()
    }
}

/// Why a backup or restore failed; one line, for people.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackupError(pub String);

impl BackupError {
    fn io(what: &str, e: io::Error) -> Self {
        BackupError(format!("{what}: {e}"))
    }
}

/// Told what a long job is doing: a stage name and how far it got.
pub type Progress = Arc<dyn Fn(&str, u64) + Send + Sync>;

/// A progress that tells nobody.
pub fn quiet() -> Progress {
    Arc::new(|_, _| {})
}

/// A snapshot's per-table progress as one `copy` stage counting every row copied so far.
pub fn copy_progress(progress: Progress) -> CopyProgress {
    let seen = std::sync::Mutex::new((String::new(), 0u64, 0u64));
    Arc::new(move |table, rows| {
        let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
        let (current, done_before, in_table) = &mut *seen;
        if current != table {
            *done_before += *in_table;
            *current = table.to_string();
        }
        *in_table = rows;
        let total = *done_before + rows;
        drop(seen);
        progress("copy", total);
    })
}

/// Takes a consistent copy of `store` (whose data directory is `data_dir`) and writes it as an
/// archive to `sink`. Works while the server runs and writes go on.
pub async fn create(
    store: &Arc<dyn Store>,
    data_dir: &Path,
    sink: impl Write + Send + 'static,
    progress: Progress,
) -> Result<Manifest, BackupError> {
    let work = tempfile::Builder::new()
        .prefix(".backup-")
        .tempdir_in(data_dir)
        .map_err(|e| BackupError::io("cannot make a working directory in the data directory", e))?;
    let copy_path = work.path().join(DB_FILE);
    let tables = store
        .snapshot(&copy_path, copy_progress(progress.clone()))
        .await
        .map_err(|e| BackupError(format!("cannot copy the database: {e}")))?;
    let key = data_dir.join(KEY_FILE);
    let work_dir = work.path().to_path_buf();
    let made = tokio::task::spawn_blocking(move || {
        let checked = snapshot::verify_file(&copy_path).map_err(BackupError)?;
        if checked != tables {
            return Err(BackupError(
                "the copy's rows differ from the database's after copying".into(),
            ));
        }
        let mut files = vec![(DB_FILE.to_string(), copy_path)];
        if key.exists() {
            files.push((KEY_FILE.to_string(), key));
        }
        let result = pack(files, tables, sink, &progress);
        drop(work_dir);
        result
    })
    .await
    .map_err(|e| BackupError(format!("backup task failed: {e}")))?;
    drop(work);
    made
}

fn pack(
    files: Vec<(String, PathBuf)>,
    tables: TableCounts,
    sink: impl Write,
    progress: &Progress,
) -> Result<Manifest, BackupError> {
    let mut entries = BTreeMap::new();
    for (name, path) in &files {
        progress("checksum", 0);
        entries.insert(name.clone(), digest(path)?);
    }
    let manifest = Manifest {
        format: FORMAT_VERSION,
        nexus_version: env!("CARGO_PKG_VERSION").to_string(),
        schema_version: crate::store::redb::SCHEMA_VERSION,
        created_at: crate::domain::time::now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        tables,
        files: entries,
    };
    let manifest_json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| BackupError(format!("cannot write the manifest: {e}")))?;
    // Fast compression: a database compresses well even at level 1, and a backup of a large
    // file should be bounded by the disk, not the CPU of a small box.
    let gz = flate2::write::GzEncoder::new(BufWriter::new(sink), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let write_err = |e: io::Error| BackupError::io("cannot write the archive", e);
    append(
        &mut tar,
        MANIFEST,
        manifest_json.len() as u64,
        &manifest_json[..],
    )
    .map_err(write_err)?;
    for (name, path) in &files {
        let file = File::open(path).map_err(|e| BackupError::io("cannot read the copy", e))?;
        let bytes = manifest.files[name].bytes;
        let mut written = 0u64;
        let counted = CountingReader {
            inner: file.take(bytes),
            on_read: |n| {
                written += n as u64;
                progress("pack", written);
            },
        };
        append(&mut tar, name, bytes, counted).map_err(write_err)?;
    }
    let gz = tar.into_inner().map_err(write_err)?;
    let mut out = gz.finish().map_err(write_err)?;
    out.flush().map_err(write_err)?;
    Ok(manifest)
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    size: u64,
    data: impl Read,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, name, data)
}

struct CountingReader<R, F: FnMut(usize)> {
    inner: R,
    on_read: F,
}

impl<R: Read, F: FnMut(usize)> Read for CountingReader<R, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.on_read)(n);
        Ok(n)
    }
}

fn digest(path: &Path) -> Result<FileEntry, BackupError> {
    let mut file = File::open(path).map_err(|e| BackupError::io("cannot read the copy", e))?;
    let mut hasher = Sha256::new();
    let bytes = io::copy(&mut file, &mut HashWriter(&mut hasher))
        .map_err(|e| BackupError::io("cannot read the copy", e))?;
    Ok(FileEntry {
        bytes,
        sha256: hex(&hasher.finalize()),
    })
}

struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unpacks `archive` into `into` (an empty directory) and checks everything: the manifest's
/// format and schema, every file's size and SHA-256, no file missing or extra, the database's
/// integrity and its rows per table. The archive is read to its end, so a truncated one fails
/// its gzip check even after the last file.
pub fn unpack_verified(
    archive: &Path,
    into: &Path,
    progress: &Progress,
) -> Result<Manifest, BackupError> {
    let refuse = |why: String| BackupError(format!("{} refused: {why}", archive.display()));
    let file = File::open(archive).map_err(|e| refuse(format!("cannot open it: {e}")))?;
    let mut gz = flate2::read::GzDecoder::new(BufReader::new(file));
    let mut seen: BTreeMap<String, FileEntry> = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
    {
        let mut tar = tar::Archive::new(&mut gz);
        let entries = tar
            .entries()
            .map_err(|e| refuse(format!("not a Nexus backup ({e})")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| refuse(format!("damaged or truncated ({e})")))?;
            let name = plain_name(&entry.path().map_err(|e| refuse(e.to_string()))?)
                .ok_or_else(|| refuse("holds a file with a path, not a plain name".into()))?;
            if !entry.header().entry_type().is_file() {
                return Err(refuse(format!("{name} is not a plain file")));
            }
            if name == MANIFEST {
                let mut text = Vec::new();
                entry
                    .by_ref()
                    .take(1 << 20)
                    .read_to_end(&mut text)
                    .map_err(|e| refuse(format!("damaged or truncated ({e})")))?;
                let parsed: Manifest = serde_json::from_slice(&text)
                    .map_err(|e| refuse(format!("its manifest does not read ({e})")))?;
                manifest = Some(parsed);
                continue;
            }
            if name != DB_FILE && name != KEY_FILE {
                return Err(refuse(format!("holds an unknown file {name}")));
            }
            if seen.contains_key(&name) {
                return Err(refuse(format!("holds {name} twice")));
            }
            let path = into.join(&name);
            let mut out = File::create(&path)
                .map_err(|e| BackupError::io("cannot write the unpacked file", e))?;
            let mut hasher = Sha256::new();
            let mut written = 0u64;
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = entry
                    .read(&mut buf)
                    .map_err(|e| refuse(format!("damaged or truncated ({e})")))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n])
                    .map_err(|e| BackupError::io("cannot write the unpacked file", e))?;
                written += n as u64;
                progress("unpack", written);
            }
            out.sync_all()
                .map_err(|e| BackupError::io("cannot write the unpacked file", e))?;
            seen.insert(
                name,
                FileEntry {
                    bytes: written,
                    sha256: hex(&hasher.finalize()),
                },
            );
        }
    }
    // The rest of the stream: its gzip trailer (CRC and length) is checked only when read.
    io::copy(&mut gz, &mut io::sink())
        .map_err(|e| refuse(format!("damaged or truncated ({e})")))?;
    let manifest = manifest.ok_or_else(|| refuse("it has no manifest".into()))?;
    if manifest.format != FORMAT_VERSION {
        return Err(refuse(format!(
            "archive format {} is not this build's {FORMAT_VERSION}",
            manifest.format
        )));
    }
    if manifest.schema_version > crate::store::redb::SCHEMA_VERSION {
        return Err(refuse(format!(
            "it holds schema version {}, newer than this build's {}; use a newer Nexus",
            manifest.schema_version,
            crate::store::redb::SCHEMA_VERSION
        )));
    }
    for (name, expected) in &manifest.files {
        match seen.get(name) {
            None => return Err(refuse(format!("{name} is missing"))),
            Some(found) if found.bytes != expected.bytes => {
                return Err(refuse(format!(
                    "{name} has {} bytes, the manifest says {}",
                    found.bytes, expected.bytes
                )));
            }
            Some(found) if found.sha256 != expected.sha256 => {
                return Err(refuse(format!("{name} does not match its SHA-256")));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = seen.keys().find(|n| !manifest.files.contains_key(*n)) {
        return Err(refuse(format!("{extra} is not in the manifest")));
    }
    if !manifest.files.contains_key(DB_FILE) {
        return Err(refuse("it holds no database".into()));
    }
    progress("integrity check", 0);
    let tables = snapshot::verify_file(&into.join(DB_FILE)).map_err(refuse)?;
    if tables != manifest.tables {
        return Err(refuse(
            "the database's rows per table differ from the manifest".into(),
        ));
    }
    Ok(manifest)
}

fn plain_name(path: &Path) -> Option<String> {
    let mut parts = path.components();
    match (parts.next(), parts.next()) {
        (Some(Component::Normal(name)), None) => name.to_str().map(str::to_string),
        _ => None,
    }
}

/// Checks `archive` completely without restoring it (`nexus backup verify`).
pub fn verify(archive: &Path, progress: &Progress) -> Result<Manifest, BackupError> {
    let scratch = tempfile::Builder::new()
        .prefix(".nexus-verify-")
        .tempdir()
        .map_err(|e| BackupError::io("cannot make a working directory", e))?;
    unpack_verified(archive, scratch.path(), progress)
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    /// The archive's manifest.
    pub manifest: Manifest,
    /// Where the replaced data directory was kept, under `--force`.
    pub kept_aside: Option<PathBuf>,
}

/// Restores `archive` into `data_dir`, which must be absent or empty unless `force` (then the
/// old one is renamed aside). Nothing is changed unless the whole archive checks out. The
/// search index is not in the archive; the caller rebuilds it.
pub fn restore(
    archive: &Path,
    data_dir: &Path,
    force: bool,
    progress: &Progress,
) -> Result<Restored, BackupError> {
    let occupied = match std::fs::read_dir(data_dir) {
        Ok(mut entries) => entries.next().is_some(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => {
            return Err(BackupError::io(
                &format!("cannot read {}", data_dir.display()),
                e,
            ));
        }
    };
    if occupied && !force {
        return Err(BackupError(format!(
            "{} is not empty; restore into an empty or new directory, or add --force to replace \
             it (the old one is kept aside)",
            data_dir.display()
        )));
    }
    let absolute = std::path::absolute(data_dir)
        .map_err(|e| BackupError::io("cannot resolve the data directory", e))?;
    let parent = absolute
        .parent()
        .ok_or_else(|| BackupError("the data directory has no parent".into()))?;
    std::fs::create_dir_all(parent)
        .map_err(|e| BackupError::io(&format!("cannot create {}", parent.display()), e))?;
    let staging = tempfile::Builder::new()
        .prefix(".nexus-restore-")
        .tempdir_in(parent)
        .map_err(|e| BackupError::io("cannot make a working directory beside the target", e))?;
    let manifest = unpack_verified(archive, staging.path(), progress)?;
    let mut kept_aside = None;
    if occupied {
        let stamp = crate::domain::time::now().unix_timestamp();
        let aside = PathBuf::from(format!("{}.replaced-{stamp}", absolute.display()));
        std::fs::rename(&absolute, &aside)
            .map_err(|e| BackupError::io("cannot move the old data directory aside", e))?;
        kept_aside = Some(aside);
    } else if absolute.exists() {
        std::fs::remove_dir(&absolute)
            .map_err(|e| BackupError::io("cannot replace the empty data directory", e))?;
    }
    let staged = staging.keep();
    if let Err(e) = std::fs::rename(&staged, &absolute) {
        // Put the old directory back, so a failed move leaves things as they were.
        if let Some(aside) = &kept_aside {
            let _ = std::fs::rename(aside, &absolute);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(BackupError::io(
            "cannot move the restored data into place",
            e,
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&absolute, std::fs::Permissions::from_mode(0o700));
        let _ = std::fs::set_permissions(
            absolute.join(KEY_FILE),
            std::fs::Permissions::from_mode(0o600),
        );
    }
    Ok(Restored {
        manifest,
        kept_aside,
    })
}

/// A `Write` that hands its bytes, in chunks, to an async reader: for streaming an archive
/// made on a blocking thread into an HTTP body or a socket.
pub struct ChannelWriter {
    sender: tokio::sync::mpsc::Sender<bytes::Bytes>,
}

impl ChannelWriter {
    /// A writer and the receiving end of its chunks; a few chunks are buffered at most.
    pub fn new() -> (Self, tokio::sync::mpsc::Receiver<bytes::Bytes>) {
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        (ChannelWriter { sender }, receiver)
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sender
            .blocking_send(bytes::Bytes::copy_from_slice(buf))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader went away"))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
