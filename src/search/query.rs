//! The search box's query language (API.md §Search): words (all must match), `"phrases"`,
//! `field:value` for `title`, `status`, `type` and `priority`, `AND`/`OR`/`NOT` (and `-word`),
//! parentheses, and prefixes `pump*`. A query that does not parse is an error that says where.

use std::fmt;

/// Fields a query may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// Title (or name) text.
    Title,
    /// Activity or project status, exact.
    Status,
    /// Activity or update type, exact.
    Type,
    /// Priority, exact.
    Priority,
}

impl Field {
    /// Whether the field holds one exact value (not words).
    pub fn is_exact(self) -> bool {
        !matches!(self, Field::Title)
    }

    fn parse(name: &str) -> Option<Field> {
        match name.to_lowercase().as_str() {
            "title" => Some(Field::Title),
            "status" => Some(Field::Status),
            "type" => Some(Field::Type),
            "priority" => Some(Field::Priority),
            _ => None,
        }
    }
}

/// A parsed query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// One word, in `field` or (when `None`) in title and body.
    Word {
        /// Where.
        field: Option<Field>,
        /// The word, lower-cased.
        text: String,
    },
    /// Words starting with `text`.
    Prefix {
        /// Where.
        field: Option<Field>,
        /// The prefix, lower-cased.
        text: String,
    },
    /// Words next to each other, in order.
    Phrase {
        /// Where.
        field: Option<Field>,
        /// The words, lower-cased.
        words: Vec<String>,
    },
    /// Every part must match.
    And(Vec<Node>),
    /// Any part may match.
    Or(Vec<Node>),
    /// Must not match.
    Not(Box<Node>),
}

/// Why a query did not parse, and where (a character offset from 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Character offset of the problem.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at position {}", self.message, self.position)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Phrase(String),
    Open,
    Close,
    Minus,
}

fn tokenize(input: &str) -> Result<Vec<(usize, Token)>, ParseError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push((i, Token::Open));
            i += 1;
        } else if c == ')' {
            out.push((i, Token::Close));
            i += 1;
        } else if c == '-'
            && (out.is_empty()
                || chars
                    .get(i.wrapping_sub(1))
                    .is_some_and(|p| p.is_whitespace() || *p == '('))
        {
            out.push((i, Token::Minus));
            i += 1;
        } else if c == '"' {
            let start = i;
            i += 1;
            let mut text = String::new();
            while i < chars.len() && chars[i] != '"' {
                text.push(chars[i]);
                i += 1;
            }
            if i >= chars.len() {
                return Err(ParseError {
                    position: start,
                    message: "unclosed quote".into(),
                });
            }
            i += 1;
            out.push((start, Token::Phrase(text)));
        } else {
            let start = i;
            let mut text = String::new();
            while i < chars.len() && !chars[i].is_whitespace() && !matches!(chars[i], '(' | ')') {
                // `title:"two words"` keeps its phrase with the field.
                if chars[i] == '"' && text.ends_with(':') {
                    let quote = i;
                    i += 1;
                    let mut phrase = String::new();
                    while i < chars.len() && chars[i] != '"' {
                        phrase.push(chars[i]);
                        i += 1;
                    }
                    if i >= chars.len() {
                        return Err(ParseError {
                            position: quote,
                            message: "unclosed quote".into(),
                        });
                    }
                    i += 1;
                    text.push('"');
                    text.push_str(&phrase);
                    text.push('"');
                    break;
                }
                text.push(chars[i]);
                i += 1;
            }
            out.push((start, Token::Word(text)));
        }
    }
    Ok(out)
}

/// Splits text into lower-cased words the way the index does (letters and digits).
pub fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// How deeply parentheses and `NOT`/`-` may nest. Parsing, building the index query and
/// dropping the tree each recurse once per level on the request's stack: unbounded, a query of a
/// thousand `(` overflowed it and aborted the whole server.
pub const MAX_DEPTH: usize = 32;

