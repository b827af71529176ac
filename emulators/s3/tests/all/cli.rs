//! The aws CLI: high-level `s3` commands, including a multipart `cp`.

use crate::harness::Server;

#[test]
fn cp_twenty_mib_multipart_round_trip() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("in.bin");
    let dst = dir.path().join("out.bin");
    // Deterministic, incompressible-enough bytes.
    let mut data = Vec::with_capacity(20 * 1024 * 1024);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while data.len() < 20 * 1024 * 1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(&src, &data).unwrap();

    s.aws(&["s3", "mb", "s3://cli-bucket"]);
    s.aws(&[
        "s3",
        "cp",
        src.to_str().unwrap(),
        "s3://cli-bucket/dir/in.bin",
    ]);
    let head = s.aws(&[
        "s3api",
        "head-object",
        "--bucket",
        "cli-bucket",
        "--key",
        "dir/in.bin",
    ]);
    let head: serde_json::Value = serde_json::from_str(&head).unwrap();
    let etag = head["ETag"].as_str().unwrap();
    assert!(etag.ends_with("-3\""), "multipart ETag, got {etag}");
    assert_eq!(head["ContentLength"], 20 * 1024 * 1024);

    s.aws(&[
        "s3",
        "cp",
        "s3://cli-bucket/dir/in.bin",
        dst.to_str().unwrap(),
    ]);
    assert!(
        std::fs::read(&dst).unwrap() == data,
        "downloaded bytes differ"
    );

    let ls = s.aws(&["s3", "ls", "s3://cli-bucket/dir/"]);
    assert!(ls.contains("20971520 in.bin"), "{ls}");
    let listed = s.aws(&["s3api", "list-objects-v2", "--bucket", "cli-bucket"]);
    assert!(listed.contains("dir/in.bin"));
    s.aws(&["s3", "rm", "s3://cli-bucket/dir/in.bin"]);
    s.aws(&["s3", "rb", "s3://cli-bucket"]);
    let err = s.aws_raw(&["s3api", "head-bucket", "--bucket", "cli-bucket"]);
    assert!(!err.status.success());
}
