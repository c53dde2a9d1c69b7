//! `nexus import activities FILE.csv --map field=Column,...`: rows become activities through
//! the same checks as `POST /api/activities/` (`ActivityService::import`). A dry run unless
//! committed; with `--commit`, all rows or none; every bad row is reported with its line
//! number and field.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::admin::{Failure, Handle};
use crate::domain::DomainError;
use crate::domain::ProjectId;
use crate::service::Principal;
use crate::service::activities::NewActivity;

/// The activity fields a column may fill. `assignee` takes a username, `project` a project id.
pub const FIELDS: [&str; 9] = [
    "title",
    "description",
    "type",
    "status",
    "priority",
    "start_time",
    "end_time",
    "assignee",
    "project",
];

/// Reads `--map title=Title,type=Kind`: field → column header.
pub fn parse_map(map: &str) -> Result<BTreeMap<String, String>, Failure> {
    let mut fields = BTreeMap::new();
    for pair in map.split(',').filter(|p| !p.trim().is_empty()) {
        let (field, column) = pair
            .split_once('=')
            .ok_or_else(|| format!("--map entry {pair:?} is not field=Column"))?;
        let field = field.trim();
        if !FIELDS.contains(&field) {
            return Err(format!(
                "--map names unknown field {field:?}; the fields are {}",
                FIELDS.join(", ")
            ));
        }
        fields.insert(field.to_string(), column.trim().to_string());
    }
    if !fields.contains_key("title") {
        return Err("--map must say which column holds the title (title=Column)".into());
    }
    Ok(fields)
}

/// Imports (or, unless `commit`, checks) the activities of `csv`.
pub async fn activities(
    handle: &Handle,
    me: &Principal,
    csv: &str,
    map: &str,
    commit: bool,
) -> Result<String, Failure> {
    let map = parse_map(map)?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(csv.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("the file's header row does not read: {e}"))?
        .clone();
    let mut columns = BTreeMap::new();
    for (field, column) in &map {
        let index = headers
            .iter()
            .position(|h| h.trim() == column)
            .ok_or_else(|| format!("the file has no column {column:?} (for {field})"))?;
        columns.insert(field.clone(), index);
    }
    let mut problems: Vec<String> = Vec::new();
    let mut inputs = Vec::new();
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                problems.push(format!("line {line}: does not read as CSV: {e}"));
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        match row_input(handle, &columns, &record).await {
            Ok(input) => {
                inputs.push(input);
                lines.push(line);
            }
            Err((field, message)) => problems.push(format!("line {line}: {field}: {message}")),
        }
    }
    let rows = inputs.len() + problems.len();
    if problems.is_empty() {
        match handle.services.activities.import(me, inputs, commit).await {
            Ok(n) if commit => return Ok(format!("imported {n} activities")),
            Ok(n) => {
                return Ok(format!(
                    "dry run: all {n} rows are good; add --commit to import them"
                ));
            }
            Err(refused) => {
                for (index, e) in refused {
                    let line = lines.get(index).copied().unwrap_or(0);
                    problems.extend(describe(line, &e));
                }
            }
        }
    }
    problems.push(format!(
        "{} of {rows} rows refused; nothing imported",
        problems.len()
    ));
    Err(problems.join("\n"))
}

/// One row as the API's create body, its references resolved.
async fn row_input(
    handle: &Handle,
    columns: &BTreeMap<String, usize>,
    record: &csv::StringRecord,
) -> Result<NewActivity, (String, String)> {
    let mut body = Map::new();
    for (field, &index) in columns {
        let cell = record.get(index).unwrap_or("").trim();
        if cell.is_empty() {
            continue;
        }
        let value = match field.as_str() {
            "assignee" => {
                let user = handle
                    .store
                    .user_by_username(cell)
                    .await
                    .map_err(|e| (field.clone(), e.to_string()))?
                    .ok_or_else(|| (field.clone(), format!("no user named {cell}")))?;
                body.insert("assigned_to".into(), Value::from(user.id.0));
                continue;
            }
            "project" => {
                let id: u64 = cell
                    .parse()
                    .map_err(|_| (field.clone(), "must be a project id".to_string()))?;
                body.insert("project_id".into(), Value::from(ProjectId(id).0));
                continue;
            }
            _ => Value::from(cell),
        };
        body.insert(field.clone(), value);
    }
    serde_path_to_error::deserialize(Value::Object(body))
        .map_err(|e| crate::http::extract::field_error(&e))
}

fn describe(line: u64, e: &DomainError) -> Vec<String> {
    match e {
        DomainError::Validation { fields, .. } if !fields.is_empty() => fields
            .iter()
            .map(|(field, messages)| {
                let field = match field.as_str() {
                    "assigned_to" => "assignee",
                    "project_id" => "project",
                    other => other,
                };
                format!("line {line}: {field}: {}", messages.join("; "))
            })
            .collect(),
        other => vec![format!("line {line}: {other}")],
    }
}
