//! State survives stopping and starting `slcl up` in the same folder.

use crate::common::Slcl;
use crate::thumbnail::thumbnail_project;

#[test]
fn buckets_objects_and_notifications_survive_restart() {
    let project = thumbnail_project();
    let slcl = Slcl::up(project.path());
    let file = project.path().join("data.bin");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&file, &data).unwrap();
    slcl.aws_ok(&["s3", "mb", "s3://extra"]);
    slcl.aws_ok(&[
        "s3",
        "cp",
        file.to_str().unwrap(),
        "s3://extra/dir/data.bin",
        "--metadata",
        "colour=blue",
    ]);
    slcl.put_object("photos", "notes/small.txt", &file);
    let before = slcl.aws_ok(&[
        "s3api",
        "get-bucket-notification-configuration",
        "--bucket",
        "photos",
    ]);
    slcl.stop();

    let slcl = Slcl::up(project.path());
    let buckets = slcl.aws_ok(&["s3api", "list-buckets"]);
    assert!(
        buckets.contains("\"extra\"") && buckets.contains("\"photos\""),
        "{buckets}"
    );
    let back = project.path().join("back.bin");
    slcl.aws_ok(&[
        "s3",
        "cp",
        "s3://extra/dir/data.bin",
        back.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&back).unwrap(), data);
    let head = slcl.aws_ok(&[
        "s3api",
        "head-object",
        "--bucket",
        "extra",
        "--key",
        "dir/data.bin",
    ]);
    assert!(head.contains("\"colour\": \"blue\""), "{head}");
    let after = slcl.aws_ok(&[
        "s3api",
        "get-bucket-notification-configuration",
        "--bucket",
        "photos",
    ]);
    assert_eq!(before, after);
    assert!(after.contains("uploads/"), "{after}");
}
