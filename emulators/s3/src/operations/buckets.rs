//! Bucket operations.

use http::StatusCode;
use slcl_core::{Body, Response};

use super::Cx;
use crate::blobs;
use crate::error::{ApiError, ApiResult};
use crate::events::NotificationConfiguration;
use crate::protocol::{self, xml, xml::XmlWriter};
use crate::state::DeleteBucket;
use crate::S3Service;

/// Canonical user id of the one owner of everything in slcl (AWS's example id).
pub(crate) const OWNER_ID: &str =
    "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";
/// Display name of that owner.
pub(crate) const OWNER_NAME: &str = "webfile";

/// Largest XML configuration body accepted.
pub(crate) const MAX_XML_BODY: usize = 4 * 1024 * 1024;

/// AWS's general purpose bucket naming rules
/// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>).
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    if !(3..=63).contains(&b.len()) {
        return false;
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
    {
        return false;
    }
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) || name.contains("..") {
        return false;
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return false;
    }
    const BAD_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const BAD_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    !BAD_PREFIXES.iter().any(|p| name.starts_with(p))
        && !BAD_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Reads a small XML body; `None` when it is empty.
pub(crate) async fn read_xml(mut body: Body) -> ApiResult<Option<bytes::Bytes>> {
    use http_body_util::BodyExt;
    let mut data = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ApiError::incomplete_body())?;
        if let Ok(chunk) = frame.into_data() {
            if data.len() + chunk.len() > MAX_XML_BODY {
                return Err(ApiError::malformed_xml());
            }
            data.extend_from_slice(&chunk);
        }
    }
    Ok((!data.iter().all(u8::is_ascii_whitespace)).then(|| data.freeze()))
}

