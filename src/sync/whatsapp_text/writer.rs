//! Text output with WhatsApp markup: collapses whitespace like a browser, writes line
//! prefixes (quotes, list indentation) and keeps emphasis markers tight around words.
//!
//! Everything between words is decided lazily: a collapsed space, line breaks, the line
//! prefix and opening markers are written only when the next word arrives, so nothing
//! dangles at the end of a block or of the answer.

/// Most line breaks in a row: one blank line.
const MAX_NEWLINES: usize = 2;

/// Characters a browser collapses. A no-break space counts too: in WhatsApp it looks like a
/// space, and editors fill "empty" paragraphs with it.
pub(super) fn is_collapsible(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c' | '\u{a0}')
}

/// An emphasis element being rendered.
struct Emphasis {
    /// The WhatsApp marker; `None` when the element adds none (same marker already open,
    /// or inside code where markers would show literally).
    mark: Option<&'static str>,
    /// The opening marker is in the output and the closing one is owed.
    written: bool,
}

/// A list item whose marker is written at the start of its first line.
struct ItemMarker {
    /// Where in the prefix the item's own indentation starts.
    at: usize,
    /// `- ` or `3. `.
    text: String,
}

#[derive(Default)]
pub(super) struct Writer {
    out: String,
    /// Written at the start of every new line: `> ` per quote, two spaces per list level.
    prefix: String,
    /// Prefix lengths to go back to when a quote or list item ends.
    frames: Vec<usize>,
    /// The prefix of the last line written, for the blank line before the next one.
    line_prefix: String,
    /// Nothing written on the current line yet, not even its prefix.
    at_line_start: bool,
    pending_newlines: usize,
    pending_space: bool,
    marker: Option<ItemMarker>,
    emphasis: Vec<Emphasis>,
    /// Inside a list, blocks are separated by a line break, not a blank line.
    list_depth: usize,
}

impl Writer {
    pub(super) fn new() -> Self {
        Self {
            at_line_start: true,
            ..Self::default()
        }
    }

    /// Text from the document: runs of whitespace become one space between words.
    pub(super) fn text(&mut self, text: &str) {
        for (index, word) in text.split(is_collapsible).enumerate() {
            if index > 0 {
                self.pending_space = true;
            }
            if !word.is_empty() {
                self.word(word, true);
            }
        }
    }

    /// Literal output after any pending space or line break; `open_marks` says whether
    /// emphasis owed to this position opens first (not for URLs and code blocks).
    pub(super) fn word(&mut self, word: &str, open_marks: bool) {
        self.start_content();
        if open_marks {
            for emphasis in &mut self.emphasis {
                if let (Some(mark), false) = (emphasis.mark, emphasis.written) {
                    self.out.push_str(mark);
                    emphasis.written = true;
                }
            }
        }
        self.out.push_str(word);
    }

    /// Preformatted text, kept verbatim line by line.
    pub(super) fn verbatim(&mut self, text: &str) {
        for (index, line) in text.split('\n').enumerate() {
            if index > 0 {
                self.out.push('\n');
                self.at_line_start = true;
            }
            self.word(&line.replace('\u{a0}', " "), false);
        }
    }

    /// A space before the next word, as whitespace in the document would give.
    pub(super) fn space(&mut self) {
        self.pending_space = true;
    }

    /// Take back a pending space, saying whether there was one.
    pub(super) fn take_space(&mut self) -> bool {
        std::mem::take(&mut self.pending_space)
    }

    /// `<br>`: each one is a line break.
    pub(super) fn line_break(&mut self) {
        self.close_marks();
        self.pending_newlines += 1;
        self.pending_space = false;
    }

    /// The next word starts a new line (list items, table rows).
    pub(super) fn new_line(&mut self) {
        self.close_marks();
        self.pending_newlines = self.pending_newlines.max(1);
        self.pending_space = false;
    }

    /// The next word starts a new block: after a blank line, or a line break inside a list.
    pub(super) fn new_block(&mut self) {
        if self.list_depth > 0 {
            self.new_line();
        } else {
            self.close_marks();
            self.pending_newlines = MAX_NEWLINES;
            self.pending_space = false;
        }
    }

