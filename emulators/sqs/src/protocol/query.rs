//! The query protocol: form parameters in, XML out.
//!
//! Parameters name nested members with dots and 1-based indexes
//! (`SendMessageBatchRequestEntry.2.MessageAttribute.1.Value.StringValue`). They are
//! parsed into a tree, then renamed onto the JSON protocol's member names: flattened
//! lists (`AttributeName.N` → `AttributeNames`), maps of `Name`/`Value` or
//! `Key`/`Value` pairs (`Attribute.N` → `Attributes`, `Tag.N` → `Tags`), batch entries
//! (`…BatchRequestEntry.N` → `Entries`). Answers go the other way: a JSON result
//! object becomes `<{Action}Response><{Action}Result>…` with the same flattened names.

use std::collections::BTreeMap;

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use super::XMLNS;
use crate::error::ApiError;

/// Parses `a=b&c=d` with `+` as space, as HTML forms encode.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[derive(Debug, Default)]
struct Node {
    value: Option<String>,
    children: BTreeMap<String, Node>,
}

/// Maps query parameters onto the JSON protocol's input object.
pub fn params_to_input(pairs: &[(String, String)]) -> Map<String, Value> {
    let mut root = Node::default();
    for (k, v) in pairs {
        if k == "Action" || k == "Version" {
            continue;
        }
        let mut node = &mut root;
        for seg in k.split('.') {
            node = node.children.entry(seg.to_string()).or_default();
        }
        node.value = Some(v.clone());
    }
    convert_struct(&root)
}

/// Children with numeric names, in index order.
fn indexed(node: &Node) -> Vec<&Node> {
    let mut items: Vec<(u64, &Node)> = node
        .children
        .iter()
        .filter_map(|(k, n)| k.parse::<u64>().ok().map(|i| (i, n)))
        .collect();
    items.sort_by_key(|(i, _)| *i);
    items.into_iter().map(|(_, n)| n).collect()
}

fn string_list(node: &Node) -> Value {
    Value::Array(
        indexed(node)
            .into_iter()
            .filter_map(|n| n.value.clone().map(Value::String))
            .collect(),
    )
}

fn pair_map(node: &Node, key: &str, convert_value: fn(&Node) -> Value) -> Value {
    let mut map = Map::new();
    for entry in indexed(node) {
        let Some(k) = entry.children.get(key).and_then(|n| n.value.clone()) else {
            continue;
        };
        let v = entry
            .children
            .get("Value")
            .map(convert_value)
            .unwrap_or(Value::Null);
        map.insert(k, v);
    }
    Value::Object(map)
}

fn leaf(node: &Node) -> Value {
    node.value.clone().map(Value::String).unwrap_or(Value::Null)
}

fn attribute_value(node: &Node) -> Value {
    let mut out = Map::new();
    for (k, child) in &node.children {
        match k.as_str() {
            "StringListValue" => {
                out.insert("StringListValues".into(), string_list(child));
            }
            "BinaryListValue" => {
                out.insert("BinaryListValues".into(), string_list(child));
            }
            _ => {
                out.insert(k.clone(), leaf(child));
            }
        }
    }
    Value::Object(out)
}

fn convert_struct(node: &Node) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, child) in &node.children {
        let (name, value) = match k.as_str() {
            "Attribute" => ("Attributes".to_string(), pair_map(child, "Name", leaf)),
            "Tag" => ("Tags".to_string(), pair_map(child, "Key", leaf)),
            "MessageAttribute" => (
                "MessageAttributes".to_string(),
                pair_map(child, "Name", attribute_value),
            ),
            "MessageSystemAttribute" => (
                "MessageSystemAttributes".to_string(),
                pair_map(child, "Name", attribute_value),
            ),
            "AttributeName" => ("AttributeNames".to_string(), string_list(child)),
            "MessageSystemAttributeName" => (
                "MessageSystemAttributeNames".to_string(),
                string_list(child),
            ),
            "MessageAttributeName" => ("MessageAttributeNames".to_string(), string_list(child)),
            "TagKey" => ("TagKeys".to_string(), string_list(child)),
            "AWSAccountId" => ("AWSAccountIds".to_string(), string_list(child)),
            "ActionName" => ("Actions".to_string(), string_list(child)),
            k if k.ends_with("BatchRequestEntry") => (
                "Entries".to_string(),
                Value::Array(
                    indexed(child)
                        .into_iter()
                        .map(|n| Value::Object(convert_struct(n)))
                        .collect(),
                ),
            ),
            _ => (k.to_string(), leaf(child)),
        };
        out.insert(name, value);
    }
    out
}

