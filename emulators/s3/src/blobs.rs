//! Object bodies on their way to and from disk, and the checksums computed on the way.
//!
//! A [`BlobWriter`] takes an upload chunk by chunk, hashing as it goes (MD5 for the
//! ETag, plus the flexible checksum the client asked for). Bodies up to
//! [`INLINE_MAX`] stay in memory and are stored inline in SQLite (a 1 KiB PutObject
//! never touches the file system); anything larger spills to a file in the store's
//! `tmp/` folder, which [`PendingBlob::persist`] renames into `blobs/` under a
//! generated id just before the row that points to it is committed.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http_body::Frame;
use http_body_util::StreamBody;
use md5::{Digest, Md5};
use slcl_core::Body;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Bodies at most this long are stored inline in the database.
pub const INLINE_MAX: usize = 64 * 1024;

/// How much is buffered before a write to the spill file (fewer, larger writes).
const WRITE_BUFFER: usize = 1024 * 1024;

/// How much one chunk of a streamed GetObject body holds.
const READ_CHUNK: usize = 256 * 1024;

/// Prefix of every file S3 puts in the store's `blobs/` and `tmp/` folders.
pub const BLOB_PREFIX: &str = "s3-";

/// A flexible checksum algorithm
/// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (ISO-HDLC), as zlib.
    Crc32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// CRC-64/NVME. Stored as the client sent it; slcl does not verify it.
    Crc64nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl ChecksumAlgorithm {
    /// All algorithms, in the order their headers are looked for.
    pub const ALL: [ChecksumAlgorithm; 5] = [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32c,
        ChecksumAlgorithm::Crc64nvme,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ];

    /// Parses `CRC32`, `crc32c`, ... (case-insensitive).
    pub fn parse(s: &str) -> Option<ChecksumAlgorithm> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// The name in AWS's words: `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    /// The header carrying it: `x-amz-checksum-crc32`, ...
    pub fn header(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The element name in XML documents: `ChecksumCRC32`, ...
    pub fn xml_name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "ChecksumCRC32",
            ChecksumAlgorithm::Crc32c => "ChecksumCRC32C",
            ChecksumAlgorithm::Crc64nvme => "ChecksumCRC64NVME",
            ChecksumAlgorithm::Sha1 => "ChecksumSHA1",
            ChecksumAlgorithm::Sha256 => "ChecksumSHA256",
        }
    }

    /// A running hash for this algorithm; `None` for the ones slcl does not compute.
    pub fn hasher(self) -> Option<ChecksumHasher> {
        Some(match self {
            ChecksumAlgorithm::Crc32 => ChecksumHasher::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => ChecksumHasher::Crc32c(0),
            ChecksumAlgorithm::Crc64nvme => return None,
            ChecksumAlgorithm::Sha1 => ChecksumHasher::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => ChecksumHasher::Sha256(sha2::Sha256::new()),
        })
    }

    /// Base64 of this algorithm's digest of `data`, as S3 headers carry it.
    #[cfg(test)]
    pub fn digest_b64(self, data: &[u8]) -> Option<String> {
        let mut h = self.hasher()?;
        h.update(data);
        Some(h.finish_b64())
    }
}

/// A running flexible-checksum computation.
pub enum ChecksumHasher {
    /// CRC-32.
    Crc32(crc32fast::Hasher),
    /// CRC-32C state.
    Crc32c(u32),
    /// SHA-1.
    Sha1(sha1::Sha1),
    /// SHA-256.
    Sha256(sha2::Sha256),
}

