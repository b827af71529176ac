//! The `aws-chunked` content encoding, decoded as a stream.
//!
//! SigV4 streaming uploads (`x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD`,
//! `STREAMING-UNSIGNED-PAYLOAD-TRAILER`, `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`,
//! or `Content-Encoding: aws-chunked`) frame the object as
//!
//! ```text
//! <hex size>[;chunk-signature=<sig>]\r\n<data>\r\n ... 0[;chunk-signature=<sig>]\r\n
//! [<trailer-name>:<value>\r\n ...]\r\n
//! ```
//!
//! See <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html> and
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html>.
//! Chunk signatures are not verified (slcl accepts any credentials by default).
//! [`ChunkedDecoder`] is fed the raw bytes as they arrive and hands out the payload
//! bytes, so a large upload never has to sit in memory.

use bytes::{Buf, Bytes, BytesMut};

/// Longest chunk header or trailer line accepted, so bad input cannot grow memory.
const MAX_LINE: usize = 8 * 1024;

/// Why the chunk framing could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkedError {
    /// The framing is not `aws-chunked`.
    #[error("invalid aws-chunked framing: {0}")]
    Invalid(&'static str),
    /// The body ended before the final chunk.
    #[error("the aws-chunked body ended early")]
    Incomplete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

/// Incremental `aws-chunked` decoder.
#[derive(Debug)]
pub struct ChunkedDecoder {
    state: State,
    line: BytesMut,
    trailers: Vec<(String, String)>,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Header,
            line: BytesMut::new(),
            trailers: Vec::new(),
        }
    }

    /// Consumes `input`, appending decoded payload slices to `out`.
    pub fn push(&mut self, mut input: Bytes, out: &mut Vec<Bytes>) -> Result<(), ChunkedError> {
        while input.has_remaining() {
            match self.state {
                State::Header => {
                    if let Some(line) = self.take_line(&mut input)? {
                        let size_part = match line.find(';') {
                            Some(i) => &line[..i],
                            None => line.as_str(),
                        };
                        let size = u64::from_str_radix(size_part.trim(), 16)
                            .map_err(|_| ChunkedError::Invalid("bad chunk size"))?;
                        self.state = if size == 0 {
                            State::Trailers
                        } else {
                            State::Data(size)
                        };
                    }
                }
                State::Data(left) => {
                    let n = (left.min(input.len() as u64)) as usize;
                    out.push(input.split_to(n));
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                }
                State::DataEnd => {
                    if let Some(line) = self.take_line(&mut input)? {
                        if !line.is_empty() {
                            return Err(ChunkedError::Invalid("chunk data longer than its size"));
                        }
                        self.state = State::Header;
                    }
                }
                State::Trailers => {
                    if let Some(line) = self.take_line(&mut input)? {
                        if line.is_empty() {
                            self.state = State::Done;
                        } else if let Some((name, value)) = line.split_once(':') {
                            self.trailers
                                .push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                        } else {
                            return Err(ChunkedError::Invalid("bad trailer line"));
                        }
                    }
                }
                State::Done => {
                    // Tolerate trailing whitespace some clients leave after the end.
                    if input.iter().all(|b| b.is_ascii_whitespace()) {
                        return Ok(());
                    }
                    return Err(ChunkedError::Invalid("data after the final chunk"));
                }
            }
        }
        Ok(())
    }

    /// Checks that the body ended after the final chunk; returns the trailers.
    pub fn finish(self) -> Result<Vec<(String, String)>, ChunkedError> {
        match self.state {
            State::Done => Ok(self.trailers),
            // The final `0\r\n` chunk with nothing after it: accept, as S3 does.
            State::Trailers if self.line.is_empty() => Ok(self.trailers),
            _ => Err(ChunkedError::Incomplete),
        }
    }

    /// Takes one CRLF-terminated line from `input`, buffering partial lines.
    fn take_line(&mut self, input: &mut Bytes) -> Result<Option<String>, ChunkedError> {
        match input.iter().position(|&b| b == b'\n') {
            Some(i) => {
                self.line.extend_from_slice(&input[..i]);
                input.advance(i + 1);
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.truncate(line.len() - 1);
                }
                String::from_utf8(line.to_vec())
                    .map(Some)
                    .map_err(|_| ChunkedError::Invalid("non-UTF-8 chunk header"))
            }
            None => {
                self.line.extend_from_slice(input);
                input.advance(input.len());
                if self.line.len() > MAX_LINE {
                    return Err(ChunkedError::Invalid("chunk header too long"));
                }
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Trailers = Vec<(String, String)>;

    fn decode_in_pieces(input: &[u8], piece: usize) -> Result<(Vec<u8>, Trailers), ChunkedError> {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        for p in input.chunks(piece) {
            d.push(Bytes::copy_from_slice(p), &mut out)?;
        }
        let trailers = d.finish()?;
        Ok((out.concat(), trailers))
    }

    #[test]
    fn signed_chunks() {
        let body = b"5;chunk-signature=abc\r\nhello\r\n6;chunk-signature=def\r\n world\r\n0;chunk-signature=0\r\n\r\n";
        for piece in [1, 2, 3, 7, 100] {
            let (data, t) = decode_in_pieces(body, piece).unwrap();
            assert_eq!(data, b"hello world");
            assert!(t.is_empty());
        }
    }

    #[test]
    fn unsigned_with_trailer() {
        let body = b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
        for piece in [1, 4, 100] {
            let (data, t) = decode_in_pieces(body, piece).unwrap();
            assert_eq!(data, b"hello world");
            assert_eq!(t, vec![("x-amz-checksum-crc32".into(), "DUoRhQ==".into())]);
        }
    }

    #[test]
    fn final_chunk_without_blank_line_is_accepted() {
        let (data, _) = decode_in_pieces(b"3\r\nabc\r\n0\r\n", 2).unwrap();
        assert_eq!(data, b"abc");
    }

    #[test]
    fn errors() {
        assert_eq!(
            decode_in_pieces(b"3\r\nab", 10),
            Err(ChunkedError::Incomplete)
        );
        assert!(matches!(
            decode_in_pieces(b"zz\r\n", 10),
            Err(ChunkedError::Invalid(_))
        ));
        assert!(matches!(
            decode_in_pieces(b"2\r\nabc\r\n", 10),
            Err(ChunkedError::Invalid(_))
        ));
        let long = vec![b'1'; MAX_LINE + 10];
        assert!(matches!(
            decode_in_pieces(&long, 100),
            Err(ChunkedError::Invalid(_))
        ));
    }
}
