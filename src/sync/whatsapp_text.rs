//! Agent answers (helpdesk HTML) as WhatsApp text.
//!
//! The answer is parsed like a browser would (html5ever through `scraper`, so unclosed and
//! misnested tags end up where a browser puts them) and walked once, without recursion.
//! WhatsApp markup (https://faq.whatsapp.com/539178204879377): `*bold*`, `_italic_`,
//! `~strike~`, ```` ```monospace``` ````, `` `code` ``, `> quote`, `- ` and `1. ` lists.

mod writer;

#[cfg(test)]
mod tests;

use ego_tree::NodeRef;
use ego_tree::iter::Edge;
use scraper::node::Element;
use scraper::{Html, Node};
use writer::Writer;

/// An agent's answer (helpdesk HTML) as WhatsApp text.
pub fn html_to_whatsapp(html: &str) -> String {
    let fragment = Html::parse_fragment(html);
    let root = *fragment.root_element();
    if !has_markup(html) {
        // Plain text keeps its line breaks and spacing; only entities are decoded.
        return writer::tidy(&collect_text(root, false).replace('\u{a0}', " "));
    }
    let mut render = Render {
        out: Writer::new(),
        lists: Vec::new(),
        links: Vec::new(),
        skip_until: None,
    };
    for edge in root.traverse() {
        match edge {
            Edge::Open(node) => render.open(node),
            Edge::Close(node) => render.close(node),
        }
    }
    render.out.finish()
}

/// Whether the answer has a tag or comment in it; without one it is plain text.
fn has_markup(text: &str) -> bool {
    text.as_bytes()
        .windows(2)
        .any(|pair| pair[0] == b'<' && (pair[1].is_ascii_alphabetic() || b"/!?".contains(&pair[1])))
}

/// Elements dropped with everything inside them.
const DROPPED: &[&str] = &[
    "script", "style", "template", "noscript", "head", "title", "iframe", "object", "svg", "math",
    "canvas", "select", "textarea",
];

/// Elements that stand on their own, separated from their neighbours by a blank line.
const BLOCKS: &[&str] = &[
    "p", "div", "hr", "table", "address", "article", "aside", "center", "details", "dialog", "dl",
    "fieldset", "figure", "footer", "form", "header", "main", "nav", "section",
];

/// Elements that sit on a line of their own.
const LINES: &[&str] = &[
    "tr",
    "caption",
    "dt",
    "dd",
    "figcaption",
    "summary",
    "legend",
];

struct OpenList {
    ordered: bool,
    next_number: i64,
    /// Nested directly in another list rather than in an item, so it indents itself.
    indented: bool,
}

struct Render {
    out: Writer,
    lists: Vec<OpenList>,
    /// Per open `<a>` that renders its content: the URL to write after it, if any.
    links: Vec<Option<String>>,
    /// A subtree already handled (or dropped) as a whole, skipped until it closes.
    skip_until: Option<ego_tree::NodeId>,
}

impl Render {
    fn open(&mut self, node: NodeRef<'_, Node>) {
        if self.skip_until.is_some() {
            return;
        }
        match node.value() {
            Node::Text(text) => self.out.text(text),
            Node::Element(element) => self.open_element(node, element),
            _ => {}
        }
    }

    fn close(&mut self, node: NodeRef<'_, Node>) {
        if let Some(skipped) = self.skip_until {
            if skipped == node.id() {
                self.skip_until = None;
            }
            return;
        }
        if let Node::Element(element) = node.value() {
            self.close_element(element);
        }
    }

