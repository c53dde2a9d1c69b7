//! The index's schema: which fields a document has and how each is indexed.

use tantivy::schema::{
    Field as SchemaField, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions,
};

/// The schema's fields, by job.
#[derive(Clone, Copy)]
pub(super) struct Fields {
    pub(super) key: SchemaField,
    pub(super) kind: SchemaField,
    pub(super) id: SchemaField,
    pub(super) title: SchemaField,
    pub(super) body: SchemaField,
    /// Title and body words as written (not stemmed), for prefixes and typos.
    pub(super) raw: SchemaField,
    /// Title words as written, for `title:` prefixes and typos.
    pub(super) title_raw: SchemaField,
    pub(super) status: SchemaField,
    pub(super) kind_type: SchemaField,
    pub(super) priority: SchemaField,
    /// Visibility tags: who may open the object (see `documents::document_of`).
    pub(super) vis: SchemaField,
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
pub(super) const STEMMER: &str = "en_stem";

/// The schema and its fields.
pub(super) fn schema() -> (Schema, Fields) {
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
