//! Paging of every list: `page` from 1, `page_size` 1..=200 (default 50).

use crate::domain::DomainError;

/// Default rows per page.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Largest rows per page; larger requests are capped.
pub const MAX_PAGE_SIZE: usize = 200;

/// Splits an `ordering` value (`field` or `-field`) into the field and whether it sorts
/// descending.
pub fn split_ordering(raw: &str) -> (&str, bool) {
    match raw.strip_prefix('-') {
        Some(field) => (field, true),
        None => (raw, false),
    }
}

/// A validated page request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page number.
    pub page: usize,
    /// Rows per page, already capped.
    pub page_size: usize,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl PageRequest {
    /// Parses the raw query values; below 1 or not a number is a `400`. A number too large for
    /// a `u64` is still a number (API.md §Lists): a `page_size` is capped like any other, and a
    /// `page` that far out is past the end.
    pub fn parse(page: Option<&str>, page_size: Option<&str>) -> Result<Self, DomainError> {
        let number = |field: &str, raw: Option<&str>, default: usize| match raw {
            None => Ok(default),
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(n) if n >= 1 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
                Err(e) if matches!(e.kind(), std::num::IntErrorKind::PosOverflow) => Ok(usize::MAX),
                _ => Err(DomainError::field(
                    field,
                    "must be a whole number of at least 1",
                )),
            },
        };
        Ok(Self {
            page: number("page", page, 1)?,
            page_size: number("page_size", page_size, DEFAULT_PAGE_SIZE)?.min(MAX_PAGE_SIZE),
        })
    }

    /// Rows to skip.
    pub fn offset(&self) -> usize {
        (self.page - 1).saturating_mul(self.page_size)
    }
}

/// One page of results and the total count.
#[derive(Clone, Debug)]
pub struct Page<T> {
    /// Rows matching the filters, across all pages.
    pub count: usize,
    /// This page's rows.
    pub results: Vec<T>,
    /// The request that produced it.
    pub request: PageRequest,
}

impl<T> Page<T> {
    /// Cuts `rows` (all matches, in order) down to the requested page.
    pub fn from_all(rows: Vec<T>, request: PageRequest) -> Self {
        let count = rows.len();
        let results = rows
            .into_iter()
            .skip(request.offset())
            .take(request.page_size)
            .collect();
        Self {
            count,
            results,
            request,
        }
    }

    /// Whether a page follows this one.
    pub fn has_next(&self) -> bool {
        self.request.offset().saturating_add(self.request.page_size) < self.count
    }

    /// Whether a page precedes this one.
    pub fn has_previous(&self) -> bool {
        self.request.page > 1
    }

    /// Converts every row.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            count: self.count,
            results: self.results.into_iter().map(f).collect(),
            request: self.request,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_capped_and_validated() {
        assert_eq!(
            PageRequest::parse(None, Some("500")).unwrap().page_size,
            200
        );
        assert!(PageRequest::parse(Some("0"), None).is_err());
        assert!(PageRequest::parse(None, Some("x")).is_err());
        assert!(PageRequest::parse(Some("-1"), None).is_err());
    }

    #[test]
    fn numbers_past_u64_are_capped_not_refused() {
        let huge = "99999999999999999999999";
        let request = PageRequest::parse(Some(huge), Some(huge)).unwrap();
        assert_eq!(request.page_size, MAX_PAGE_SIZE);
        assert_eq!(request.page, usize::MAX);
        assert!(!Page::from_all(vec![1, 2, 3], request).has_next());
        assert!(PageRequest::parse(Some("-99999999999999999999999"), None).is_err());
    }

    #[test]
    fn next_and_previous_follow_the_count() {
        let page = Page::from_all(
            (0..120).collect::<Vec<_>>(),
            PageRequest {
                page: 2,
                page_size: 50,
            },
        );
        assert_eq!(page.results.first(), Some(&50));
        assert!(page.has_next() && page.has_previous());
        let last = Page::from_all(
            (0..100).collect::<Vec<_>>(),
            PageRequest {
                page: 2,
                page_size: 50,
            },
        );
        assert!(!last.has_next());
    }
}