    fn open_element(&mut self, node: NodeRef<'_, Node>, element: &Element) {
        let name = element.name();
        match name {
            _ if DROPPED.contains(&name) => self.skip_until = Some(node.id()),
            "b" | "strong" => self.out.push_emphasis("*"),
            "i" | "em" => self.out.push_emphasis("_"),
            "s" | "strike" | "del" => self.out.push_emphasis("~"),
            "code" | "kbd" | "samp" | "tt" => self.out.push_emphasis("`"),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.out.new_block();
                self.out.push_emphasis("*");
            }
            "br" => self.out.line_break(),
            "blockquote" => {
                self.out.new_block();
                self.out.push_prefix("> ");
            }
            "ul" | "ol" => self.open_list(node, element),
            "li" => self.open_item(element),
            "pre" => {
                self.skip_until = Some(node.id());
                self.preformatted(node);
            }
            "a" => self.open_link(node, element),
            "img" => {
                self.out.text(&image_placeholder(element));
            }
            "td" | "th" => {
                let after_cell = node.prev_siblings().any(|sibling| {
                    matches!(sibling.value(), Node::Element(e) if matches!(e.name(), "td" | "th"))
                });
                if after_cell {
                    self.out.text(" | ");
                }
            }
            _ if BLOCKS.contains(&name) => self.out.new_block(),
            _ if LINES.contains(&name) => self.out.new_line(),
            _ => {}
        }
    }

    fn close_element(&mut self, element: &Element) {
        let name = element.name();
        match name {
            "b" | "strong" | "i" | "em" | "s" | "strike" | "del" | "code" | "kbd" | "samp"
            | "tt" => self.out.pop_emphasis(),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.out.pop_emphasis();
                self.out.new_block();
            }
            "blockquote" => {
                self.out.pop_prefix();
                self.out.new_block();
            }
            "ul" | "ol" => {
                if self.lists.pop().is_some_and(|list| list.indented) {
                    self.out.pop_prefix();
                }
                self.out.leave_list();
                self.out.new_block();
            }
            "li" => self.out.end_item(),
            "a" => self.close_link(),
            _ if BLOCKS.contains(&name) => self.out.new_block(),
            _ if LINES.contains(&name) => self.out.new_line(),
            _ => {}
        }
    }

    fn open_list(&mut self, node: NodeRef<'_, Node>, element: &Element) {
        self.out.new_block();
        let indented = node.parent().is_some_and(
            |parent| matches!(parent.value(), Node::Element(e) if matches!(e.name(), "ul" | "ol")),
        );
        if indented {
            self.out.push_prefix("  ");
        }
        self.out.enter_list();
        self.lists.push(OpenList {
            ordered: element.name() == "ol",
            next_number: number_attr(element, "start").unwrap_or(1),
            indented,
        });
    }

    fn open_item(&mut self, element: &Element) {
        let marker = match self.lists.last_mut() {
            Some(list) if list.ordered => {
                let number = number_attr(element, "value").unwrap_or(list.next_number);
                list.next_number = number.saturating_add(1);
                format!("{number}. ")
            }
            _ => "- ".to_owned(),
        };
        self.out.start_item(marker);
    }

    /// `text (url)`, or only the URL when the text is empty or the URL itself. A link without
    /// a usable target is its text.
    fn open_link(&mut self, node: NodeRef<'_, Node>, element: &Element) {
        let Some(target) = element.attr("href").and_then(link_target) else {
            self.links.push(None);
            return;
        };
        let text = collect_text(node, true);
        let label = collapse(&text);
        if label.is_empty() || same_address(&label, &target) {
            self.skip_until = Some(node.id());
            if text.starts_with(writer::is_collapsible) {
                self.out.space();
            }
            self.out.close_marks();
            self.out.word(&target, false);
            if text.ends_with(writer::is_collapsible) {
                self.out.space();
            }
        } else {
            self.links.push(Some(target));
        }
    }

    fn close_link(&mut self) {
        if let Some(Some(target)) = self.links.pop() {
            // The URL goes outside any emphasis; a space inside the link still separates
            // the next word.
            let space_after = self.out.take_space();
            self.out.close_marks();
            self.out.space();
            self.out.word(&format!("({target})"), false);
            if space_after {
                self.out.space();
            }
        }
    }

    /// ```` ```verbatim``` ```` as its own block, without the newlines around the content.
    fn preformatted(&mut self, node: NodeRef<'_, Node>) {
        let text = collect_text(node, false);
        let text = text.trim_matches(|c| c == '\n' || c == '\r');
        if text.trim().is_empty() {
            return;
        }
        self.out.new_block();
        self.out.word("```", false);
        self.out.verbatim(text);
        self.out.word("```", false);
        self.out.new_block();
    }
}

/// What a link points to, as the customer should see it: the address of `mailto:` and the
/// number of `tel:`. `None` for in-page anchors and scripts.
fn link_target(href: &str) -> Option<String> {
    let href = href.trim();
    let lower = href.to_ascii_lowercase();
    if href.is_empty() || href.starts_with('#') || lower.starts_with("javascript:") {
        return None;
    }
    for scheme in ["mailto:", "tel:"] {
        if lower.starts_with(scheme) {
            let rest = &href[scheme.len()..];
            let address = rest.split('?').next().unwrap_or_default().trim();
            return (!address.is_empty()).then(|| address.to_owned());
        }
    }
    Some(href.to_owned())
}

/// Whether a link's text only repeats its target (give or take the scheme and a final `/`).
fn same_address(label: &str, target: &str) -> bool {
    fn bare(address: &str) -> &str {
        let address = address.trim_end_matches('/');
        ["https://", "http://"]
            .iter()
            .find_map(|scheme| {
                address
                    .get(..scheme.len())
                    .filter(|head| head.eq_ignore_ascii_case(scheme))
                    .map(|_| &address[scheme.len()..])
            })
            .unwrap_or(address)
    }
    bare(label) == bare(target)
}

/// The text under a node as written, `<br>` as a line break, dropped elements left out;
/// with `images`, image placeholders too.
fn collect_text(node: NodeRef<'_, Node>, images: bool) -> String {
    let mut text = String::new();
    let mut skip_until = None;
    for edge in node.traverse() {
        match edge {
            Edge::Close(closed) if skip_until == Some(closed.id()) => skip_until = None,
            Edge::Open(_) | Edge::Close(_) if skip_until.is_some() => {}
            Edge::Open(opened) => match opened.value() {
                Node::Text(part) => text.push_str(part),
                Node::Element(element) if element.name() == "br" => text.push('\n'),
                Node::Element(element) if images && element.name() == "img" => {
                    text.push_str(&image_placeholder(element));
                }
                Node::Element(element) if DROPPED.contains(&element.name()) => {
                    skip_until = Some(opened.id());
                }
                _ => {}
            },
            Edge::Close(_) => {}
        }
    }
    text
}

/// `[image: alt]` with a space either side, or nothing for an image without a description.
fn image_placeholder(element: &Element) -> String {
    let alt = collapse(element.attr("alt").unwrap_or_default());
    if alt.is_empty() {
        String::new()
    } else {
        format!(" [image: {alt}] ")
    }
}

/// Whitespace collapsed to single spaces, trimmed.
fn collapse(text: &str) -> String {
    text.split(writer::is_collapsible)
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn number_attr(element: &Element, name: &str) -> Option<i64> {
    element.attr(name)?.trim().parse().ok()
}
