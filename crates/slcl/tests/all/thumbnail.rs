//! The demo: `slcl up examples/thumbnail`, upload real photos with the aws CLI and
//! boto3, get thumbnails made by a Rust function using aws-sdk-s3 inside wasmtime.

use std::path::Path;
use std::time::Duration;

use crate::common::{eventually, repo_root, Slcl};

/// A copy of `examples/thumbnail` with the function already built (by the fixtures
/// crate), so `slcl up` loads it rather than building it again.
pub fn thumbnail_project() -> tempfile::TempDir {
    let example = repo_root().join("examples/thumbnail");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(example.join("slcl.toml"), dir.path().join("slcl.toml")).unwrap();
    let config = slcl_config_wasm_path(&dir.path().join("slcl.toml"));
    let wasm = dir.path().join(config);
    std::fs::create_dir_all(wasm.parent().unwrap()).unwrap();
    std::fs::copy(slcl_fixtures::THUMBNAIL, &wasm).unwrap();
    dir
}

fn slcl_config_wasm_path(toml: &Path) -> String {
    let text = std::fs::read_to_string(toml).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("wasm"))
        .expect("slcl.toml declares the function's wasm");
    line.split('"').nth(1).unwrap().to_string()
}

fn photos() -> Vec<std::path::PathBuf> {
    let mut photos: Vec<_> = std::fs::read_dir(repo_root().join("examples/thumbnail/images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("jpg" | "png")))
        .collect();
    photos.sort();
    assert!(photos.len() >= 4, "the repo ships at least four photos");
    photos
}

/// Downloads `key` and checks it is a thumbnail of `original`: decodes, fits 128×128,
/// keeps the aspect ratio within a pixel, and has the original's format.
fn check_thumbnail(slcl: &Slcl, key: &str, original: &Path) {
    let out = tempfile::tempdir().unwrap();
    let local = out.path().join("thumb");
    let got = eventually(Duration::from_secs(90), &format!("thumbnail {key}"), || {
        let o = slcl.aws(&[
            "s3",
            "cp",
            &format!("s3://photos/{key}"),
            local.to_str().unwrap(),
        ]);
        o.status.success().then(|| std::fs::read(&local).unwrap())
    });
    let original_bytes = std::fs::read(original).unwrap();
    let original_img = image::load_from_memory(&original_bytes).unwrap();
    let format = image::guess_format(&got).expect("thumbnail is an image");
    assert_eq!(
        format,
        image::guess_format(&original_bytes).unwrap(),
        "{key} keeps its format"
    );
    let thumb = image::load_from_memory(&got).expect("thumbnail decodes");
    let (w, h) = (thumb.width() as f64, thumb.height() as f64);
    let (ow, oh) = (original_img.width() as f64, original_img.height() as f64);
    assert!(w <= 128.0 && h <= 128.0, "{key} is {w}x{h}");
    let scale = (128.0 / ow.max(oh)).min(1.0);
    assert!(
        (w - ow * scale).abs() <= 1.0 && (h - oh * scale).abs() <= 1.0,
        "{key}: {w}x{h} does not keep the aspect ratio of {ow}x{oh}"
    );
    let head = slcl.aws_ok(&["s3api", "head-object", "--bucket", "photos", "--key", key]);
    let expected_type = if format == image::ImageFormat::Png {
        "image/png"
    } else {
        "image/jpeg"
    };
    assert!(head.contains(expected_type), "{key} content type: {head}");
}

#[test]
fn thumbnails_for_every_photo_from_cli_and_boto3() {
    let project = thumbnail_project();
    let slcl = Slcl::up(project.path());
    let photos = photos();
    let mut expected = Vec::new();
    for (i, photo) in photos.iter().enumerate() {
        let stem = photo.file_stem().unwrap().to_str().unwrap();
        let ext = photo.extension().unwrap().to_str().unwrap();
        // Keys with spaces, `+` and unicode, as users name files.
        let name = match i % 3 {
            0 => format!("{stem}.{ext}"),
            1 => format!("my {stem} +1.{ext}"),
            _ => format!("фото {stem} ü.{ext}"),
        };
        let key = format!("uploads/{name}");
        if i % 2 == 0 {
            slcl.aws_ok(&[
                "s3",
                "cp",
                photo.to_str().unwrap(),
                &format!("s3://photos/{key}"),
            ]);
        } else {
            slcl.python(
                "client('s3').upload_file(sys.argv[1], 'photos', sys.argv[2])",
                &[photo.to_str().unwrap(), &key],
            );
        }
        expected.push((format!("thumbnails/{name}"), photo.clone()));
    }
    for (key, photo) in &expected {
        check_thumbnail(&slcl, key, photo);
    }
    // Function output reaches the console framed by Lambda's lines.
    let out = slcl.output();
    assert!(out.contains("START RequestId: "), "{out}");
    assert!(out.contains("END RequestId: "), "{out}");
    assert!(out.contains("Billed Duration: "), "{out}");
}

#[test]
fn non_image_upload_is_a_function_error_and_nothing_breaks() {
    let project = thumbnail_project();
    let slcl = Slcl::up(project.path());
    let notes = project.path().join("notes.txt");
    std::fs::write(&notes, "not a photo").unwrap();
    slcl.aws_ok(&[
        "s3",
        "cp",
        notes.to_str().unwrap(),
        "s3://photos/uploads/notes.txt",
    ]);
    slcl.wait_for_output("function error", Duration::from_secs(60));
    // The stack keeps working: a real photo still gets its thumbnail.
    let photo = &photos()[0];
    let name = photo.file_name().unwrap().to_str().unwrap();
    slcl.aws_ok(&[
        "s3",
        "cp",
        photo.to_str().unwrap(),
        &format!("s3://photos/uploads/{name}"),
    ]);
    check_thumbnail(&slcl, &format!("thumbnails/{name}"), photo);
    let listing = slcl.aws_ok(&["s3", "ls", "s3://photos/thumbnails/"]);
    assert!(!listing.contains("notes.txt"), "{listing}");
}

#[test]
fn one_upload_is_traced_through_notification_invocation_and_sdk_calls() {
    let project = thumbnail_project();
    let slcl = Slcl::up(project.path());
    let photo = &photos()[0];
    let ext = photo.extension().unwrap().to_str().unwrap();
    let key = format!("uploads/traced.{ext}");
    let trace_id = slcl.python(
        "r = client('s3').put_object(Bucket='photos', Key=sys.argv[2], Body=open(sys.argv[1], 'rb').read())\nprint(r['ResponseMetadata']['HTTPHeaders']['x-slcl-trace-id'])",
        &[photo.to_str().unwrap(), &key],
    );
    let trace_id = trace_id.trim();
    let steps = eventually(Duration::from_secs(90), "the whole trace", || {
        let (status, body) = slcl.http("GET", &format!("/_slcl/traces/{trace_id}"));
        if status != 200 {
            return None;
        }
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        let steps = doc["steps"].as_array().unwrap().clone();
        let put_back = steps.iter().any(|s| {
            s["kind"] == "request"
                && s["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("PUT /photos/thumbnails/")
        });
        put_back.then_some(steps)
    });
    let find = |pred: &dyn Fn(&serde_json::Value) -> bool| -> serde_json::Value {
        steps
            .iter()
            .find(|s| pred(s))
            .cloned()
            .unwrap_or_else(|| panic!("missing step in {steps:#?}"))
    };
    let upload = find(&|s| s["kind"] == "request" && s["name"] == format!("PUT /photos/{key}"));
    assert!(upload["parentId"].is_null());
    assert_eq!(upload["outcome"], "200");
    let delivery = find(&|s| s["kind"] == "delivery");
    assert_eq!(delivery["parentId"], upload["id"]);
    assert_eq!(
        delivery["name"],
        "arn:aws:lambda:us-east-1:000000000000:function:thumbnail"
    );
    let invocation = find(&|s| s["kind"] == "invocation");
    assert_eq!(invocation["parentId"], delivery["id"]);
    assert_eq!(invocation["name"], "thumbnail");
    assert_eq!(invocation["outcome"], "ok");
    let get = find(&|s| s["kind"] == "request" && s["name"] == format!("GET /photos/{key}"));
    assert_eq!(
        get["parentId"], invocation["id"],
        "the SDK call hangs under the invocation"
    );
    let put = find(&|s| {
        s["kind"] == "request"
            && s["name"]
                .as_str()
                .unwrap()
                .starts_with("PUT /photos/thumbnails/")
    });
    assert_eq!(put["parentId"], invocation["id"]);
    assert!(steps.iter().all(|s| s["traceId"] == trace_id));
    // An unknown trace is a 404.
    assert_eq!(
        slcl.http("GET", "/_slcl/traces/1-00000000-000000000000000000000000")
            .0,
        404
    );
}