impl S3Service {
    #[tracing::instrument(name = "s3.create_bucket", skip_all, fields(bucket = %bucket))]
    pub(crate) async fn create_bucket(
        &self,
        bucket: &str,
        body: Body,
        cx: &Cx,
    ) -> ApiResult<Response> {
        if !valid_bucket_name(bucket) {
            return Err(ApiError::invalid_bucket_name(bucket));
        }
        let mut constraint = None;
        if let Some(data) = read_xml(body).await? {
            let root = xml::parse(&data).ok_or_else(ApiError::malformed_xml)?;
            if root.name != "CreateBucketConfiguration" {
                return Err(ApiError::malformed_xml());
            }
            constraint = root
                .child_text("LocationConstraint")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string);
        }
        // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html: the
        // location constraint must match the endpoint's region; us-east-1 takes none.
        let region = match constraint.as_deref() {
            Some("us-east-1") => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidLocationConstraint",
                    "The specified location-constraint is not valid",
                )
                .with("LocationConstraint", "us-east-1"))
            }
            Some("EU") => "eu-west-1".to_string(),
            Some(c) if c != cx.region => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "IllegalLocationConstraintException",
                    format!("The {c} location constraint is incompatible for the region specific endpoint this request was sent to."),
                ))
            }
            Some(c) => c.to_string(),
            None if cx.region != "us-east-1" => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "IllegalLocationConstraintException",
                    "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.",
                ))
            }
            None => "us-east-1".to_string(),
        };
        let created = self
            .state
            .create_bucket(bucket, &region, self.clock.now_millis() as i64)?;
        // Re-creating an owned bucket is a 200 in us-east-1 (legacy) and a 409
        // elsewhere (see the BucketAlreadyOwnedByYou error docs).
        if !created && cx.region != "us-east-1" {
            return Err(ApiError::bucket_already_owned(bucket));
        }
        let mut resp = protocol::empty(StatusCode::OK);
        protocol::set_header(resp.headers_mut(), "location", &format!("/{bucket}"));
        Ok(resp)
    }

    #[tracing::instrument(name = "s3.head_bucket", skip_all, fields(bucket = %bucket))]
    pub(crate) fn head_bucket(&self, bucket: &str) -> ApiResult<Response> {
        let b = self.state.require_bucket(bucket)?;
        let mut resp = protocol::empty(StatusCode::OK);
        protocol::set_header(resp.headers_mut(), "x-amz-bucket-region", &b.region);
        Ok(resp)
    }

    #[tracing::instrument(name = "s3.delete_bucket", skip_all, fields(bucket = %bucket))]
    pub(crate) fn delete_bucket(&self, bucket: &str) -> ApiResult<Response> {
        match self.state.delete_bucket(bucket)? {
            DeleteBucket::NotFound => Err(ApiError::no_such_bucket(bucket)),
            DeleteBucket::NotEmpty => Err(ApiError::bucket_not_empty(bucket)),
            DeleteBucket::Deleted(garbage) => {
                for c in &garbage {
                    blobs::remove(self.state.blob_dir(), c);
                }
                self.forget_notifications(bucket);
                Ok(protocol::empty(StatusCode::NO_CONTENT))
            }
        }
    }

    #[tracing::instrument(name = "s3.list_buckets", skip_all)]
    pub(crate) fn list_buckets(&self, prefix: Option<String>) -> ApiResult<Response> {
        let mut w = XmlWriter::new("ListAllMyBucketsResult");
        w.open("Owner")
            .elem("ID", OWNER_ID)
            .elem("DisplayName", OWNER_NAME)
            .close("Owner");
        w.open("Buckets");
        for b in self.state.list_buckets()? {
            if prefix.as_deref().is_some_and(|p| !b.name.starts_with(p)) {
                continue;
            }
            w.open("Bucket")
                .elem("Name", &b.name)
                .elem("CreationDate", &protocol::iso8601_millis(b.created_ms))
                .elem("BucketRegion", &b.region)
                .close("Bucket");
        }
        w.close("Buckets");
        w.opt("Prefix", prefix.as_deref());
        Ok(protocol::xml(
            StatusCode::OK,
            w.finish("ListAllMyBucketsResult"),
        ))
    }

    #[tracing::instrument(name = "s3.get_bucket_location", skip_all, fields(bucket = %bucket))]
    pub(crate) fn get_bucket_location(&self, bucket: &str) -> ApiResult<Response> {
        let b = self.state.require_bucket(bucket)?;
        // us-east-1 buckets have an empty LocationConstraint.
        let region = if b.region == "us-east-1" {
            ""
        } else {
            &b.region
        };
        let doc = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"{}\">{}</LocationConstraint>",
            xml::S3_NS,
            xml::escape(region)
        );
        Ok(protocol::xml(StatusCode::OK, doc))
    }

    #[tracing::instrument(
        name = "s3.get_bucket_notification_configuration",
        skip_all,
        fields(bucket = %bucket)
    )]
    pub(crate) fn get_bucket_notification(&self, bucket: &str) -> ApiResult<Response> {
        self.state.require_bucket(bucket)?;
        let doc = match self.notification_entry(bucket) {
            Some(entry) => entry.config.to_xml(),
            None => NotificationConfiguration::default().to_xml(),
        };
        Ok(protocol::xml(StatusCode::OK, doc))
    }

    #[tracing::instrument(
        name = "s3.put_bucket_notification_configuration",
        skip_all,
        fields(bucket = %bucket)
    )]
    pub(crate) async fn put_bucket_notification(
        &self,
        bucket: &str,
        body: Body,
    ) -> ApiResult<Response> {
        self.state.require_bucket(bucket)?;
        let data = read_xml(body).await?.ok_or_else(ApiError::malformed_xml)?;
        let config = NotificationConfiguration::from_xml(&data)?.with_ids();
        // S3 checks that it may invoke each function before accepting the configuration
        // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/how-to-enable-disable-notification-intro.html).
        let unknown: Vec<&str> = config
            .lambda
            .iter()
            .map(|l| l.function_arn.as_str())
            .filter(|arn| !slcl_core::Arn::parse(arn).is_some_and(|a| self.bus.exists(&a)))
            .collect();
        if !unknown.is_empty() {
            let mut err = ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "Unable to validate the following destination configurations",
            );
            for (i, arn) in unknown.iter().enumerate() {
                err = err.with(argument_name(i), *arn).with(
                    argument_value(i),
                    format!("Not authorized to invoke function [{arn}]"),
                );
            }
            return Err(err);
        }
        self.store_notifications(bucket, config)?;
        Ok(protocol::empty(StatusCode::OK))
    }
}

/// `ArgumentName1`, `ArgumentName2`, ... as S3 numbers destination errors.
fn argument_name(i: usize) -> &'static str {
    const NAMES: [&str; 5] = [
        "ArgumentName1",
        "ArgumentName2",
        "ArgumentName3",
        "ArgumentName4",
        "ArgumentName5",
    ];
    NAMES.get(i).copied().unwrap_or("ArgumentName")
}

fn argument_value(i: usize) -> &'static str {
    const NAMES: [&str; 5] = [
        "ArgumentValue1",
        "ArgumentValue2",
        "ArgumentValue3",
        "ArgumentValue4",
        "ArgumentValue5",
    ];
    NAMES.get(i).copied().unwrap_or("ArgumentValue")
}

#[cfg(test)]
mod tests {
    use super::valid_bucket_name;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.1", "a".repeat(63).as_str(), "123"] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "under_score",
            "-start",
            "end-",
            "a..b",
            "127.0.5.4",
            "xn--abc",
            "bucket-s3alias",
            "sp ace",
        ] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }
}
