//! Reading pages the way a browser does: a real HTML parser and CSS selectors, so a test
//! names the element it means instead of splitting strings.

use scraper::{ElementRef, Html, Selector};

/// A parsed page.
pub struct Page {
    html: Html,
}

impl Page {
    pub fn parse(html: &str) -> Page {
        Page {
            html: Html::parse_document(html),
        }
    }

    /// Every element matching the CSS selector `css`.
    fn select<'a>(&'a self, css: &str) -> impl Iterator<Item = ElementRef<'a>> + 'a {
        let selector =
            Selector::parse(css).unwrap_or_else(|e| panic!("CSS selector {css:?}: {e:?}"));
        self.html.select(&selector).collect::<Vec<_>>().into_iter()
    }

    /// Whether any element matches `css`.
    pub fn has(&self, css: &str) -> bool {
        self.select(css).next().is_some()
    }

    /// The text of the first element matching `css`, whitespace trimmed; panics if none does.
    pub fn text(&self, css: &str) -> String {
        self.texts(css)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no element matches {css:?}"))
    }

    /// The texts of every element matching `css`, whitespace trimmed.
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.select(css)
            .map(|e| e.text().collect::<String>().trim().to_owned())
            .collect()
    }

    /// The attribute `name` of the first element matching `css`; panics if there is none.
    pub fn attr(&self, css: &str, name: &str) -> String {
        self.attrs(css, name)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no element matches {css:?} with attribute {name:?}"))
    }

    /// The attribute `name` of every element matching `css` that has it.
    pub fn attrs(&self, css: &str, name: &str) -> Vec<String> {
        self.select(css)
            .filter_map(|e| e.value().attr(name).map(str::to_owned))
            .collect()
    }

    /// The session's CSRF token, from `<meta name="csrf-token">`.
    pub fn csrf_token(&self) -> String {
        self.attr(r#"meta[name="csrf-token"]"#, "content")
    }
}