/// Words and phrases a query may hold.
pub const MAX_TERMS: usize = 64;

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    end: usize,
    /// Parentheses and negations open around the current token.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |(p, _)| *p)
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            position: self.position(),
            message: message.into(),
        })
    }

    /// Goes one level deeper (a parenthesis or a negation at `position`), within `MAX_DEPTH`.
    fn enter(&mut self, position: usize) -> Result<(), ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(ParseError {
                position,
                message: format!(
                    "the query nests deeper than {MAX_DEPTH} levels of parentheses and NOT"
                ),
            });
        }
        self.depth += 1;
        Ok(())
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w == keyword)
    }

    fn or_expr(&mut self) -> Result<Node, ParseError> {
        let mut parts = vec![self.and_expr()?];
        while self.is_keyword("OR") {
            self.at += 1;
            parts.push(self.and_expr()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Node::Or(parts)
        })
    }

    fn and_expr(&mut self) -> Result<Node, ParseError> {
        let mut parts = vec![self.unary()?];
        loop {
            match self.peek() {
                None | Some(Token::Close) => break,
                Some(Token::Word(w)) if w == "OR" => break,
                Some(Token::Word(w)) if w == "AND" => {
                    self.at += 1;
                    parts.push(self.unary()?);
                }
                _ => parts.push(self.unary()?),
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Node::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Node, ParseError> {
        if self.is_keyword("NOT") || matches!(self.peek(), Some(Token::Minus)) {
            self.enter(self.position())?;
            self.at += 1;
            let inner = self.unary();
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Node, ParseError> {
        let position = self.position();
        let Some((_, token)) = self.tokens.get(self.at).cloned() else {
            return self.error("expected a word or phrase, found the end of the query");
        };
        self.at += 1;
        match token {
            Token::Open => {
                self.enter(position)?;
                let inner = self.or_expr();
                self.depth -= 1;
                let inner = inner?;
                if !matches!(self.peek(), Some(Token::Close)) {
                    return Err(ParseError {
                        position,
                        message: "unclosed parenthesis".into(),
                    });
                }
                self.at += 1;
                Ok(inner)
            }
            Token::Close => Err(ParseError {
                position,
                message: "unexpected ')'".into(),
            }),
            Token::Minus => self.error("expected a word after '-'"),
            Token::Phrase(text) => phrase(None, &text, position),
            Token::Word(w) if w == "AND" || w == "OR" => Err(ParseError {
                position,
                message: format!("{w} needs a word or phrase before and after it"),
            }),
            Token::Word(w) => match w.split_once(':') {
                Some((name, value)) if !name.is_empty() => {
                    let Some(field) = Field::parse(name) else {
                        return Err(ParseError {
                            position,
                            message: format!(
                                "unknown field {name:?}; fields are title, status, type, priority"
                            ),
                        });
                    };
                    if value.is_empty() {
                        return Err(ParseError {
                            position: position + name.chars().count() + 1,
                            message: format!("{name}: needs a value"),
                        });
                    }
                    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                        Some(p) => phrase(Some(field), p, position),
                        None => word(Some(field), value, position),
                    }
                }
                _ => word(None, &w, position),
            },
        }
    }
}

fn phrase(field: Option<Field>, text: &str, position: usize) -> Result<Node, ParseError> {
    if let Some(f) = field.filter(|f| f.is_exact()) {
        let text = text.trim().to_lowercase();
        if text.is_empty() {
            return Err(ParseError {
                position,
                message: "empty value".into(),
            });
        }
        return Ok(Node::Word {
            field: Some(f),
            text,
        });
    }
    let words = words_of(text);
    match words.len() {
        0 => Err(ParseError {
            position,
            message: "empty phrase".into(),
        }),
        1 => Ok(Node::Word {
            field,
            text: words.into_iter().next().unwrap_or_default(),
        }),
        _ => Ok(Node::Phrase { field, words }),
    }
}

fn word(field: Option<Field>, raw: &str, position: usize) -> Result<Node, ParseError> {
    if let Some(stem) = raw.strip_suffix('*') {
        let words = words_of(stem);
        return match words.as_slice() {
            [one] => Ok(Node::Prefix {
                field,
                text: one.clone(),
            }),
            _ => Err(ParseError {
                position,
                message: "a prefix is one word followed by '*', like pump*".into(),
            }),
        };
    }
    phrase(field, raw, position)
}

/// Parses `input`; an empty query is an error too.
pub fn parse(input: &str) -> Result<Node, ParseError> {
    let tokens = tokenize(input)?;
    if tokens.is_empty() {
        return Err(ParseError {
            position: 0,
            message: "the query is empty".into(),
        });
    }
    // Each word may expand to its typo and prefix variants, so thousands of them would keep a
    // core busy for a second per request.
    let terms = tokens.iter().filter(|(_, t)| {
        matches!(t, Token::Word(w) if !matches!(w.as_str(), "AND" | "OR" | "NOT"))
            || matches!(t, Token::Phrase(_))
    });
    if let Some((position, _)) = terms.clone().nth(MAX_TERMS) {
        return Err(ParseError {
            position: *position,
            message: format!("the query has more than {MAX_TERMS} words and phrases"),
        });
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        end: input.chars().count(),
        depth: 0,
    };
    let node = parser.or_expr()?;
    if parser.at < parser.tokens.len() {
        return parser.error("unexpected ')'");
    }
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str) -> Node {
        Node::Word {
            field: None,
            text: text.into(),
        }
    }

    #[test]
    fn words_are_anded_and_lower_cased() {
        assert_eq!(
            parse("Pump Seal").unwrap(),
            Node::And(vec![w("pump"), w("seal")])
        );
        assert_eq!(
            parse("pump AND seal").unwrap(),
            Node::And(vec![w("pump"), w("seal")])
        );
    }

    #[test]
    fn or_binds_looser_than_and() {
        assert_eq!(
            parse("a b OR c").unwrap(),
            Node::Or(vec![Node::And(vec![w("a"), w("b")]), w("c")])
        );
    }

    #[test]
    fn not_minus_phrases_fields_and_prefixes() {
        assert_eq!(
            parse("NOT pump -seal").unwrap(),
            Node::And(vec![
                Node::Not(Box::new(w("pump"))),
                Node::Not(Box::new(w("seal")))
            ])
        );
        assert_eq!(
            parse("\"main pump\"").unwrap(),
            Node::Phrase {
                field: None,
                words: vec!["main".into(), "pump".into()]
            }
        );
        assert_eq!(
            parse("status:In_Progress").unwrap(),
            Node::Word {
                field: Some(Field::Status),
                text: "in_progress".into()
            }
        );
        assert_eq!(
            parse("title:\"main pump\"").unwrap(),
            Node::Phrase {
                field: Some(Field::Title),
                words: vec!["main".into(), "pump".into()]
            }
        );
        assert_eq!(
            parse("pum*").unwrap(),
            Node::Prefix {
                field: None,
                text: "pum".into()
            }
        );
        assert_eq!(
            parse("(a OR b) c").unwrap(),
            Node::And(vec![Node::Or(vec![w("a"), w("b")]), w("c")])
        );
    }

    #[test]
    fn errors_say_where() {
        let e = parse("pump \"seal").unwrap_err();
        assert_eq!((e.position, e.message.as_str()), (5, "unclosed quote"));
        let e = parse("(pump seal").unwrap_err();
        assert_eq!(e.position, 0);
        assert!(e.message.contains("parenthesis"));
        let e = parse("pump )").unwrap_err();
        assert_eq!(e.position, 5);
        let e = parse("colour:red").unwrap_err();
        assert!(e.message.contains("unknown field"), "{e}");
        let e = parse("pump AND").unwrap_err();
        assert_eq!(e.position, 8);
        assert!(parse("   ").is_err());
        assert!(parse("OR pump").is_err());
        assert!(parse("status:").is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(parse(&nested(MAX_DEPTH)).unwrap(), w("a"));
        let e = parse(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(e.position, MAX_DEPTH, "{e}");
        assert!(e.message.contains("nest"), "{e}");
        // Deep enough to have overflowed the stack before the bound.
        assert!(parse(&nested(100_000)).is_err());
        assert!(parse(&format!("{}a", "NOT ".repeat(100_000))).is_err());
        assert!(parse(&format!("{}a", "- ".repeat(100_000))).is_err());
        assert!(parse(&format!("{}a", "NOT ".repeat(MAX_DEPTH))).is_ok());
    }

    #[test]
    fn never_panics_on_odd_input() {
        for input in [
            "\"", "((", "))", "-", "--a", "a:b:c", "*", "NOT", "\u{0}", "é*", ":", "a:\"\"",
        ] {
            let _ = parse(input);
        }
    }

    #[test]
    fn a_query_of_too_many_words_is_refused_where_it_overflows() {
        let words = |n: usize| vec!["pumps"; n].join(" OR ");
        assert!(parse(&words(MAX_TERMS)).is_ok());
        let e = parse(&words(MAX_TERMS + 1)).unwrap_err();
        assert_eq!(e.position, MAX_TERMS * "pumps OR ".len(), "{e}");
        assert!(e.message.contains("more than 64"), "{e}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        for input in [
            "(".repeat(100_000),
            format!("{}pump{}", "(".repeat(100_000), ")".repeat(100_000)),
            "NOT ".repeat(100_000) + "pump",
            "- ".repeat(100_000) + "pump",
            "(NOT ".repeat(50_000) + "pump",
        ] {
            let e = parse(&input).unwrap_err();
            assert!(e.position <= input.chars().count(), "{e}");
        }
        // One word, however many dashes lead it.
        assert_eq!(
            parse(&("-".repeat(100_000) + "pump")).unwrap(),
            Node::Not(Box::new(w("pump")))
        );
        // Nesting a person would write still parses.
        let nested = format!(
            "{}pump{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert_eq!(parse(&nested).unwrap(), w("pump"));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// Strings made of the query language's pieces, so the parser's paths are all taken.
        fn query_like() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                Just("(".to_string()),
                Just(")".to_string()),
                Just("\"".to_string()),
                Just("-".to_string()),
                Just("*".to_string()),
                Just(":".to_string()),
                Just(" ".to_string()),
                Just("AND ".to_string()),
                Just("OR ".to_string()),
                Just("NOT ".to_string()),
                Just("title:".to_string()),
                Just("status:".to_string()),
                Just("colour:".to_string()),
                "[a-zA-Z0-9_éß]{1,8}",
                any::<char>().prop_map(String::from),
            ];
            prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
        }

        fn check(input: &str) {
            match parse(input) {
                Ok(node) => assert_well_formed(&node),
                Err(e) => {
                    assert!(
                        e.position <= input.chars().count(),
                        "position {} outside {input:?} ({} characters): {e}",
                        e.position,
                        input.chars().count()
                    );
                    assert!(!e.message.is_empty());
                }
            }
        }

        /// Words are non-empty and lower-case; groups are not empty.
        fn assert_well_formed(node: &Node) {
            match node {
                Node::Word { text, .. } | Node::Prefix { text, .. } => {
                    assert!(!text.is_empty());
                    assert_eq!(*text, text.to_lowercase());
                }
                Node::Phrase { words, .. } => {
                    assert!(words.len() >= 2);
                    assert!(
                        words
                            .iter()
                            .all(|w| !w.is_empty() && *w == w.to_lowercase())
                    );
                }
                Node::And(parts) | Node::Or(parts) => {
                    assert!(parts.len() >= 2);
                    parts.iter().for_each(assert_well_formed);
                }
                Node::Not(inner) => assert_well_formed(inner),
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]

            #[test]
            fn arbitrary_strings_never_panic_and_errors_point_into_the_input(input in any::<String>()) {
                check(&input);
            }

            #[test]
            fn query_like_strings_never_panic_and_errors_point_into_the_input(input in query_like()) {
                check(&input);
            }
        }
    }
}
