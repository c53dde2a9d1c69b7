//! Running a subcommand from the `nexus` binary: through the running server's socket when one
//! answers in the data directory, else on the directory itself. Exit codes: 0 done, 1 failed
//! (2, bad usage, is clap's).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::admin::{self, Output, Request};
use super::progress::Display;
use super::socket;
use crate::config::Config;
use crate::{App, backup};

/// Where a request's data (an archive, an export) goes.
pub enum Sink {
    /// It has none.
    Nothing,
    /// A file: written under a temporary name beside it, renamed into place when complete.
    File(PathBuf),
    /// Standard output.
    Stdout,
}

/// Runs `request` (`what` names it in progress lines); its summary, or why it failed.
pub fn run(config: &Config, request: Request, sink: Sink, what: &str) -> Result<String, String> {
    let display = Display::new(what);
    let progress = display.callback();
    let (mut data, partial): (Box<dyn Write + Send>, Option<(PathBuf, PathBuf)>) = match &sink {
        Sink::Nothing => (Box::new(std::io::sink()), None),
        Sink::Stdout => (Box::new(std::io::stdout()), None),
        Sink::File(path) => {
            let partial = PathBuf::from(format!("{}.partial", path.display()));
            let file = std::fs::File::create(&partial)
                .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
            (
                Box::new(std::io::BufWriter::with_capacity(256 * 1024, file)),
                Some((partial, path.clone())),
            )
        }
    };
    let data_dir = &config.server.data_dir;
    let outcome = match socket::connect(data_dir) {
        Some(stream) => {
            let shown = |stage: &str, n: u64| progress(stage, n);
            let answer = socket::call(stream, &request, &mut data, &shown);
            answer.and_then(|summary| {
                data.flush()
                    .map_err(|e| format!("cannot write the output: {e}"))?;
                Ok(summary)
            })
        }
        None => run_here(config, request, Output { progress, data }),
    };
    drop(display);
    match (&outcome, partial) {
        (Ok(_), Some((partial, path))) => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&partial)
                .and_then(|f| f.sync_all());
            file.and_then(|()| std::fs::rename(&partial, &path))
                .map_err(|e| format!("cannot finish {}: {e}", path.display()))?;
        }
        (Err(_), Some((partial, _))) => {
            let _ = std::fs::remove_file(partial);
        }
        _ => {}
    }
    outcome
}

/// Opens the data directory (no server runs there) and runs `request` on it.
fn run_here(config: &Config, request: Request, output: Output) -> Result<String, String> {
    let data_dir = config.server.data_dir.clone();
    let runtime = runtime()?;
    runtime.block_on(async move {
        if matches!(request, Request::Check) {
            // With no server running, the real file can get the database's own full check.
            let file = data_dir.join(crate::store::snapshot::DB_FILE);
            if file.exists() {
                tokio::task::spawn_blocking(move || crate::store::snapshot::verify_file(&file))
                    .await
                    .map_err(|e| e.to_string())??;
            }
        }
        let app = App::open_existing(config)
            .await
            .map_err(|e| e.to_string())?;
        let outcome = admin::execute(&app.admin_handle(), request, output).await;
        app.close().await;
        outcome
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

/// `nexus backup verify FILE`.
pub fn verify(archive: &Path) -> Result<String, String> {
    let display = Display::new("verify");
    let manifest = backup::verify(archive, &display.callback()).map_err(|e| e.to_string())?;
    drop(display);
    Ok(format!(
        "{} is a good backup: taken {} by Nexus {}, schema {}, {} rows in {} tables",
        archive.display(),
        manifest.created_at,
        manifest.nexus_version,
        manifest.schema_version,
        manifest.total_rows(),
        manifest.tables.len()
    ))
}

/// `nexus restore FILE [--force]`: refused while a server runs on the target; verifies the
/// whole archive before it writes anything, then rebuilds the search index.
pub fn restore(config: &Config, archive: &Path, force: bool) -> Result<String, String> {
    let data_dir = &config.server.data_dir;
    if socket::connect(data_dir).is_some() {
        return Err(format!(
            "a server is running on {}; stop it before restoring over it",
            data_dir.display()
        ));
    }
    let display = Display::new("restore");
    let restored = backup::restore(archive, data_dir, force, &display.callback())
        .map_err(|e| e.to_string())?;
    display.show("rebuilding the search index", 0);
    let runtime = runtime()?;
    let manifest = restored.manifest.clone();
    let archive_name = archive.display().to_string();
    let objects = runtime.block_on(async move {
        let app = App::open_existing(config)
            .await
            .map_err(|e| e.to_string())?;
        let rebuilt = app.rebuild_search().await.map_err(|e| e.to_string());
        let detail = serde_json::json!({
            "archive": archive_name,
            "taken_at": manifest.created_at,
            "rows": manifest.total_rows(),
        });
        let entry =
            app.services
                .audit
                .entry(None, Some("cli"), "restore", "database".into(), detail);
        app.services.audit.record(entry).await;
        app.close().await;
        rebuilt
    })?;
    drop(display);
    let aside = match &restored.kept_aside {
        Some(path) => format!("; the old directory is at {}", path.display()),
        None => String::new(),
    };
    Ok(format!(
        "restored {} rows (taken {}) into {}, search index rebuilt ({objects} objects){aside}",
        restored.manifest.total_rows(),
        restored.manifest.created_at,
        data_dir.display()
    ))
}

/// `nexus config check`: asks the running server, whose settings are in effect; else reads the
/// data directory (for the admin-password check) when it holds a database; else the settings
/// alone.
pub fn config_check(config: &Config) -> Result<String, String> {
    if socket::connect(&config.server.data_dir).is_some()
        || crate::store::exists(&config.server.data_dir)
    {
        return run(config, Request::ConfigCheck, Sink::Nothing, "config check");
    }
    let runtime = runtime()?;
    Ok(runtime.block_on(super::config_check::report(config, None)))
}

/// `nexus export --format json|csv [--out PATH]`: JSON to a file or stdout; CSV into the
/// directory PATH (absent or empty), one file per kind.
pub fn export(
    config: &Config,
    format: super::export::Format,
    out: Option<PathBuf>,
) -> Result<String, String> {
    let request = Request::Export { format };
    if format == super::export::Format::Json {
        let sink = out.map(Sink::File).unwrap_or(Sink::Stdout);
        return run(config, request, sink, "export");
    }
    let dir = out.ok_or("a CSV export needs --out DIR (one file per kind goes there)")?;
    if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!("{} is not empty", dir.display()));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let stream = dir.join(".export.tar");
    let summary = run(config, request, Sink::File(stream.clone()), "export")?;
    let unpacked = std::fs::File::open(&stream).and_then(|f| tar::Archive::new(f).unpack(&dir));
    let _ = std::fs::remove_file(&stream);
    unpacked.map_err(|e| format!("cannot write the CSV files: {e}"))?;
    Ok(format!("{summary} into {}", dir.display()))
}

/// `nexus import activities FILE --map ... [--commit]`.
pub fn import_activities(
    config: &Config,
    file: &Path,
    map: String,
    commit: bool,
) -> Result<String, String> {
    super::import::parse_map(&map)?;
    let csv = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let request = Request::ImportActivities { csv, map, commit };
    run(config, request, Sink::Nothing, "import")
}
