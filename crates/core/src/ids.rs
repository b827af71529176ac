//! Identifiers in the formats AWS uses.

use rand::Rng;

/// A random UUID v4 string, as Lambda request ids look.
pub fn uuid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        u16::from_be_bytes([b[6], b[7]]),
        u16::from_be_bytes([b[8], b[9]]),
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
    )
}

/// `n` random characters from `[A-Z0-9]`, as S3 request ids look.
pub fn upper_alnum(n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// An X-Ray style trace id, `1-<8 hex seconds>-<24 hex random>`.
pub fn trace_id(unix_seconds: u64) -> String {
    let r: [u8; 12] = rand::rng().random();
    let mut s = format!("1-{:08x}-", unix_seconds as u32);
    for byte in r {
        s.push_str(&format!("{byte:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapes() {
        let u = super::uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(super::upper_alnum(16).len(), 16);
        assert_eq!(super::trace_id(0).len(), 35);
    }
}
