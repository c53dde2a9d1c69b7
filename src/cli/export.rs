//! `nexus export --format json|csv`: every object of every kind, as the store keeps it
//! (passwords' hashes left out). JSON is one document with a list per kind; CSV is one file per
//! kind, carried as a tar stream that the command unpacks into `--out DIR`.

use std::io::{Seek, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::admin::{Failure, Handle};
use crate::backup::Progress;
use crate::store::snapshot::EXPORTED;

/// Objects read per store call.
const PAGE: usize = 1000;

/// An export's format.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON document.
    Json,
    /// One CSV file per kind.
    Csv,
}

/// Fields never exported.
fn scrub(kind: &str, value: &mut Value) {
    if kind == "users"
        && let Some(map) = value.as_object_mut()
    {
        map.remove("password_hash");
    }
}

/// Pages through every object of `kind`, calling `each` on each.
async fn each_object(
    handle: &Handle,
    kind: &str,
    mut each: impl FnMut(Value) -> Result<(), Failure>,
) -> Result<u64, Failure> {
    let mut after = 0;
    let mut count = 0;
    loop {
        let page = handle
            .store
            .exported_rows(kind, after, PAGE)
            .await
            .map_err(|e| e.to_string())?;
        let Some(&(last, _)) = page.last() else {
            return Ok(count);
        };
        let full = page.len() == PAGE;
        for (_, mut value) in page {
            scrub(kind, &mut value);
            each(value)?;
            count += 1;
        }
        if !full {
            return Ok(count);
        }
        after = last;
    }
}

/// Writes the export to `out`; its one-line summary. The export is gathered in a temporary
/// file and then copied to `out` on a blocking thread, since `out` may be a socket's frames.
pub async fn run(
    handle: &Handle,
    format: Format,
    out: Box<dyn Write + Send>,
    progress: Progress,
) -> Result<String, Failure> {
    let failed = |e: std::io::Error| format!("cannot write the export: {e}");
    let mut gathered = tempfile::tempfile().map_err(failed)?;
    let total = match format {
        Format::Json => write_json(handle, &mut gathered, &progress).await?,
        Format::Csv => write_csv_tar(handle, &mut gathered, &progress).await?,
    };
    gathered.rewind().map_err(failed)?;
    let mut out = out;
    tokio::task::spawn_blocking(move || {
        std::io::copy(&mut gathered, &mut out)?;
        out.flush()
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(failed)?;
    Ok(format!(
        "exported {total} objects of {} kinds",
        EXPORTED.len()
    ))
}

async fn write_json(
    handle: &Handle,
    file: &mut std::fs::File,
    progress: &Progress,
) -> Result<u64, Failure> {
    let mut out = std::io::BufWriter::new(file);
    let head = serde_json::json!({
        "format": 1,
        "nexus_version": env!("CARGO_PKG_VERSION"),
        "exported_at": crate::domain::time::now()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    })
    .to_string();
    let failed = |e: std::io::Error| format!("cannot write the export: {e}");
    // The head object, reopened to add one list per kind.
    out.write_all(head.trim_end_matches('}').as_bytes())
        .map_err(failed)?;
    let mut total = 0;
    for kind in EXPORTED {
        out.write_all(format!(",\n\"{kind}\":[").as_bytes())
            .map_err(failed)?;
        let mut first = true;
        let n = each_object(handle, kind, |value| {
            let sep: &[u8] = if first { b"\n" } else { b",\n" };
            first = false;
            out.write_all(sep).map_err(failed)?;
            serde_json::to_writer(&mut out, &value).map_err(|e| e.to_string())
        })
        .await?;
        out.write_all(b"]").map_err(failed)?;
        total += n;
        progress(kind, n);
    }
    out.write_all(b"}\n").map_err(failed)?;
    out.flush().map_err(failed)?;
    Ok(total)
}

async fn write_csv_tar(
    handle: &Handle,
    file: &mut std::fs::File,
    progress: &Progress,
) -> Result<u64, Failure> {
    let failed = |e: std::io::Error| format!("cannot write the export: {e}");
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    let mut total = 0;
    for kind in EXPORTED {
        let mut csv_file = tempfile::tempfile().map_err(failed)?;
        let n = write_csv(handle, kind, &mut csv_file).await?;
        total += n;
        progress(kind, n);
        let size = csv_file.stream_position().map_err(failed)?;
        csv_file.rewind().map_err(failed)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o600);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, format!("{kind}.csv"), csv_file)
            .map_err(failed)?;
    }
    tar.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(failed)?;
    Ok(total)
}

/// One kind as CSV: a column per field of its objects (nested values as JSON text).
async fn write_csv(handle: &Handle, kind: &str, file: &mut std::fs::File) -> Result<u64, Failure> {
    let mut columns: Vec<String> = Vec::new();
    // Columns come from the first objects; a field added later with a default shows up once
    // any object has it.
    each_object(handle, kind, |value| {
        if let Some(map) = value.as_object() {
            for key in map.keys() {
                if !columns.contains(key) {
                    columns.push(key.clone());
                }
            }
        }
        Ok(())
    })
    .await?;
    let mut writer = csv::Writer::from_writer(file);
    let failed = |e: csv::Error| format!("cannot write the export: {e}");
    if !columns.is_empty() {
        writer.write_record(&columns).map_err(failed)?;
    }
    let n = each_object(handle, kind, |value| {
        let row: Vec<String> = columns
            .iter()
            .map(|c| match value.get(c) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            })
            .collect();
        writer.write_record(&row).map_err(failed)
    })
    .await?;
    writer
        .flush()
        .map_err(|e| format!("cannot write the export: {e}"))?;
    Ok(n)
}
