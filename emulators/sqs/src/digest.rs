//! The digests SQS returns with messages.
//!
//! `MD5OfMessageBody` is the hex MD5 of the body's UTF-8 bytes. `MD5OfMessageAttributes`
//! (and `MD5OfMessageSystemAttributes`, same algorithm) follow
//! <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html#sqs-attributes-md5-message-digest-calculation>:
//! attributes sorted by name; for each, the name, the data type, a transport byte
//! (1 for String and Number, 2 for Binary) and the value, where names, types and
//! values are each preceded by their length as 4 big-endian bytes.

use base64::Engine as _;
use md5::{Digest as _, Md5};
use serde_json::{Map, Value};

/// Hex MD5 of a body.
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

fn push_len_prefixed(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    buf.extend_from_slice(bytes);
}

/// The decoded value of a binary attribute given as base64.
pub fn binary_value(v: &Value) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str()?.as_bytes())
        .ok()
}

/// Hex MD5 of message attributes in the JSON protocol's shape, or `None` when there
/// are none.
pub fn md5_of_attributes(attributes: &Map<String, Value>) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let mut names: Vec<&String> = attributes.keys().collect();
    names.sort();
    let mut buf = Vec::new();
    for name in names {
        let v = &attributes[name];
        let data_type = v.get("DataType").and_then(Value::as_str).unwrap_or("");
        push_len_prefixed(&mut buf, name.as_bytes());
        push_len_prefixed(&mut buf, data_type.as_bytes());
        if data_type.starts_with("Binary") {
            buf.push(2);
            let bytes = v
                .get("BinaryValue")
                .and_then(binary_value)
                .unwrap_or_default();
            push_len_prefixed(&mut buf, &bytes);
        } else {
            buf.push(1);
            let s = v.get("StringValue").and_then(Value::as_str).unwrap_or("");
            push_len_prefixed(&mut buf, s.as_bytes());
        }
    }
    Some(md5_hex(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_and_attribute_digests() {
        assert_eq!(md5_hex(b"test"), "098f6bcd4621d373cade4e832627b4f6");
        let attrs = serde_json::json!({
            "b": {"DataType": "Binary", "BinaryValue": "AAE="},
            "a": {"DataType": "String", "StringValue": "x"},
        });
        let mut expected = Vec::new();
        for part in [&b"a"[..], b"String"] {
            expected.extend_from_slice(&(part.len() as u32).to_be_bytes());
            expected.extend_from_slice(part);
        }
        expected.push(1);
        expected.extend_from_slice(&1u32.to_be_bytes());
        expected.push(b'x');
        for part in [&b"b"[..], b"Binary"] {
            expected.extend_from_slice(&(part.len() as u32).to_be_bytes());
            expected.extend_from_slice(part);
        }
        expected.push(2);
        expected.extend_from_slice(&2u32.to_be_bytes());
        expected.extend_from_slice(&[0, 1]);
        assert_eq!(
            md5_of_attributes(attrs.as_object().unwrap()).unwrap(),
            md5_hex(&expected)
        );
    }
}
