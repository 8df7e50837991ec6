use super::html_to_whatsapp;

/// Runs every case and reports all mismatches at once.
fn check(cases: &[(&str, &str)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(html, expected)| {
            let got = html_to_whatsapp(html);
            (got != *expected)
                .then(|| format!("input:    {html:?}\nexpected: {expected:?}\ngot:      {got:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn the_editor_example_reads_naturally_on_whatsapp() {
    check(&[(
        r#"<p>Hi <strong>Ana</strong>,</p><p>your order:</p><ul><li>one</li><li>two</li></ul><p>See <a href="https://x.io/t">tracking</a></p>"#,
        "Hi *Ana*,\n\nyour order:\n\n- one\n- two\n\nSee tracking (https://x.io/t)",
    )]);
}

#[test]
fn emphasis_maps_to_whatsapp_markers_tight_around_the_words() {
    check(&[
        (
            "<b>bold</b> and <strong>strong</strong>",
            "*bold* and *strong*",
        ),
        (
            "<i>italic</i> and <em>emphasis</em>",
            "_italic_ and _emphasis_",
        ),
        ("<s>a</s> <strike>b</strike> <del>c</del>", "~a~ ~b~ ~c~"),
        ("a<b> x </b>b", "a *x* b"),
        ("<b>  spaced   out  </b>", "*spaced out*"),
        ("say<b> hi</b>!", "say *hi*!"),
        ("<p><b>hi </b>there</p>", "*hi* there"),
        ("a<b></b>b", "ab"),
        ("a <b> </b> b", "a b"),
        ("a<i>&nbsp;</i>b", "a b"),
        ("<b><i>both</i></b>", "*_both_*"),
        ("<b>x <i>y</i> z</b>", "*x _y_ z*"),
        ("<b>one <b>nested</b> two</b>", "*one nested two*"),
        ("<b><strong>double</strong></b>", "*double*"),
        ("<u>underline</u> stays plain", "underline stays plain"),
        ("<b>line one<br>line two</b>", "*line one*\n*line two*"),
        (
            "<b><p>para one</p><p>para two</p></b>",
            "*para one*\n\n*para two*",
        ),
    ]);
}

#[test]
fn code_becomes_monospace_and_pre_stays_verbatim() {
    check(&[
        ("run <code>ls -la</code> now", "run `ls -la` now"),
        ("<code><b>not bold</b></code>", "`not bold`"),
        ("<b>bold <code>code</code></b>", "*bold `code`*"),
        (
            "<p>Config:</p><pre>key  = 1\n  nested = <b>2</b>\n</pre><p>done</p>",
            "Config:\n\n```key  = 1\n  nested = 2```\n\ndone",
        ),
        ("<pre><code>a &lt; b</code></pre>", "```a < b```"),
        ("<pre>line<br>next</pre>", "```line\nnext```"),
        ("<pre>   \n</pre><p>after</p>", "after"),
    ]);
}

#[test]
fn blocks_are_separated_by_one_blank_line_and_br_breaks_lines() {
    check(&[
        ("<p>one</p><p>two</p>", "one\n\ntwo"),
        ("<div>one</div><div>two</div>", "one\n\ntwo"),
        ("<h1>Title</h1><p>text</p>", "*Title*\n\ntext"),
        ("<h3>Sub <b>title</b></h3>text", "*Sub title*\n\ntext"),
        ("first<br>second", "first\nsecond"),
        ("first<br/><br />second", "first\n\nsecond"),
        ("a<br><br><br><br>b", "a\n\nb"),
        ("<p>a</p><p>&nbsp;</p><p></p><p> </p><p>b</p>", "a\n\nb"),
        ("<p>a<br></p><p>b</p>", "a\n\nb"),
        ("<br><p>a</p><br>", "a"),
        (
            "<div><div><p>deep</p></div></div><p>next</p>",
            "deep\n\nnext",
        ),
        ("one<hr>two", "one\n\ntwo"),
        ("inline <span>span</span> text", "inline span text"),
    ]);
}

#[test]
fn whitespace_collapses_like_a_browser() {
    check(&[
        ("<p>\n  Hello,\n\t  world  </p>", "Hello, world"),
        ("<p>a&nbsp;&nbsp; b</p>", "a b"),
        ("  <p>  padded  </p>  ", "padded"),
        ("<p>a</p>\n\n<p>b</p>\n", "a\n\nb"),
    ]);
}

#[test]
fn lists_put_one_item_per_line() {
    check(&[
        ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
        (
            "<ol><li>one</li><li>two</li><li>three</li></ol>",
            "1. one\n2. two\n3. three",
        ),
        (
            r#"<ol start="4"><li>four</li><li>five</li></ol>"#,
            "4. four\n5. five",
        ),
        (
            r#"<ol><li>one</li><li value="7">seven</li><li>eight</li></ol>"#,
            "1. one\n7. seven\n8. eight",
        ),
        (
            "<ul><li><p>wrapped</p></li><li><p>items</p></li></ul>",
            "- wrapped\n- items",
        ),
        (
            "<ul><li>first<br>continued</li></ul>",
            "- first\n  continued",
        ),
        ("<ul><li></li><li>only</li></ul>", "- only"),
        ("<ul><li><b>bold</b> item</li></ul>", "- *bold* item"),
        (
            "<p>before</p><ul><li>x</li></ul><p>after</p>",
            "before\n\n- x\n\nafter",
        ),
        ("<ol><li><pre>code</pre></li></ol>", "1. ```code```"),
    ]);
}

#[test]
fn nested_lists_indent_two_spaces_per_level() {
    check(&[
        (
            "<ul><li>fruit<ul><li>apple</li><li>pear<ol><li>green</li></ol></li></ul></li><li>veg</li></ul>",
            "- fruit\n  - apple\n  - pear\n    1. green\n- veg",
        ),
        (
            "<ol><li>step<ul><li>detail</li></ul></li><li>next</li></ol>",
            "1. step\n  - detail\n2. next",
        ),
        // Lists nested straight in a list, as some editors write them.
        (
            "<ul><li>a</li><ul><li>b</li></ul><li>c</li></ul>",
            "- a\n  - b\n- c",
        ),
        // An item that starts with a nested list keeps its marker on a line of its own.
        ("<ul><li><ul><li>inner</li></ul></li></ul>", "-\n  - inner"),
    ]);
}

#[test]
fn blockquotes_prefix_every_line() {
    check(&[
        ("<blockquote>quoted</blockquote>", "> quoted"),
        (
            "<p>before</p><blockquote><p>one</p><p>two</p></blockquote><p>after</p>",
            "before\n\n> one\n>\n> two\n\nafter",
        ),
        ("<blockquote>a<br>b</blockquote>", "> a\n> b"),
        ("<blockquote><b>a<br>b</b></blockquote>", "> *a*\n> *b*"),
        (
            "<blockquote><ul><li>x</li><li>y</li></ul></blockquote>",
            "> - x\n> - y",
        ),
        ("<ul><li><blockquote>q</blockquote></li></ul>", "- > q"),
    ]);
}

#[test]
fn links_show_their_url_after_the_text() {
    check(&[
        (
            r#"See <a href="https://x.io/t">tracking</a>."#,
            "See tracking (https://x.io/t).",
        ),
        (
            r#"<a href="https://x.io/t">https://x.io/t</a>"#,
            "https://x.io/t",
        ),
        (r#"<a href="https://x.io/">x.io</a>"#, "https://x.io/"),
        (
            r#"go<a href="https://x.io/t"> https://x.io/t </a>there"#,
            "go https://x.io/t there",
        ),
        (
            r#"<b>see <a href="https://x.io">x.io</a> now</b>"#,
            "*see* https://x.io *now*",
        ),
        (
            r#"go <a href="https://x.io/t"></a> there"#,
            "go https://x.io/t there",
        ),
        (
            r#"go <a href="https://x.io/t"> </a> there"#,
            "go https://x.io/t there",
        ),
        (
            r#"<a href="mailto:ana@x.io">write us</a>"#,
            "write us (ana@x.io)",
        ),
        (
            r#"<a href="mailto:ana@x.io?subject=Hi">ana@x.io</a>"#,
            "ana@x.io",
        ),
        (r#"<a href="MAILTO:ana@x.io"></a>"#, "ana@x.io"),
        (r#"<a href="tel:+6281234">call</a>"#, "call (+6281234)"),
        (r##"<a href="#top">back to top</a>"##, "back to top"),
        (r#"<a>no href</a>"#, "no href"),
        (
            r#"<b><a href="https://x.io">site</a></b> next"#,
            "*site* (https://x.io) next",
        ),
        (
            r#"<b><a href="https://x.io">https://x.io</a></b>"#,
            "https://x.io",
        ),
        (
            r#"<a href="https://x.io">site </a>next"#,
            "site (https://x.io) next",
        ),
        (
            r#"<a href="https://x.io"><img src="l.png" alt="Logo"></a>"#,
            "[image: Logo] (https://x.io)",
        ),
        (
            r#"<a href="https://x.io/a?b=1&amp;c=2">q</a>"#,
            "q (https://x.io/a?b=1&c=2)",
        ),
    ]);
}

#[test]
fn images_become_placeholders() {
    check(&[
        (
            r#"<p>Look: <img src="a.png" alt="the receipt"></p>"#,
            "Look: [image: the receipt]",
        ),
        (
            r#"<p>inline <img src="att:1f2e" alt="map">here</p>"#,
            "inline [image: map] here",
        ),
        (
            r#"<p>This is a test: <img src="att:UUID"/></p>"#,
            "This is a test:",
        ),
        (r#"<img src="a.png" alt="  ">"#, ""),
    ]);
}

#[test]
fn tables_give_one_line_per_row() {
    check(&[(
        "<p>Prices:</p><table><thead><tr><th>Plan</th><th>Price</th></tr></thead><tbody><tr><td>Basic</td><td>$5</td></tr><tr><td>Pro</td><td></td></tr></tbody></table><p>Thanks</p>",
        "Prices:\n\nPlan | Price\nBasic | $5\nPro |\n\nThanks",
    )]);
}

#[test]
fn entities_are_decoded() {
    check(&[
        (
            "<p>Tom &amp; Jerry &lt;3 &#39;quoted&#39; &quot;double&quot; &euro;5 &#x1F600;</p>",
            "Tom & Jerry <3 'quoted' \"double\" €5 😀",
        ),
        ("<p>5 &gt; 3 &copy;</p>", "5 > 3 ©"),
    ]);
}

#[test]
fn comments_scripts_and_styles_vanish() {
    check(&[
        ("<!-- omnibridge:sales:wamid.X --><p>Hello</p>", "Hello"),
        ("<!-- omnibridge:sales:wamid.X -->", ""),
        (
            "<p>Hel<!-- hidden -->lo</p><!-- omnibridge:sales:wamid.Y -->",
            "Hello",
        ),
        ("<style>p { color: red }</style><p>styled</p>", "styled"),
        ("<p>a<script>alert('x')</script>b</p>", "ab"),
        ("<p>keep</p><template><p>not shown</p></template>", "keep"),
        (
            "<a href=\"https://x.io\"><script>x</script>site</a>",
            "site (https://x.io)",
        ),
    ]);
}

#[test]
fn malformed_html_is_read_like_a_browser_would() {
    check(&[
        ("<p>unclosed <b>bold", "unclosed *bold*"),
        ("<p>one<p>two", "one\n\ntwo"),
        ("<ul><li>one<li>two</ul>", "- one\n- two"),
        ("<b>bold <i>both</b> italic</i>", "*bold _both_* _italic_"),
        (
            "text</p> with stray </div> closers",
            "text\n\nwith stray closers",
        ),
        ("<p>a <b>b</p><p>c</b> d</p>", "a *b*\n\n*c* d"),
        ("<div>x", "x"),
        ("<li>orphan item</li>", "- orphan item"),
        ("a < b and c > d <", "a < b and c > d <"),
        (
            "<p>broken <a href=\"https://x.io\">link",
            "broken link (https://x.io)",
        ),
        ("<p attr=\"unterminated>text</p>", ""),
    ]);
}

#[test]
fn plain_text_answers_are_kept_as_written() {
    check(&[
        (
            "Hello Ana, your order shipped.",
            "Hello Ana, your order shipped.",
        ),
        (
            "Line one\nLine two\n\n\n\nAfter a gap",
            "Line one\nLine two\n\nAfter a gap",
        ),
        (
            "  indented   spacing kept  \n  second",
            "indented   spacing kept\n  second",
        ),
        ("Q&A: 2 < 3 &amp; 5 > 4", "Q&A: 2 < 3 & 5 > 4"),
        ("*already* _formatted_", "*already* _formatted_"),
        ("Windows\r\nline ends", "Windows\nline ends"),
        ("", ""),
        ("   \n\t ", ""),
    ]);
}

#[test]
fn no_tag_survives_the_conversion() {
    let html = r#"<div class="x"><h2 id="t">T</h2><p style="a">b<span>c</span><font color="red">d</font></p><ul><li><a href="https://x.io"><img alt="i"></a></li></ul><table><tr><td><em>e</em></td></tr></table><section><article>f</article></section></div>"#;
    let text = html_to_whatsapp(html);
    assert!(!text.contains('<') && !text.contains('>'), "{text:?}");
    assert_eq!(
        text,
        "*T*\n\nbcd\n\n- [image: i] (https://x.io)\n\n_e_\n\nf"
    );
}

#[test]
fn deeply_nested_markup_does_not_exhaust_the_stack() {
    let html = format!(
        "{}deep{}",
        "<div><span>".repeat(5_000),
        "</span></div>".repeat(5_000)
    );
    assert_eq!(html_to_whatsapp(&html), "deep");
}
