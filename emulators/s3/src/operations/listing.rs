//! ListObjects (v1) and ListObjectsV2
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html>).
//!
//! Keys come in UTF-8 byte order. With a delimiter, keys sharing the part of the
//! key after the prefix up to the first delimiter roll up into one CommonPrefix,
//! which counts once against max-keys. A continuation token is the base64 of the
//! position to resume after: the last key returned, or for a common prefix the
//! prefix followed by U+10FFFF, which sorts after every key under that prefix.

use http::StatusCode;
use slcl_core::Response;

use super::buckets::{OWNER_ID, OWNER_NAME};
use super::objects::quoted;
use crate::blobs;
use crate::error::{ApiError, ApiResult};
use crate::protocol::{self, xml::XmlWriter, ListInput};
use crate::state::ListedObject;
use crate::S3Service;

/// Rows fetched per database query while listing.
const BATCH: usize = 1000;

/// The highest code point: appended to a common prefix it sorts after every key
/// under that prefix.
const AFTER_ALL: char = '\u{10FFFF}';

/// One page of a listing.
struct Page {
    contents: Vec<ListedObject>,
    common_prefixes: Vec<String>,
    truncated: bool,
    /// Last key or common prefix returned.
    last: Option<String>,
    /// Where the next page starts (exclusive).
    resume_after: Option<String>,
}

impl S3Service {
    fn list_page(&self, bucket: &str, input: &ListInput, start: &str) -> ApiResult<Page> {
        let prefix = input.prefix.as_str();
        let mut page = Page {
            contents: Vec::new(),
            common_prefixes: Vec::new(),
            truncated: false,
            last: None,
            resume_after: None,
        };
        if input.max_keys == 0 {
            return Ok(page);
        }
        let mut cursor = start.to_string();
        let mut entries = 0usize;
        'outer: loop {
            let rows = self.state.list_objects(bucket, prefix, &cursor, BATCH)?;
            let exhausted = rows.len() < BATCH;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                if !row.key.starts_with(prefix) {
                    break 'outer;
                }
                let rolled = input.delimiter.as_deref().and_then(|d| {
                    row.key[prefix.len()..]
                        .find(d)
                        .map(|i| row.key[..prefix.len() + i + d.len()].to_string())
                });
                if let Some(cp) = &rolled {
                    // A marker inside this common prefix has already passed it.
                    if cp.as_str() <= start {
                        cursor = format!("{cp}{AFTER_ALL}");
                        continue 'outer;
                    }
                }
                if entries == input.max_keys {
                    page.truncated = true;
                    break 'outer;
                }
                entries += 1;
                match rolled {
                    Some(cp) => {
                        cursor = format!("{cp}{AFTER_ALL}");
                        page.resume_after = Some(cursor.clone());
                        page.last = Some(cp.clone());
                        page.common_prefixes.push(cp);
                        // Skip the rest of this common prefix with a fresh query.
                        continue 'outer;
                    }
                    None => {
                        cursor = row.key.clone();
                        page.resume_after = Some(row.key.clone());
                        page.last = Some(row.key.clone());
                        page.contents.push(row);
                    }
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(page)
    }

    #[tracing::instrument(name = "s3.list_objects", skip_all, fields(bucket = %bucket, v2 = v2))]
    pub(crate) fn list_objects(
        &self,
        bucket: &str,
        input: ListInput,
        v2: bool,
    ) -> ApiResult<Response> {
        self.state.require_bucket(bucket)?;
        let start = match (&input.continuation_token, &input.start_after) {
            (Some(token), _) => blobs::unb64(token)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ApiError::invalid_argument(
                        "The continuation token provided is incorrect",
                        "continuation-token",
                        token,
                    )
                })?,
            (None, Some(s)) => s.clone(),
            (None, None) => String::new(),
        };
        let page = self.list_page(bucket, &input, &start)?;
        let enc = |s: &str| -> String {
            if input.url_encode {
                protocol::form_encode(s)
            } else {
                s.to_string()
            }
        };
        let mut w = XmlWriter::new("ListBucketResult");
        w.elem("Name", bucket).elem("Prefix", &enc(&input.prefix));
        if v2 {
            w.opt("ContinuationToken", input.continuation_token.as_deref());
            if let (true, Some(next)) = (page.truncated, &page.resume_after) {
                w.elem("NextContinuationToken", &blobs::b64(next.as_bytes()));
            }
            w.opt(
                "StartAfter",
                input.start_after.as_deref().map(&enc).as_deref(),
            );
            w.elem(
                "KeyCount",
                &(page.contents.len() + page.common_prefixes.len()).to_string(),
            );
        } else {
            w.elem("Marker", &enc(input.start_after.as_deref().unwrap_or("")));
            // S3 returns NextMarker only when a delimiter was given; clients use the
            // last key otherwise.
            if let (true, true, Some(last)) =
                (page.truncated, input.delimiter.is_some(), &page.last)
            {
                w.elem("NextMarker", &enc(last));
            }
        }
        w.elem("MaxKeys", &input.max_keys.to_string());
        w.opt("Delimiter", input.delimiter.as_deref().map(&enc).as_deref());
        if input.url_encode {
            w.elem("EncodingType", "url");
        }
        w.elem("IsTruncated", if page.truncated { "true" } else { "false" });
        for o in &page.contents {
            w.open("Contents")
                .elem("Key", &enc(&o.key))
                .elem(
                    "LastModified",
                    &protocol::iso8601_millis(o.last_modified_ms),
                )
                .elem("ETag", &quoted(&o.etag));
            if let Some(a) = o.checksum_algorithm {
                w.elem("ChecksumAlgorithm", a.as_str());
            }
            w.elem("Size", &o.size.to_string())
                .elem("StorageClass", "STANDARD");
            if !v2 || input.fetch_owner {
                w.open("Owner")
                    .elem("ID", OWNER_ID)
                    .elem("DisplayName", OWNER_NAME)
                    .close("Owner");
            }
            w.close("Contents");
        }
        for cp in &page.common_prefixes {
            w.open("CommonPrefixes")
                .elem("Prefix", &enc(cp))
                .close("CommonPrefixes");
        }
        Ok(protocol::xml(StatusCode::OK, w.finish("ListBucketResult")))
    }
}