    pub(super) fn enter_list(&mut self) {
        self.list_depth += 1;
    }

    pub(super) fn leave_list(&mut self) {
        self.list_depth = self.list_depth.saturating_sub(1);
    }

    pub(super) fn push_prefix(&mut self, prefix: &str) {
        self.frames.push(self.prefix.len());
        self.prefix.push_str(prefix);
    }

    pub(super) fn pop_prefix(&mut self) {
        if let Some(length) = self.frames.pop() {
            self.prefix.truncate(length);
        }
    }

    /// Start a list item: its marker goes where its two-space indentation would.
    pub(super) fn start_item(&mut self, marker: String) {
        if self.marker.is_some() {
            // An item that opens with a nested list: its marker gets a line of its own.
            self.start_content();
            let kept = self.out.trim_end().len();
            self.out.truncate(kept);
        }
        self.new_line();
        self.marker = Some(ItemMarker {
            at: self.prefix.len(),
            text: marker,
        });
        self.push_prefix("  ");
    }

    pub(super) fn end_item(&mut self) {
        // An item that never got any content is left out.
        self.marker = None;
        self.pop_prefix();
        self.new_line();
    }

    /// Open an emphasis element; its marker is written before its first word.
    pub(super) fn push_emphasis(&mut self, mark: &'static str) {
        let redundant = self
            .emphasis
            .iter()
            .any(|open| open.mark == Some(mark) || open.mark == Some("`"));
        self.emphasis.push(Emphasis {
            mark: (!redundant).then_some(mark),
            written: false,
        });
    }

    /// Close the innermost emphasis element; an empty one leaves no trace.
    pub(super) fn pop_emphasis(&mut self) {
        if let Some(Emphasis {
            mark: Some(mark),
            written: true,
        }) = self.emphasis.pop()
        {
            self.out.push_str(mark);
        }
    }

    /// Close every written marker (innermost first): WhatsApp markup does not span lines and
    /// URLs stay outside it. They open again before the next word.
    pub(super) fn close_marks(&mut self) {
        for emphasis in self.emphasis.iter_mut().rev() {
            if let (Some(mark), true) = (emphasis.mark, emphasis.written) {
                self.out.push_str(mark);
                emphasis.written = false;
            }
        }
    }

    /// Write what is owed before content: line breaks, line prefix or item marker, a space.
    fn start_content(&mut self) {
        if self.pending_newlines > 0 && !self.out.is_empty() {
            let newlines = self.pending_newlines.min(MAX_NEWLINES);
            let blank_prefix = common_prefix(&self.line_prefix, &self.prefix).trim_end();
            for index in 0..newlines {
                self.out.push('\n');
                if index + 1 < newlines {
                    self.out.push_str(blank_prefix);
                }
            }
            self.at_line_start = true;
        }
        self.pending_newlines = 0;
        if self.at_line_start {
            match self.marker.take() {
                Some(marker) => {
                    let after = (marker.at + 2).min(self.prefix.len());
                    self.out.push_str(&self.prefix[..marker.at]);
                    self.out.push_str(&marker.text);
                    self.out.push_str(&self.prefix[after..]);
                }
                None => self.out.push_str(&self.prefix),
            }
            self.line_prefix.clone_from(&self.prefix);
            self.at_line_start = false;
            self.pending_space = false;
        } else if std::mem::take(&mut self.pending_space) {
            self.out.push(' ');
        }
    }

    /// The text: trailing spaces cut from every line, at most one blank line in a row,
    /// no blank lines or spaces around it.
    pub(super) fn finish(self) -> String {
        tidy(&self.out)
    }
}

/// Trailing whitespace off every line, at most one blank line in a row, trimmed.
pub(super) fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() {
            blank = true;
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if blank {
                out.push('\n');
            }
        }
        blank = false;
        out.push_str(line);
    }
    out.trim_start().to_owned()
}

fn common_prefix<'a>(a: &'a str, b: &str) -> &'a str {
    let length = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((index, _), _)| index);
    &a[..length]
}
