//! Agent answers (helpdesk HTML) as WhatsApp text.

/// An agent's answer (helpdesk HTML) as WhatsApp text.
// PENDING(helper): a parser-based conversion replaces this tag stripper.
pub fn html_to_whatsapp(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.trim().to_owned()
}
