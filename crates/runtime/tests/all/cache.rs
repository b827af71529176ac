//! The compiled-artifact cache and the code facts of a loaded function.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_load_comes_from_the_disk_cache() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(|c| c.cache_dir = Some(dir.path().to_owned()));
    let first = h.load(spec("cached")).await;
    assert!(!first.compiled_from_cache());
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].ends_with(".cwasm") && entries[0].contains("-wasmtime48.0.8-release-"));

    // A second runtime (a restart) finds it too.
    let h2 = harness(|c| c.cache_dir = Some(dir.path().to_owned()));
    let second = h2.load(spec("cached")).await;
    assert!(second.compiled_from_cache());
    let result = invoke(&second, serde_json::json!({"action": "echo"})).await;
    json_result(&result);

    // A corrupt entry is recompiled, not fatal. (Replace the file rather than write
    // into it: the loaded functions above map it into memory.)
    let entry = dir.path().join(&entries[0]);
    std::fs::remove_file(&entry).unwrap();
    std::fs::write(&entry, b"garbage").unwrap();
    let third = h2.load(spec("cached")).await;
    assert!(!third.compiled_from_cache());
    json_result(&invoke(&third, serde_json::json!({"action": "echo"})).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_sha256_and_size_match_lambda() {
    let h = harness(|_| {});
    let f = h.load(spec("facts")).await;
    let bytes = std::fs::read(guest_wasm()).unwrap();
    let expected = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&bytes));
    assert_eq!(f.code_sha256(), expected);
    assert_eq!(f.code_size(), bytes.len() as u64);
    assert_eq!(f.spec().name, "facts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_mode_compiles_with_debug_info_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(|c| {
        c.debug = true;
        c.cache_dir = Some(dir.path().to_owned());
    });
    let f = h.load(fixture("debuggable", slcl_fixtures::ECHO)).await;
    let entry = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let name = entry.file_name().into_string().unwrap();
    assert!(name.contains("-debug-"), "{name}");
    let result = invoke(&f, serde_json::json!({"hi": 1})).await;
    assert_eq!(json_result(&result), serde_json::json!({"hi": 1}));
}
