//! Query compilation: the parsed query of `query.rs`, the caller's visibility and the kinds
//! asked for, turned into one tantivy query over the schema of `schema.rs`.

use tantivy::Term;
use tantivy::query::{
    AllQuery, BooleanQuery, FuzzyTermQuery, Occur, PhrasePrefixQuery, PhraseQuery, Query,
    TermQuery, TermSetQuery,
};
use tantivy::schema::{Field as SchemaField, IndexRecordOption};
use tantivy::tokenizer::TextAnalyzer;

use super::KINDS;
use super::query::{Field, Node};
use super::schema::Fields;
use crate::domain::visibility::Viewer;

/// Compiles parsed queries for one index.
pub(super) struct Compiler {
    fields: Fields,
    /// The title/body analyzer, to turn query words into index terms.
    analyzer: TextAnalyzer,
}

impl Compiler {
    /// A compiler for the fields of `schema::schema()`, analysing words with `analyzer`
    /// (the index's `STEMMER`).
    pub(super) fn new(fields: Fields, analyzer: TextAnalyzer) -> Self {
        Self { fields, analyzer }
    }

    /// The visibility filter for `viewer`: one set of tags, so the rules of §Roles cost a
    /// single union of short posting lists.
    fn visibility(&self, viewer: &Viewer) -> Box<dyn Query> {
        let f = self.fields;
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
            Some(Field::Title) => self.fields.title_raw,
            _ => self.fields.raw,
        }
    }

    /// The indexed fields a word in `field` is looked up in.
    fn text_fields(&self, field: Option<Field>) -> Vec<SchemaField> {
        let f = self.fields;
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
        let mut analyzer = self.analyzer.clone();
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
                        .unwrap_or(self.fields.raw)
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

    /// The whole query: what `node` asks, within what `viewer` may open, among `kinds`.
    pub(super) fn full_query(
        &self,
        node: &Node,
        viewer: &Viewer,
        kinds: &[&str],
    ) -> Box<dyn Query> {
        let f = self.fields;
        let mut clauses = vec![
            (Occur::Must, self.build(node)),
            (Occur::Must, self.visibility(viewer)),
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
}

#[cfg(test)]
mod tests {
    use tantivy::collector::DocSetCollector;
    use tantivy::schema::{Schema, Value as _};
    use tantivy::{Index, TantivyDocument};

    use super::*;
    use crate::domain::change::{ChangeEntry, ChangeOp, ObjectKind, VisibilityKeys};
    use crate::domain::user::Role;
    use crate::domain::{ProjectId, UserId};
    use crate::search::documents::document_of;
    use crate::search::query::{MAX_DEPTH, MAX_TERMS, parse};
    use crate::search::schema::{STEMMER, schema};

    fn compiler() -> (Compiler, Schema) {
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema.clone());
        let analyzer = index
            .tokenizers()
            .get(STEMMER)
            .expect("the English stemmer");
        (Compiler::new(fields, analyzer), schema)
    }

    /// A compact rendering of a compiled query: `(a b)` any of its parts, `+a` required,
    /// `-a` excluded, `field:term`, `field:"a b"` a phrase, `field:pre*` a prefix,
    /// `field:word~1` one typo forgiven, `field:{a,b}` a set of terms, `*` everything.
    fn shape(query: &dyn Query, schema: &Schema) -> String {
        let term = |t: &Term| {
            format!(
                "{}:{}",
                schema.get_field_name(t.field()),
                t.value().as_str().unwrap_or("?")
            )
        };
        if let Some(b) = query.downcast_ref::<BooleanQuery>() {
            let parts: Vec<String> = b
                .clauses()
                .iter()
                .map(|(occur, q)| {
                    let sign = match occur {
                        Occur::Must => "+",
                        Occur::MustNot => "-",
                        Occur::Should => "",
                    };
                    format!("{sign}{}", shape(q.as_ref(), schema))
                })
                .collect();
            return format!("({})", parts.join(" "));
        }
        if let Some(t) = query.downcast_ref::<TermQuery>() {
            return term(t.term());
        }
        if let Some(p) = query.downcast_ref::<PhraseQuery>() {
            let words: Vec<String> = p
                .phrase_terms()
                .iter()
                .map(|t| t.value().as_str().unwrap_or("?").to_string())
                .collect();
            return format!(
                "{}:\"{}\"",
                schema.get_field_name(p.field()),
                words.join(" ")
            );
        }
        if let Some(s) = query.downcast_ref::<TermSetQuery>() {
            let mut terms = Vec::new();
            s.query_terms(&mut |t, _| terms.push(t.clone()));
            terms.sort();
            let field = terms
                .first()
                .map_or("?", |t| schema.get_field_name(t.field()));
            let values: Vec<String> = terms
                .iter()
                .map(|t| t.value().as_str().unwrap_or("?").to_string())
                .collect();
            return format!("{field}:{{{}}}", values.join(","));
        }
        if query.downcast_ref::<AllQuery>().is_some() {
            return "*".into();
        }
        // These two show their terms only in their Debug form.
        let debug = format!("{query:?}");
        if let Some(p) = query.downcast_ref::<PhrasePrefixQuery>() {
            assert!(p.phrase_terms().is_empty(), "{debug}");
            return format!("{}*", debug_term(&debug, "prefix:", schema));
        }
        if query.downcast_ref::<FuzzyTermQuery>().is_some() {
            assert!(
                debug.contains("transposition_cost_one: true, prefix: false"),
                "{debug}"
            );
            let distance = debug
                .split("distance: ")
                .nth(1)
                .and_then(|d| d.split(',').next())
                .expect("a distance");
            return format!("{}~{distance}", debug_term(&debug, "term:", schema));
        }
        panic!("a query the compiler does not make: {debug}")
    }

    /// `field:text` of the first term after `marker` in a query's Debug form.
    fn debug_term(debug: &str, marker: &str, schema: &Schema) -> String {
        let rest = &debug[debug.find(marker).expect(marker)..];
        let rest = &rest[rest.find("Term(field=").expect("a term") + "Term(field=".len()..];
        let id: u32 = rest[..rest.find(',').expect("a field id")]
            .parse()
            .expect("a field id");
        let quoted = &rest[rest.find('"').expect("a text") + 1..];
        let text = &quoted[..quoted.find('"').expect("a closing quote")];
        format!(
            "{}:{text}",
            schema.get_field_name(SchemaField::from_field_id(id))
        )
    }

    /// The shape of the query compiled from `q`.
    fn compiled(q: &str) -> String {
        let (compiler, schema) = compiler();
        let node = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        shape(compiler.build(&node).as_ref(), &schema)
    }

    #[test]
    fn a_word_is_looked_up_by_its_stem_in_title_and_body() {
        assert_eq!(compiled("pump"), "(title:pump body:pump)");
        assert_eq!(compiled("Pumps"), "(title:pump body:pump raw:pumps~1)");
        assert_eq!(compiled("leaking"), "(title:leak body:leak raw:leaking~1)");
    }

    #[test]
    fn every_word_is_required() {
        let both = "(+(title:pump body:pump) +(title:seal body:seal))";
        assert_eq!(compiled("pump seal"), both);
        assert_eq!(compiled("pump AND seal"), both);
    }

    #[test]
    fn one_typo_is_forgiven_in_words_of_five_letters_or_more() {
        assert_eq!(compiled("seal"), "(title:seal body:seal)");
        assert_eq!(compiled("seals"), "(title:seal body:seal raw:seals~1)");
        // Letters, not bytes: four letters in five bytes get no typo, five in six do.
        assert!(!compiled("café").contains('~'), "{}", compiled("café"));
        assert!(
            compiled("pièce").ends_with(" raw:pièce~1)"),
            "{}",
            compiled("pièce")
        );
        // The typo is measured against the words as written, in the title only for `title:`.
        assert_eq!(compiled("title:seals"), "(title:seal title_raw:seals~1)");
    }

    #[test]
    fn a_phrase_keeps_its_stemmed_words_in_order() {
        assert_eq!(
            compiled("\"main pumps\""),
            "(title:\"main pump\" body:\"main pump\")"
        );
        assert_eq!(compiled("title:\"main pumps\""), "title:\"main pump\"");
        // A phrase of one word is that word.
        assert_eq!(compiled("\"pump\""), "(title:pump body:pump)");
    }

    #[test]
    fn status_type_and_priority_are_one_exact_term() {
        assert_eq!(compiled("status:in_progress"), "status:in_progress");
        assert_eq!(compiled("STATUS:In_Progress"), "status:in_progress");
        // Neither stemmed nor forgiven a typo, however long.
        assert_eq!(compiled("type:maintenance"), "type:maintenance");
        assert_eq!(compiled("priority:critical"), "priority:critical");
        assert_eq!(compiled("status:\"on hold\""), "status:on hold");
    }

    #[test]
    fn or_needs_any_part_and_binds_looser_than_and() {
        assert_eq!(
            compiled("pump OR seal"),
            "((title:pump body:pump) (title:seal body:seal))"
        );
        assert_eq!(
            compiled("pump OR seal leak"),
            "((title:pump body:pump) (+(title:seal body:seal) +(title:leak body:leak)))"
        );
    }

    #[test]
    fn not_and_minus_exclude_and_a_lone_negation_starts_from_everything() {
        let pump_not_seal = "(+(title:pump body:pump) -(title:seal body:seal))";
        assert_eq!(compiled("pump -seal"), pump_not_seal);
        assert_eq!(compiled("pump NOT seal"), pump_not_seal);
        assert_eq!(compiled("NOT pump"), "(+* -(title:pump body:pump))");
        assert_eq!(
            compiled("-pump -seal"),
            "(-(title:pump body:pump) -(title:seal body:seal) +*)"
        );
        assert_eq!(
            compiled("NOT NOT pump"),
            "(+* -(+* -(title:pump body:pump)))"
        );
    }

    #[test]
    fn parentheses_group() {
        assert_eq!(
            compiled("(pump OR seal) leak"),
            "(+((title:pump body:pump) (title:seal body:seal)) +(title:leak body:leak))"
        );
        assert_eq!(
            compiled("pump -(seal OR leak)"),
            "(+(title:pump body:pump) -((title:seal body:seal) (title:leak body:leak)))"
        );
    }

    #[test]
    fn a_prefix_matches_words_as_written() {
        assert_eq!(compiled("pum*"), "raw:pum*");
        // Not stemmed: `pumps*` must not widen to `pump*`.
        assert_eq!(compiled("pumps*"), "raw:pumps*");
        assert_eq!(compiled("title:pum*"), "title_raw:pum*");
        assert_eq!(compiled("status:plan*"), "status:plan*");
    }

    #[test]
    fn a_word_the_analyzer_splits_becomes_a_phrase() {
        let (compiler, schema) = compiler();
        let node = Node::Word {
            field: None,
            text: "o-rings".into(),
        };
        assert_eq!(
            shape(compiler.build(&node).as_ref(), &schema),
            "(title:\"o ring\" body:\"o ring\")"
        );
        // A word the analyzer drops entirely (over 40 letters) matches nothing.
        let node = Node::Word {
            field: None,
            text: "a".repeat(41),
        };
        assert_eq!(shape(compiler.build(&node).as_ref(), &schema), "()");
    }

    #[test]
    fn the_limits_hold_before_compiling_and_what_they_allow_compiles() {
        // Nesting: at the limit it compiles, one deeper is refused where it overflows.
        let nots = |n: usize| format!("{}pump", "NOT ".repeat(n));
        let mut expected = "(title:pump body:pump)".to_string();
        for _ in 0..MAX_DEPTH {
            expected = format!("(+* -{expected})");
        }
        assert_eq!(compiled(&nots(MAX_DEPTH)), expected);
        let e = parse(&nots(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(e.position, MAX_DEPTH * "NOT ".len(), "{e}");
        let parens = |n: usize| format!("{}pump{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(compiled(&parens(MAX_DEPTH)), "(title:pump body:pump)");
        let e = parse(&parens(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(e.position, MAX_DEPTH, "{e}");

        // Words: as many as allowed compile to one required clause each.
        let words = |n: usize| vec!["pump"; n].join(" ");
        let all = compiled(&words(MAX_TERMS));
        assert_eq!(all.matches("+(title:pump body:pump)").count(), MAX_TERMS);
        let e = parse(&words(MAX_TERMS + 1)).unwrap_err();
        assert_eq!(e.position, MAX_TERMS * "pump ".len(), "{e}");
    }

    #[test]
    fn visibility_and_kinds_are_required_alongside_the_query() {
        let (compiler, schema) = compiler();
        let node = parse("pump").unwrap_or_else(|e| panic!("{e}"));
        let full = |viewer: &Viewer, kinds: &[&str]| {
            shape(compiler.full_query(&node, viewer, kinds).as_ref(), &schema)
        };
        assert_eq!(
            full(&Viewer::new(UserId(7), Role::Staff, []), &KINDS),
            "(+(title:pump body:pump) +vis:{all,staff,u:7})"
        );
        let member = Viewer::new(UserId(7), Role::User, [ProjectId(3), ProjectId(5)]);
        assert_eq!(
            full(&member, &KINDS),
            "(+(title:pump body:pump) +vis:{all,p:3,p:5,u:7})"
        );
        assert_eq!(
            full(&member, &["chat", "activity"]),
            "(+(title:pump body:pump) +vis:{all,p:3,p:5,u:7} +kind:{activity,chat})"
        );
    }

    fn entry(
        kind: ObjectKind,
        id: u64,
        keys: VisibilityKeys,
        data: serde_json::Value,
    ) -> ChangeEntry {
        ChangeEntry {
            seq: id,
            kind,
            id,
            op: ChangeOp::Created,
            keys,
            ts: crate::domain::time::now(),
            data,
            actor: None,
        }
    }

    /// An index in memory holding a handful of objects, and a way to ask it.
    struct Fixture {
        compiler: Compiler,
        index: Index,
        fields: Fields,
    }

    impl Fixture {
        fn new() -> Self {
            let (schema, fields) = schema();
            let index = Index::create_in_ram(schema);
            let analyzer = index
                .tokenizers()
                .get(STEMMER)
                .expect("the English stemmer");
            let mut writer: tantivy::IndexWriter =
                index.writer(15_000_000).expect("an index writer");
            let entries = [
                entry(
                    ObjectKind::Activity,
                    1,
                    VisibilityKeys {
                        creator: Some(1),
                        ..VisibilityKeys::default()
                    },
                    serde_json::json!({
                        "title": "Main pumps leaking",
                        "description": "Seal worn on the north pump",
                        "status": "in_progress", "type": "maintenance", "priority": "high",
                        "created_by": 1, "assigned_to": null, "project_id": null,
                    }),
                ),
                entry(
                    ObjectKind::Activity,
                    2,
                    VisibilityKeys {
                        project: Some(5),
                        creator: Some(2),
                        assignee: Some(4),
                        ..VisibilityKeys::default()
                    },
                    serde_json::json!({
                        "title": "Replace valve",
                        "description": "The pump main valve sticks",
                        "status": "planned", "type": "maintenance", "priority": "critical",
                        "created_by": 2, "assigned_to": 4, "project_id": 5,
                    }),
                ),
                entry(
                    ObjectKind::Project,
                    5,
                    VisibilityKeys {
                        project: Some(5),
                        creator: Some(9),
                        parties: vec![8],
                        ..VisibilityKeys::default()
                    },
                    serde_json::json!({
                        "name": "Pump house", "description": "Bearings and seals",
                        "status": "active",
                    }),
                ),
                entry(
                    ObjectKind::Update,
                    3,
                    VisibilityKeys {
                        creator: Some(1),
                        ..VisibilityKeys::default()
                    },
                    serde_json::json!({
                        "title": "Safety briefing",
                        "content": "Hearing protection near the compressor",
                        "type": "announcement", "priority": "low",
                    }),
                ),
                entry(
                    ObjectKind::Message,
                    4,
                    VisibilityKeys {
                        creator: Some(1),
                        parties: vec![1, 2],
                        ..VisibilityKeys::default()
                    },
                    serde_json::json!({
                        "content": "the bearing on line two is noisy",
                        "sender_id": 1, "receiver_id": 2, "project_id": null,
                    }),
                ),
                entry(
                    ObjectKind::Message,
                    6,
                    VisibilityKeys {
                        project: Some(5),
                        creator: Some(3),
                        parties: vec![3],
                        ..VisibilityKeys::default()
                    },
                    serde_json::json!({
                        "content": "valves arrived", "sender_id": 3, "project_id": 5,
                    }),
                ),
                // Not searched: no document.
                entry(
                    ObjectKind::User,
                    9,
                    VisibilityKeys::default(),
                    serde_json::json!({"username": "pump"}),
                ),
            ];
            for entry in &entries {
                if let Some((_, Some(document))) = document_of(fields, entry) {
                    writer.add_document(document).expect("a document");
                }
            }
            writer.commit().expect("a commit");
            Fixture {
                compiler: Compiler::new(fields, analyzer),
                index,
                fields,
            }
        }

        /// `kind:id` of every hit of `q` for `viewer` (user `user`) among `kinds`, sorted.
        fn hits_for(&self, q: &str, viewer: &Viewer, kinds: &[&str]) -> Vec<String> {
            let node = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
            let query = self.compiler.full_query(&node, viewer, kinds);
            let searcher = self.index.reader().expect("a reader").searcher();
            let addresses = searcher.search(&query, &DocSetCollector).expect("a search");
            let mut hits: Vec<String> = addresses
                .into_iter()
                .map(|address| {
                    let document: TantivyDocument = searcher.doc(address).expect("a document");
                    let kind = document
                        .get_first(self.fields.kind)
                        .and_then(|v| v.as_str());
                    let id = document.get_first(self.fields.id).and_then(|v| v.as_u64());
                    format!("{}:{}", kind.unwrap_or("?"), id.unwrap_or(0))
                })
                .collect();
            hits.sort();
            hits
        }

        /// Hits of `q` for staff user 1, over every kind.
        fn hits(&self, q: &str) -> Vec<String> {
            self.hits_for(q, &Viewer::new(UserId(1), Role::Staff, []), &KINDS)
        }
    }

    #[test]
    fn words_match_by_stem_and_all_are_required() {
        let f = Fixture::new();
        assert_eq!(f.hits("pump"), ["activity:1", "activity:2", "project:5"]);
        assert_eq!(f.hits("pumps"), ["activity:1", "activity:2", "project:5"]);
        assert_eq!(f.hits("pump seal"), ["activity:1", "project:5"]);
        assert_eq!(f.hits("pump seal compressor"), Vec::<String>::new());
    }

    #[test]
    fn phrases_fields_and_operators_narrow_as_documented() {
        let f = Fixture::new();
        // "The pump main valve" has both words, in the other order.
        assert_eq!(f.hits("\"main pump\""), ["activity:1"]);
        // Activity 2 has `pump` in its description only.
        assert_eq!(f.hits("title:pump"), ["activity:1", "project:5"]);
        assert_eq!(f.hits("status:in_progress"), ["activity:1"]);
        assert_eq!(f.hits("priority:critical"), ["activity:2"]);
        assert_eq!(f.hits("type:announcement"), ["update:3"]);
        assert_eq!(f.hits("type:maintenance -valve"), ["activity:1"]);
        assert_eq!(f.hits("pump -seal"), ["activity:2"]);
        assert_eq!(f.hits("pump NOT valve"), ["activity:1", "project:5"]);
        assert_eq!(
            f.hits("valve OR compressor"),
            ["activity:2", "chat:6", "update:3"]
        );
        assert_eq!(
            f.hits("(valve OR compressor) -type:announcement"),
            ["activity:2", "chat:6"]
        );
        assert_eq!(f.hits("NOT pump").len(), 3);
    }

    #[test]
    fn prefixes_and_one_typo_find_words_as_written() {
        let f = Fixture::new();
        assert_eq!(f.hits("bear*"), ["chat:4", "project:5"]);
        // A message's title is its opening words; the project has the word in its description.
        assert_eq!(f.hits("title:bear*"), ["chat:4"]);
        // One transposition in seven letters, against the words as written (so `bearings`,
        // two away, is not found); the word itself also finds `bearings` by its stem, and
        // `hearing`, one letter away.
        assert_eq!(f.hits("baering"), ["chat:4"]);
        assert_eq!(f.hits("bearing"), ["chat:4", "project:5", "update:3"]);
        assert_eq!(f.hits("compresor"), ["update:3"]);
        // Four letters: no typo forgiven.
        assert_eq!(f.hits("pmup"), Vec::<String>::new());
        // Two typos are too many.
        assert_eq!(f.hits("cmoprsesor"), Vec::<String>::new());
    }

    #[test]
    fn hits_are_only_what_the_viewer_may_open_among_the_kinds_asked() {
        let f = Fixture::new();
        let member = |user: u64, projects: &[u64]| {
            Viewer::new(
                UserId(user),
                Role::User,
                projects.iter().map(|p| ProjectId(*p)),
            )
        };
        // A stranger: the activity with no project, the update; not the project, its room
        // or its activity, nor someone else's direct message.
        let stranger = member(10, &[]);
        assert_eq!(
            f.hits_for("pump OR bearing OR valve OR safety", &stranger, &KINDS),
            ["activity:1", "update:3"]
        );
        // On the project's team: its activity, the project and its room too.
        assert_eq!(
            f.hits_for("pump OR valve", &member(8, &[5]), &KINDS),
            ["activity:1", "activity:2", "chat:6", "project:5"]
        );
        // The assignee sees the activity without being on the team.
        assert_eq!(f.hits_for("valve", &member(4, &[]), &KINDS), ["activity:2"]);
        // A direct message: its parties, not staff.
        assert_eq!(f.hits_for("noisy", &member(2, &[]), &KINDS), ["chat:4"]);
        assert_eq!(
            f.hits_for("noisy", &Viewer::new(UserId(3), Role::Staff, []), &KINDS),
            Vec::<String>::new()
        );
        // Kinds narrow the search.
        assert_eq!(
            f.hits_for(
                "pump",
                &Viewer::new(UserId(1), Role::Staff, []),
                &["project"]
            ),
            ["project:5"]
        );
    }
}