/// Escapes text for XML element content.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Carriage returns would be normalised away by XML parsers.
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Element name of the items of a flattened list member.
fn item_name(action: &str, member: &str) -> String {
    match member {
        "QueueUrls" | "queueUrls" => "QueueUrl".into(),
        "Messages" => "Message".into(),
        "Successful" => format!("{action}ResultEntry"),
        "Failed" => "BatchResultErrorEntry".into(),
        "Results" => "ListMessageMoveTasksResultEntry".into(),
        "StringListValues" => "StringListValue".into(),
        "BinaryListValues" => "BinaryListValue".into(),
        other => other.into(),
    }
}

fn write_fields(out: &mut String, action: &str, obj: &Map<String, Value>) {
    for (k, v) in obj {
        match v {
            Value::Array(items) => {
                let name = item_name(action, k);
                for item in items {
                    out.push_str(&format!("<{name}>"));
                    match item {
                        Value::Object(o) => write_fields(out, action, o),
                        other => out.push_str(&escape(&scalar_text(other))),
                    }
                    out.push_str(&format!("</{name}>"));
                }
            }
            Value::Object(map) => {
                let (item, key) = match k.as_str() {
                    "Tags" => ("Tag", "Key"),
                    "MessageAttributes" => ("MessageAttribute", "Name"),
                    _ => ("Attribute", "Name"),
                };
                for (mk, mv) in map {
                    out.push_str(&format!("<{item}><{key}>{}</{key}><Value>", escape(mk)));
                    match mv {
                        Value::Object(o) => write_fields(out, action, o),
                        other => out.push_str(&escape(&scalar_text(other))),
                    }
                    out.push_str(&format!("</Value></{item}>"));
                }
            }
            Value::Null => {}
            other => out.push_str(&format!("<{k}>{}</{k}>", escape(&scalar_text(other)))),
        }
    }
}

/// The query protocol's answer for `action` with this JSON result.
pub fn to_xml(action: &str, output: &Value, request_id: &str) -> String {
    let mut out =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{XMLNS}\">");
    if let Value::Object(o) = output {
        // Operations without an output shape answer with metadata only.
        if !matches!(
            action,
            "DeleteMessage"
                | "DeleteQueue"
                | "ChangeMessageVisibility"
                | "PurgeQueue"
                | "SetQueueAttributes"
                | "TagQueue"
                | "UntagQueue"
                | "AddPermission"
                | "RemovePermission"
        ) {
            out.push_str(&format!("<{action}Result>"));
            write_fields(&mut out, action, o);
            out.push_str(&format!("</{action}Result>"));
        }
    }
    out.push_str(&format!(
        "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        escape(request_id)
    ));
    out
}

/// The query protocol's `<ErrorResponse>`.
pub fn error_xml(err: &ApiError, fault: &str, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{fault}</Type><Code>{}</Code><Message>{}</Message><Detail/></Error><RequestId>{}</RequestId></ErrorResponse>",
        escape(err.query_code),
        escape(&err.message),
        escape(request_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_query_parameters_onto_json_members() {
        let pairs = parse_form(
            "Action=SendMessageBatch&QueueUrl=http%3A%2F%2Fx%2F1%2Fq&SendMessageBatchRequestEntry.1.Id=a\
             &SendMessageBatchRequestEntry.1.MessageBody=hello+world\
             &SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=color\
             &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String\
             &SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=red\
             &SendMessageBatchRequestEntry.10.Id=b&SendMessageBatchRequestEntry.2.Id=c\
             &Attribute.1.Name=DelaySeconds&Attribute.1.Value=5&AttributeName.1=All",
        );
        let input = Value::Object(params_to_input(&pairs));
        assert_eq!(input["QueueUrl"], "http://x/1/q");
        assert_eq!(input["Entries"][0]["MessageBody"], "hello world");
        assert_eq!(
            input["Entries"][0]["MessageAttributes"]["color"]["StringValue"],
            "red"
        );
        assert_eq!(input["Entries"][1]["Id"], "c");
        assert_eq!(input["Entries"][2]["Id"], "b");
        assert_eq!(input["Attributes"]["DelaySeconds"], "5");
        assert_eq!(input["AttributeNames"][0], "All");
    }

    #[test]
    fn writes_flattened_xml() {
        let out = serde_json::json!({
            "QueueUrls": ["a", "b<"],
            "Attributes": {"X": "1"},
        });
        let xml = to_xml("ListQueues", &out, "r");
        assert!(xml.contains("<QueueUrl>a</QueueUrl><QueueUrl>b&lt;</QueueUrl>"));
        assert!(xml.contains("<Attribute><Name>X</Name><Value>1</Value></Attribute>"));
    }
}