impl ChecksumHasher {
    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            ChecksumHasher::Crc32(h) => h.update(data),
            ChecksumHasher::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            ChecksumHasher::Sha1(h) => h.update(data),
            ChecksumHasher::Sha256(h) => h.update(data),
        }
    }

    /// The raw digest bytes.
    pub fn finish_raw(self) -> Vec<u8> {
        match self {
            ChecksumHasher::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            ChecksumHasher::Crc32c(c) => c.to_be_bytes().to_vec(),
            ChecksumHasher::Sha1(h) => h.finalize().to_vec(),
            ChecksumHasher::Sha256(h) => h.finalize().to_vec(),
        }
    }

    /// The digest in base64.
    pub fn finish_b64(self) -> String {
        b64(&self.finish_raw())
    }
}

/// Standard base64.
pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Decodes standard base64.
pub fn unb64(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()
}

/// Where a stored body lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Inline in the database row.
    Inline(Bytes),
    /// In `blobs/<id>`.
    File(String),
}

/// What a finished [`BlobWriter`] produced.
pub struct Written {
    /// Body length.
    pub size: u64,
    /// MD5 digest of the body.
    pub md5: [u8; 16],
    /// The flexible checksum computed, if one was requested and slcl computes it.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
    /// The body, still to be persisted.
    pub blob: PendingBlob,
}

/// A body that is complete but not yet in its final place.
pub enum PendingBlob {
    /// Small body kept in memory.
    Inline(Bytes),
    /// A spill file in `tmp/`, removed on drop unless persisted.
    File(TmpFile),
}

impl PendingBlob {
    /// Moves a spilled body into `blob_dir` under a fresh id and says where it is.
    /// Call just before committing the row that points to it.
    pub fn persist(self, blob_dir: &Path) -> std::io::Result<Content> {
        match self {
            PendingBlob::Inline(b) => Ok(Content::Inline(b)),
            PendingBlob::File(mut tmp) => {
                let id = format!("{BLOB_PREFIX}{}", uuid::Uuid::new_v4().simple());
                std::fs::rename(&tmp.path, blob_dir.join(&id))?;
                tmp.persisted = true;
                Ok(Content::File(id))
            }
        }
    }
}

/// A file in `tmp/`, deleted when dropped unless it was moved.
pub struct TmpFile {
    path: PathBuf,
    persisted: bool,
}

impl Drop for TmpFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Streams a body into memory or a spill file while hashing it.
pub struct BlobWriter {
    tmp_dir: PathBuf,
    buf: BytesMut,
    file: Option<(tokio::fs::File, TmpFile)>,
    md5: Md5,
    checksum: Option<(ChecksumAlgorithm, ChecksumHasher)>,
    size: u64,
}

impl BlobWriter {
    /// A writer that spills into `tmp_dir` and computes `checksum` besides MD5.
    pub fn new(tmp_dir: PathBuf, checksum: Option<ChecksumAlgorithm>) -> BlobWriter {
        BlobWriter {
            tmp_dir,
            buf: BytesMut::new(),
            file: None,
            md5: Md5::new(),
            checksum: checksum.and_then(|a| a.hasher().map(|h| (a, h))),
            size: 0,
        }
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends `data`.
    pub async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.md5.update(data);
        if let Some((_, h)) = &mut self.checksum {
            h.update(data);
        }
        self.size += data.len() as u64;
        self.buf.extend_from_slice(data);
        if self.file.is_none() && self.buf.len() > INLINE_MAX {
            let path = self.tmp_dir.join(format!(
                "{BLOB_PREFIX}{}.part",
                uuid::Uuid::new_v4().simple()
            ));
            let file = tokio::fs::File::create(&path).await?;
            self.file = Some((
                file,
                TmpFile {
                    path,
                    persisted: false,
                },
            ));
        }
        if self.buf.len() >= WRITE_BUFFER {
            self.flush_buf().await?;
        }
        Ok(())
    }

    async fn flush_buf(&mut self) -> std::io::Result<()> {
        if let Some((file, _)) = &mut self.file {
            let chunk = self.buf.split().freeze();
            file.write_all(&chunk).await?;
        }
        Ok(())
    }

