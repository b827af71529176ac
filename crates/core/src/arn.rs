use std::fmt;

/// An Amazon Resource Name, `arn:partition:service:region:account:resource`.
///
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html>.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    /// Partition, `aws` for the standard regions.
    pub partition: String,
    /// Service namespace, such as `lambda`, `s3` or `sqs`.
    pub service: String,
    /// Region; empty for global resources such as S3 buckets.
    pub region: String,
    /// Account id; empty for S3 buckets.
    pub account: String,
    /// Everything after the fifth colon, such as `function:thumbnail:live`.
    pub resource: String,
}

impl Arn {
    /// Parses an ARN; `None` when it does not have the six colon-separated parts.
    pub fn parse(s: &str) -> Option<Arn> {
        let mut parts = s.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let partition = parts.next()?.to_string();
        let service = parts.next()?.to_string();
        let region = parts.next()?.to_string();
        let account = parts.next()?.to_string();
        let resource = parts.next()?.to_string();
        if partition.is_empty() || service.is_empty() || resource.is_empty() {
            return None;
        }
        Some(Arn {
            partition,
            service,
            region,
            account,
            resource,
        })
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition, self.service, self.region, self.account, self.resource
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let s = "arn:aws:lambda:us-east-1:000000000000:function:f:live";
        let arn = Arn::parse(s).unwrap();
        assert_eq!(arn.resource, "function:f:live");
        assert_eq!(arn.to_string(), s);
        assert_eq!(
            Arn::parse("arn:aws:s3:::photos").unwrap().resource,
            "photos"
        );
        assert!(Arn::parse("not-an-arn").is_none());
        assert!(Arn::parse("arn:aws:s3:::").is_none());
    }
}
