//! The thumbnail demo: for every image uploaded under `uploads/` in a bucket, write a
//! thumbnail of at most 128×128 pixels to `thumbnails/<file name>` in the same bucket.
//!
//! An ordinary S3-triggered Lambda function in Rust: the official `aws-sdk-s3` client,
//! `aws_lambda_events`' `S3Event`, the `image` crate. The only slcl-specific lines are
//! `slcl_guest::aws_config()` (instead of `aws_config::load_from_env()`) and the
//! `slcl_guest::main!` export at the bottom (instead of `lambda_runtime::run`).

use std::io::Cursor;

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use aws_sdk_s3::{error::DisplayErrorContext, primitives::ByteStream, Client};
use image::{
    codecs::{jpeg::JpegEncoder, png::PngEncoder},
    imageops::FilterType,
    DynamicImage, ImageDecoder, ImageFormat, ImageReader,
};
use serde_json::{json, Value};
use slcl_guest::{Error, LambdaEvent};

/// Thumbnails fit in a square of this many pixels, keeping the aspect ratio.
const MAX_SIZE: u32 = 128;
/// Only objects under this prefix are thumbnailed (the notification filter says the same).
const UPLOADS: &str = "uploads/";
/// Thumbnails go under this prefix; it must not overlap `UPLOADS`, or each thumbnail
/// would trigger the function again.
const THUMBNAILS: &str = "thumbnails/";
/// JPEG quality of the thumbnails (1–100).
const JPEG_QUALITY: u8 = 85;

async fn handler(event: LambdaEvent<S3Event>) -> Result<Value, Error> {
    let s3 = Client::new(&slcl_guest::aws_config().await);
    let mut made = Vec::new();
    for record in &event.payload.records {
        if let Some(thumbnail) = thumbnail_record(&s3, record).await? {
            made.push(thumbnail);
        }
    }
    Ok(json!({ "thumbnails": made }))
}

/// Makes the thumbnail for one record, or returns `None` for a record that is not an
/// upload (another event type, another prefix).
async fn thumbnail_record(s3: &Client, record: &S3EventRecord) -> Result<Option<Value>, Error> {
    let event_name = record.event_name.as_deref().unwrap_or_default();
    if !event_name
        .trim_start_matches("s3:")
        .starts_with("ObjectCreated:")
    {
        println!("skipping {event_name} event");
        return Ok(None);
    }
    let bucket = record
        .s3
        .bucket
        .name
        .as_deref()
        .ok_or("S3 record without a bucket name")?;
    let raw_key = record
        .s3
        .object
        .key
        .as_deref()
        .ok_or("S3 record without an object key")?;
    let key = decode_key(raw_key)?;
    let Some(file_name) = key
        .strip_prefix(UPLOADS)
        .and_then(|rest| rest.rsplit('/').next())
    else {
        println!("skipping s3://{bucket}/{key}: not under {UPLOADS}");
        return Ok(None);
    };
    if file_name.is_empty() {
        println!("skipping s3://{bucket}/{key}: a folder, not a file");
        return Ok(None);
    }

    let object = s3
        .get_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot read s3://{bucket}/{key}: {}",
                DisplayErrorContext(&e)
            )
        })?;
    let original = object.body.collect().await?.into_bytes();
    let thumbnail = make_thumbnail(&original)
        .map_err(|e| format!("cannot make a thumbnail of s3://{bucket}/{key}: {e}"))?;

    let target = format!("{THUMBNAILS}{file_name}");
    s3.put_object()
        .bucket(bucket)
        .key(&target)
        .content_type(thumbnail.format.to_mime_type())
        .body(ByteStream::from(thumbnail.bytes))
        .send()
        .await
        .map_err(|e| {
            format!(
                "cannot write s3://{bucket}/{target}: {}",
                DisplayErrorContext(&e)
            )
        })?;
    println!(
        "thumbnail s3://{bucket}/{key} ({}x{}) -> s3://{bucket}/{target} ({}x{})",
        thumbnail.original.0, thumbnail.original.1, thumbnail.size.0, thumbnail.size.1
    );
    Ok(Some(json!({
        "source": key,
        "thumbnail": target,
        "width": thumbnail.size.0,
        "height": thumbnail.size.1,
    })))
}

/// Decodes an S3 event's object key. S3 form-encodes keys in notifications: `+` is a
/// space and everything else is percent-encoded UTF-8
/// (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html>).
fn decode_key(raw: &str) -> Result<String, Error> {
    let spaced = raw.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&spaced).decode_utf8()?;
    Ok(decoded.into_owned())
}

/// An encoded thumbnail and what it was made from.
struct Thumbnail {
    bytes: Vec<u8>,
    format: ImageFormat,
    original: (u32, u32),
    size: (u32, u32),
}

/// Decodes a JPEG or PNG (format guessed from the content, not the key), turns it upright
/// per its EXIF orientation, shrinks it to fit `MAX_SIZE`×`MAX_SIZE` and encodes it in the
/// input's format.
fn make_thumbnail(original: &[u8]) -> Result<Thumbnail, Error> {
    let reader = ImageReader::new(Cursor::new(original)).with_guessed_format()?;
    let format = match reader.format() {
        Some(format @ (ImageFormat::Jpeg | ImageFormat::Png)) => format,
        Some(other) => {
            return Err(format!("{other:?} images are not supported, only JPEG and PNG").into())
        }
        None => return Err("not a JPEG or PNG image".into()),
    };
    let mut decoder = reader.into_decoder()?;
    let orientation = decoder.orientation()?;
    let mut image = DynamicImage::from_decoder(decoder)?;
    image.apply_orientation(orientation);
    let original_size = (image.width(), image.height());

    // Shrink only: a small image is its own thumbnail.
    if image.width() > MAX_SIZE || image.height() > MAX_SIZE {
        image = image.resize(MAX_SIZE, MAX_SIZE, FilterType::Triangle);
    }

    let size = (image.width(), image.height());
    let mut bytes = Vec::new();
    match format {
        ImageFormat::Jpeg => {
            // JPEG has no alpha channel and only 8-bit samples.
            let image = match image {
                DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => image,
                other => DynamicImage::ImageRgb8(other.to_rgb8()),
            };
            JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY).encode_image(&image)?;
        }
        _ => image.write_with_encoder(PngEncoder::new(&mut bytes))?,
    }
    Ok(Thumbnail {
        bytes,
        format,
        original: original_size,
        size,
    })
}

slcl_guest::main!(handler);