    /// Completes the body.
    pub async fn finish(mut self) -> std::io::Result<Written> {
        self.flush_buf().await?;
        let blob = match self.file.take() {
            Some((mut file, tmp)) => {
                file.flush().await?;
                drop(file);
                PendingBlob::File(tmp)
            }
            None => PendingBlob::Inline(self.buf.split().freeze()),
        };
        Ok(Written {
            size: self.size,
            md5: self.md5.finalize().into(),
            checksum: self.checksum.take().map(|(a, h)| (a, h.finish_b64())),
            blob,
        })
    }
}

/// A response body streaming `len` bytes of `file` from `offset`.
pub fn file_body(file: std::fs::File, offset: u64, len: u64) -> Body {
    let file = tokio::fs::File::from_std(file);
    let stream = futures::stream::unfold(
        (file, offset, len, false),
        |(mut file, offset, left, mut seeked)| async move {
            if left == 0 {
                return None;
            }
            if !seeked {
                if let Err(e) = file.seek(SeekFrom::Start(offset)).await {
                    return Some((Err(e.into()), (file, offset, 0, true)));
                }
                seeked = true;
            }
            let want = (left as usize).min(READ_CHUNK);
            let mut buf = BytesMut::zeroed(want);
            let mut filled = 0;
            while filled < want {
                match file.read(&mut buf[filled..]).await {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) => return Some((Err(e.into()), (file, offset, 0, seeked))),
                }
            }
            if filled == 0 {
                let e = std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "blob shorter than its row says",
                );
                return Some((Err(e.into()), (file, offset, 0, seeked)));
            }
            buf.truncate(filled);
            let frame: Result<Frame<Bytes>, slcl_core::BoxError> = Ok(Frame::data(buf.freeze()));
            Some((frame, (file, offset, left - filled as u64, seeked)))
        },
    );
    slcl_core::body::boxed(StreamBody::new(stream))
}

/// Copies a stored body into `writer`, in chunks.
pub async fn copy_into(
    blob_dir: &Path,
    content: &Content,
    writer: &mut BlobWriter,
) -> std::io::Result<()> {
    match content {
        Content::Inline(b) => writer.write(b).await,
        Content::File(id) => {
            let mut f = tokio::fs::File::open(blob_dir.join(id)).await?;
            let mut buf = vec![0u8; WRITE_BUFFER];
            loop {
                let n = f.read(&mut buf).await?;
                if n == 0 {
                    return Ok(());
                }
                writer.write(&buf[..n]).await?;
            }
        }
    }
}

/// Deletes a blob file; a missing file is not an error.
pub fn remove(blob_dir: &Path, content: &Content) {
    if let Content::File(id) = content {
        if let Err(e) = std::fs::remove_file(blob_dir.join(id)) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(blob = %id, error = %e, "failed to delete S3 blob");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        // Values from the AWS docs / zlib for "hello world".
        assert_eq!(
            ChecksumAlgorithm::Crc32.digest_b64(b"hello world").unwrap(),
            "DUoRhQ=="
        );
        assert_eq!(
            ChecksumAlgorithm::Crc32c
                .digest_b64(b"hello world")
                .unwrap(),
            "yZRlqg=="
        );
        assert_eq!(
            ChecksumAlgorithm::Sha256.digest_b64(b"").unwrap(),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            ChecksumAlgorithm::parse("crc32c"),
            Some(ChecksumAlgorithm::Crc32c)
        );
    }

    #[tokio::test]
    async fn spills_large_bodies_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = BlobWriter::new(dir.path().to_path_buf(), Some(ChecksumAlgorithm::Crc32));
        let chunk = vec![7u8; 40 * 1024];
        w.write(&chunk).await.unwrap();
        w.write(&chunk).await.unwrap();
        let written = w.finish().await.unwrap();
        assert_eq!(written.size, 80 * 1024);
        assert!(matches!(written.blob, PendingBlob::File(_)));
        drop(written);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
