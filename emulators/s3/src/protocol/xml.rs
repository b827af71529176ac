//! XML in and out: a small writer for S3's response documents and a small tree
//! parser for the request documents (`CreateBucketConfiguration`, `Delete`,
//! `CompleteMultipartUpload`, `NotificationConfiguration`).
//!
//! The parser keeps each element's byte span so that configurations slcl does not
//! act on yet (SQS/SNS notification targets) can be stored and returned verbatim.

use quick_xml::events::Event;
use quick_xml::Reader;

/// The namespace every S3 response document declares.
pub const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Escapes text for element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Keep carriage returns: a bare one would be normalised away by parsers.
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// Builds an XML document element by element.
pub struct XmlWriter {
    out: String,
}

impl XmlWriter {
    /// Starts a document whose root element is `root`, in the S3 namespace.
    pub fn new(root: &str) -> XmlWriter {
        let mut out = String::with_capacity(512);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        out.push_str(root);
        out.push_str(" xmlns=\"");
        out.push_str(S3_NS);
        out.push_str("\">");
        XmlWriter { out }
    }

    /// Starts a document whose root element has no namespace (S3's `<Error>`).
    pub fn new_plain(root: &str) -> XmlWriter {
        let mut out = String::with_capacity(256);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        out.push_str(root);
        out.push('>');
        XmlWriter { out }
    }

    /// Opens `<name>`.
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// Closes `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    /// Writes `<name>text</name>` with the text escaped.
    pub fn elem(&mut self, name: &str, text: &str) -> &mut Self {
        self.open(name);
        self.out.push_str(&escape(text));
        self.close(name)
    }

    /// Writes `<name>text</name>` when `text` is present.
    pub fn opt(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.elem(name, t);
        }
        self
    }

    /// Appends raw, already well-formed XML.
    pub fn raw(&mut self, xml: &str) -> &mut Self {
        self.out.push_str(xml);
        self
    }

    /// Closes the root element `root` and returns the document.
    pub fn finish(mut self, root: &str) -> String {
        self.close(root);
        self.out
    }
}

/// One parsed element: local name (namespace prefix dropped), text, children and the
/// byte span of the whole element in the input.
#[derive(Debug, Clone, Default)]
pub struct Element {
    /// Local name.
    pub name: String,
    /// Concatenated text content directly inside this element (unescaped).
    pub text: String,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// Byte range of the element (start tag to end tag inclusive) in the input.
    pub span: (usize, usize),
}

impl Element {
    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All children called `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Text of the first child called `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

/// Parses a document into its root element. `None` when it is not well-formed.
pub fn parse(input: &[u8]) -> Option<Element> {
    let text = std::str::from_utf8(input).ok()?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().ok()?;
        let after = reader.buffer_position() as usize;
        match event {
            Event::Start(e) => {
                if root.is_some() {
                    return None;
                }
                let name = local(e.name().as_ref())?;
                stack.push(Element {
                    name,
                    span: (before, after),
                    ..Element::default()
                });
            }
            Event::Empty(e) => {
                if root.is_some() {
                    return None;
                }
                let el = Element {
                    name: local(e.name().as_ref())?,
                    span: (before, after),
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(e) => {
                let mut el = stack.pop()?;
                if local(e.name().as_ref())? != el.name {
                    return None;
                }
                el.span.1 = after;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let s = t.xml_content().ok()?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return None,
                }
            }
            Event::GeneralRef(r) => {
                let el = stack.last_mut()?;
                if let Some(c) = r.resolve_char_ref().ok()? {
                    el.text.push(c);
                } else {
                    let name = std::str::from_utf8(r.as_ref()).ok()?;
                    el.text.push(match name {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        _ => return None,
                    });
                }
            }
            Event::CData(c) => {
                let el = stack.last_mut()?;
                el.text.push_str(std::str::from_utf8(c.as_ref()).ok()?);
            }
            Event::Eof => break,
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return None;
    }
    root
}

fn local(name: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(name).ok()?;
    Some(match s.rsplit_once(':') {
        Some((_, l)) => l.to_string(),
        None => s.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_with_namespace_and_entities() {
        let doc = br#"<?xml version="1.0"?>
<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet>
<Object><Key>a &amp; b&#13;</Key></Object><Object><Key>c</Key><VersionId/></Object></Delete>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "Delete");
        assert_eq!(root.child_text("Quiet"), Some("true"));
        let keys: Vec<_> = root
            .children_named("Object")
            .map(|o| o.child_text("Key").unwrap().to_string())
            .collect();
        assert_eq!(keys, vec!["a & b\r", "c"]);
        let obj = root.child("Object").unwrap();
        let src = std::str::from_utf8(doc).unwrap();
        assert!(src[obj.span.0..obj.span.1].starts_with("<Object>"));
        assert!(src[obj.span.0..obj.span.1].ends_with("</Object>"));
    }

    #[test]
    fn rejects_malformed() {
        assert!(parse(b"<a><b></a>").is_none());
        assert!(parse(b"<a>").is_none());
        assert!(parse(b"").is_none());
        assert!(parse(b"not xml").is_none());
        assert!(parse(b"<a/><b/>").is_none());
    }

    #[test]
    fn writes_escaped() {
        let mut w = XmlWriter::new("R");
        w.elem("K", "<&>\"'");
        let s = w.finish("R");
        assert!(s.ends_with("<K>&lt;&amp;&gt;&quot;&apos;</K></R>"));
    }
}
