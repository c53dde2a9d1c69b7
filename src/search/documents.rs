//! Documents: what the index holds of each change-log entry, visibility tags included.

use tantivy::{IndexWriter, TantivyDocument, Term, doc};

use super::SearchIndex;
use super::schema::Fields;
use crate::domain::change::{ChangeEntry, ChangeOp, ObjectKind};
use crate::domain::visibility::search_tags;

impl SearchIndex {
    /// Applies `entries` to the writer (not yet committed).
    pub(super) fn apply_all(&self, entries: &[ChangeEntry]) {
        let writer = self.writer();
        for entry in entries {
            self.apply(&writer, entry);
        }
    }

    /// Adds, replaces or removes the document of one change.
    fn apply(&self, writer: &IndexWriter, entry: &ChangeEntry) {
        let f = self.inner.fields;
        let Some((key, document)) = document_of(f, entry) else {
            return;
        };
        writer.delete_term(Term::from_field_text(f.key, &key));
        if let Some(document) = document
            && let Err(e) = writer.add_document(document)
        {
            tracing::error!(error = %e, "could not index a document");
        }
    }
}

/// The index key of the entry's object and its document (`None` for a delete); `None` for
/// kinds that are not searched.
pub(super) fn document_of(
    f: Fields,
    entry: &ChangeEntry,
) -> Option<(String, Option<TantivyDocument>)> {
    let kind = entry.kind.search_name()?;
    let key = format!("{kind}:{}", entry.id);
    if entry.op == ChangeOp::Deleted {
        return Some((key, None));
    }
    let d = &entry.data;
    let text = |name: &str| d[name].as_str().unwrap_or("").to_string();
    let mut document = doc!(
        f.key => key.clone(),
        f.kind => kind,
        f.id => entry.id,
    );
    match entry.kind {
        ObjectKind::Activity => {
            add_words(&mut document, f, &text("title"), &text("description"));
            document.add_text(f.status, text("status"));
            document.add_text(f.kind_type, text("type"));
            document.add_text(f.priority, text("priority"));
        }
        ObjectKind::Project => {
            add_words(&mut document, f, &text("name"), &text("description"));
            document.add_text(f.status, text("status"));
        }
        ObjectKind::Update => {
            add_words(&mut document, f, &text("title"), &text("content"));
            document.add_text(f.kind_type, text("type"));
            document.add_text(f.priority, text("priority"));
        }
        ObjectKind::Message => {
            let content = text("content");
            let title: String = content.chars().take(80).collect();
            add_words(&mut document, f, &title, &content);
        }
        ObjectKind::Asset => {
            let title = format!("{} {}", text("code"), text("name"));
            add_words(&mut document, f, &title, &text("code"));
            document.add_text(f.kind_type, text("kind"));
        }
        ObjectKind::Downtime => {
            let note = text("note");
            let title: String = note.chars().take(80).collect();
            add_words(&mut document, f, &title, &note);
        }
        ObjectKind::Handover => {
            let summary = text("summary");
            let title: String = summary.chars().take(80).collect();
            let body = format!(
                "{summary}\n{}\n{}",
                text("open_issues"),
                text("safety_notes")
            );
            add_words(&mut document, f, &title, &body);
            document.add_text(f.status, text("status"));
        }
        ObjectKind::Andon => {
            let message = text("message");
            let title: String = message.chars().take(80).collect();
            add_words(&mut document, f, &title, &message);
            document.add_text(f.status, text("status"));
            document.add_text(f.kind_type, text("kind"));
        }
        ObjectKind::User
        | ObjectKind::Notification
        | ObjectKind::Shift
        | ObjectKind::DowntimeReason
        | ObjectKind::Production
        | ObjectKind::MachineKey
        | ObjectKind::UpdateAck => return None,
    }
    // Who may open it: the tags derived from the entry's visibility keys (API.md §Roles).
    for tag in search_tags(entry.kind, &entry.keys) {
        document.add_text(f.vis, tag);
    }
    Some((key, Some(document)))
}

/// Adds title and body, stemmed and as written.
fn add_words(document: &mut TantivyDocument, f: Fields, title: &str, body: &str) {
    document.add_text(f.title, title);
    document.add_text(f.body, body);
    document.add_text(f.raw, title);
    document.add_text(f.raw, body);
    document.add_text(f.title_raw, title);
}
