//! Crash safety: `slcl up` is killed with SIGKILL at random moments during a stream
//! of acknowledged writes, restarted on the same state folder, and must still hold
//! every acknowledged write, have run (or still run) every invocation an
//! acknowledged write triggered, and answer reads of everything it lists.
//!
//! Each kind of write is a [`Writer`]: it performs writes one at a time, remembers
//! which were acknowledged and which one was in flight when the process died, and
//! checks them after the restart. Writers today: S3 PUTs, overwrites and deletes,
//! multipart completions (both notifying a function), SQS sends. A later service
//! joins the test by adding a writer (async invokes, DynamoDB puts) to [`writers`].
//!
//! `SLCL_CRASH_ROUNDS` sets the number of kill/restart rounds (default 50) and
//! `SLCL_CRASH_SEED` the random seed (printed, so a failure can be replayed).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use slcl_core::BoxFuture;

use crate::common::{project, toml_path, Slcl};

const BUCKET: &str = "data";

/// A small deterministic random source (xorshift64*), so a seed replays a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What a key should hold: `Some(version)` or absent.
type Expected = Option<u64>;

/// A write whose answer never came: after the restart the key may hold either state.
struct InDoubt {
    key: String,
    before: Expected,
    after: Expected,
}

/// One kind of write.
trait Writer: Send {
    /// Performs one write; `Err` when no acknowledgement came (the server died).
    fn write<'a>(&'a mut self, c: &'a Clients) -> BoxFuture<'a, Result<(), String>>;
    /// After a restart: every acknowledged write is there; the write in doubt is
    /// settled to what the store holds. `all` checks every key ever written, not just
    /// those written since the last check.
    fn check<'a>(&'a mut self, c: &'a Clients, all: bool) -> BoxFuture<'a, Result<(), String>>;
    /// Acknowledged writes that trigger an invocation: (key, ETag) of each.
    fn triggers(&self) -> &[(String, String)] {
        &[]
    }
}

/// A client for each service a writer writes to.
#[derive(Clone)]
struct Clients {
    s3: Client,
    sqs: aws_sdk_sqs::Client,
}

/// The body of `key` at `version`: unique per version, some of it large enough to
/// live in a blob file rather than inline in SQLite.
fn body(key: &str, version: u64, size: usize) -> Vec<u8> {
    let stamp = format!("{key}#{version};");
    stamp.bytes().cycle().take(size.max(stamp.len())).collect()
}

fn md5_hex(data: &[u8]) -> String {
    hex_of(&md5_bytes(data))
}

fn md5_bytes(data: &[u8]) -> Vec<u8> {
    use md5::Digest as _;
    md5::Md5::digest(data).to_vec()
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A write that got no acknowledgement because the server died is in doubt; one
/// that got an AWS error (a 500, say) is a bug, and fails the test at once.
fn unacknowledged<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: aws_sdk_s3::error::SdkError<E, R>,
) -> String {
    if let Some(service) = e.as_service_error() {
        panic!("a write failed with an AWS error, not a crash: {service:?} ({e:?})");
    }
    format!("{e:?}")
}

/// Reads `key`: `Ok(None)` for NoSuchKey.
async fn get(s3: &Client, key: &str) -> Result<Option<Vec<u8>>, String> {
    match s3.get_object().bucket(BUCKET).key(key).send().await {
        Ok(out) => out
            .body
            .collect()
            .await
            .map(|b| Some(b.into_bytes().to_vec()))
            .map_err(|e| format!("GET {key} body: {e}")),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
        Err(e) => Err(format!("GET {key}: {e:?}")),
    }
}

/// PUTs of new keys, overwrites and deletes under `in/` (which notifies the
/// recorder function).
struct ObjectWriter {
    rng: Rng,
    next_id: u64,
    versions: u64,
    model: BTreeMap<String, Expected>,
    touched: BTreeSet<String>,
    in_doubt: Option<InDoubt>,
    triggers: Vec<(String, String)>,
}

impl ObjectWriter {
    fn new(seed: u64) -> ObjectWriter {
        ObjectWriter {
            rng: Rng(seed | 1),
            next_id: 0,
            versions: 0,
            model: BTreeMap::new(),
            touched: BTreeSet::new(),
            in_doubt: None,
            triggers: Vec::new(),
        }
    }

    fn size(version: u64) -> usize {
        // One write in three is 100 KiB: a blob file next to the database.
        if version.is_multiple_of(3) {
            100 * 1024
        } else {
            200
        }
    }

    fn present_key(&mut self) -> Option<String> {
        let present: Vec<&String> = self
            .model
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| k)
            .collect();
        (!present.is_empty())
            .then(|| present[self.rng.below(present.len() as u64) as usize].clone())
    }
}

impl Writer for ObjectWriter {
    fn write<'a>(&'a mut self, c: &'a Clients) -> BoxFuture<'a, Result<(), String>> {
        let s3 = &c.s3;
        Box::pin(async move {
            let dice = self.rng.below(100);
            let existing = if dice >= 60 { self.present_key() } else { None };
            let delete = dice >= 85 && existing.is_some();
            let key = existing.unwrap_or_else(|| {
                self.next_id += 1;
                format!("in/obj-{}", self.next_id)
            });
            let before = self.model.get(&key).copied().flatten();
            self.touched.insert(key.clone());
            if delete {
                self.in_doubt = Some(InDoubt {
                    key: key.clone(),
                    before,
                    after: None,
                });
                s3.delete_object()
                    .bucket(BUCKET)
                    .key(&key)
                    .send()
                    .await
                    .map_err(unacknowledged)?;
                self.model.insert(key, None);
            } else {
                self.versions += 1;
                let version = self.versions;
                self.in_doubt = Some(InDoubt {
                    key: key.clone(),
                    before,
                    after: Some(version),
                });
                let data = body(&key, version, Self::size(version));
                let etag = md5_hex(&data);
                let out = s3
                    .put_object()
                    .bucket(BUCKET)
                    .key(&key)
                    .body(ByteStream::from(data))
                    .send()
                    .await
                    .map_err(unacknowledged)?;
                assert_eq!(out.e_tag(), Some(format!("\"{etag}\"").as_str()));
                self.model.insert(key.clone(), Some(version));
                self.triggers.push((key, etag));
            }
            self.in_doubt = None;
            Ok(())
        })
    }

    fn check<'a>(&'a mut self, c: &'a Clients, all: bool) -> BoxFuture<'a, Result<(), String>> {
        let s3 = &c.s3;
        Box::pin(async move {
            if let Some(doubt) = self.in_doubt.take() {
                let got = get(s3, &doubt.key).await?;
                let matches = |v: Expected| match (&got, v) {
                    (None, None) => true,
                    (Some(data), Some(v)) => *data == body(&doubt.key, v, Self::size(v)),
                    _ => false,
                };
                let settled = if matches(doubt.after) {
                    doubt.after
                } else if matches(doubt.before) {
                    doubt.before
                } else {
                    return Err(format!(
                        "{} holds neither its state before ({:?}) nor after ({:?}) the write in flight",
                        doubt.key, doubt.before, doubt.after
                    ));
                };
                self.model.insert(doubt.key, settled);
            }
            let keys: Vec<String> = if all {
                self.model.keys().cloned().collect()
            } else {
                std::mem::take(&mut self.touched).into_iter().collect()
            };
            for key in keys {
                let expected = self.model.get(&key).copied().flatten();
                let got = get(s3, &key).await?;
                match (expected, got) {
                    (None, None) => {}
                    (Some(v), Some(data)) if data == body(&key, v, Self::size(v)) => {}
                    (expected, got) => {
                        return Err(format!(
                        "acknowledged state of {key} lost: expected version {expected:?}, found {}",
                        match got {
                            None => "no object".to_owned(),
                            Some(d) => format!(
                                "{} bytes: {:?}",
                                d.len(),
                                String::from_utf8_lossy(&d[..d.len().min(40)])
                            ),
                        }
                    ))
                    }
                }
            }
            Ok(())
        })
    }

    fn triggers(&self) -> &[(String, String)] {
        &self.triggers
    }
}

/// Multipart uploads (create, parts, complete) to a few keys under `mp/`, which also
/// notify the recorder.
struct MultipartWriter {
    rng: Rng,
    versions: u64,
    model: BTreeMap<String, Expected>,
    in_doubt: Option<InDoubt>,
    triggers: Vec<(String, String)>,
}

/// S3's smallest part but the last.
const MIN_PART: usize = 5 * 1024 * 1024;

impl MultipartWriter {
    fn parts(version: u64) -> Vec<usize> {
        // Every fourth upload has a full-size first part (5 MiB); the others are
        // single small parts, which S3 allows for the last part.
        if version.is_multiple_of(4) {
            vec![MIN_PART, 1000]
        } else {
            vec![3000]
        }
    }

    fn expected_body(key: &str, version: u64) -> Vec<u8> {
        let mut data = Vec::new();
        for (i, size) in Self::parts(version).into_iter().enumerate() {
            data.extend(body(&format!("{key}.{i}"), version, size));
        }
        data
    }
}

impl Writer for MultipartWriter {
    fn write<'a>(&'a mut self, c: &'a Clients) -> BoxFuture<'a, Result<(), String>> {
        let s3 = &c.s3;
        Box::pin(async move {
            let key = format!("mp/{}", self.rng.below(4));
            self.versions += 1;
            let version = self.versions;
            self.in_doubt = Some(InDoubt {
                key: key.clone(),
                before: self.model.get(&key).copied().flatten(),
                after: Some(version),
            });
            let upload = s3
                .create_multipart_upload()
                .bucket(BUCKET)
                .key(&key)
                .send()
                .await
                .map_err(unacknowledged)?;
            let upload_id = upload.upload_id().unwrap_or_default().to_owned();
            let mut completed = Vec::new();
            let mut digests = Vec::new();
            for (i, size) in Self::parts(version).into_iter().enumerate() {
                let data = body(&format!("{key}.{i}"), version, size);
                digests.extend(md5_bytes(&data));
                let part = s3
                    .upload_part()
                    .bucket(BUCKET)
                    .key(&key)
                    .upload_id(&upload_id)
                    .part_number(i as i32 + 1)
                    .body(ByteStream::from(data))
                    .send()
                    .await
                    .map_err(unacknowledged)?;
                completed.push(
                    CompletedPart::builder()
                        .part_number(i as i32 + 1)
                        .set_e_tag(part.e_tag().map(str::to_owned))
                        .build(),
                );
            }
            let parts = completed.len();
            s3.complete_multipart_upload()
                .bucket(BUCKET)
                .key(&key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(completed))
                        .build(),
                )
                .send()
                .await
                .map_err(unacknowledged)?;
            self.model.insert(key.clone(), Some(version));
            // A multipart ETag is the MD5 of the parts' binary MD5s, then `-<parts>`.
            self.triggers
                .push((key, format!("{}-{parts}", md5_hex(&digests))));
            self.in_doubt = None;
            Ok(())
        })
    }

    fn check<'a>(&'a mut self, c: &'a Clients, _all: bool) -> BoxFuture<'a, Result<(), String>> {
        let s3 = &c.s3;
        Box::pin(async move {
            if let Some(doubt) = self.in_doubt.take() {
                let got = get(s3, &doubt.key).await?;
                let is = |v: Expected| match (&got, v) {
                    (None, None) => true,
                    (Some(d), Some(v)) => *d == Self::expected_body(&doubt.key, v),
                    _ => false,
                };
                let settled = if is(doubt.after) {
                    doubt.after
                } else if is(doubt.before) {
                    doubt.before
                } else {
                    return Err(format!(
                        "{} holds neither version {:?} nor {:?}",
                        doubt.key, doubt.before, doubt.after
                    ));
                };
                self.model.insert(doubt.key, settled);
            }
            for (key, expected) in self.model.clone() {
                let got = get(s3, &key).await?;
                let ok = match (expected, &got) {
                    (None, None) => true,
                    (Some(v), Some(d)) => *d == Self::expected_body(&key, v),
                    _ => false,
                };
                if !ok {
                    return Err(format!(
                        "acknowledged multipart upload {key} (version {expected:?}) lost: found {:?} bytes",
                        got.map(|d| d.len())
                    ));
                }
            }
            Ok(())
        })
    }

    fn triggers(&self) -> &[(String, String)] {
        &self.triggers
    }
}

/// SendMessage to a queue. The check drains the queue (receive, then delete) and
/// requires every acknowledged send to have been drained in this or an earlier
/// round, nothing drained twice after its delete was acknowledged, and nothing that
/// was never sent.
struct QueueWriter {
    next: u64,
    /// Sent and acknowledged, not yet drained.
    acked: BTreeSet<u64>,
    /// The send in flight when slcl died: may or may not be in the queue.
    in_doubt: Option<u64>,
    /// Drained (received and deleted, with the delete acknowledged).
    drained: BTreeSet<u64>,
}

impl QueueWriter {
    const QUEUE: &str = "stream";

    fn url(c: &Clients) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            c.sqs
                .get_queue_url()
                .queue_name(Self::QUEUE)
                .send()
                .await
                .map_err(|e| format!("GetQueueUrl: {e:?}"))
                .map(|o| o.queue_url().unwrap_or_default().to_owned())
        })
    }
}

impl Writer for QueueWriter {
    fn write<'a>(&'a mut self, c: &'a Clients) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let url = Self::url(c).await?;
            self.next += 1;
            let n = self.next;
            self.in_doubt = Some(n);
            let body = format!("message {n}");
            let out = c
                .sqs
                .send_message()
                .queue_url(url)
                .message_body(&body)
                .send()
                .await
                .map_err(|e| {
                    if let Some(service) = e.as_service_error() {
                        panic!("SendMessage failed with an AWS error, not a crash: {service:?}");
                    }
                    format!("{e:?}")
                })?;
            assert_eq!(
                out.md5_of_message_body(),
                Some(md5_hex(body.as_bytes()).as_str())
            );
            self.acked.insert(n);
            self.in_doubt = None;
            Ok(())
        })
    }

    fn check<'a>(&'a mut self, c: &'a Clients, _all: bool) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let url = Self::url(c).await?;
            loop {
                let out = c
                    .sqs
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .visibility_timeout(600)
                    .send()
                    .await
                    .map_err(|e| format!("ReceiveMessage: {e:?}"))?;
                let messages = out.messages();
                if messages.is_empty() {
                    break;
                }
                for m in messages {
                    let body = m.body().unwrap_or_default();
                    let n: u64 = body
                        .strip_prefix("message ")
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| format!("a message that was never sent: {body:?}"))?;
                    if self.drained.contains(&n) {
                        return Err(format!(
                            "{body:?} came back after its delete was acknowledged"
                        ));
                    }
                    if !self.acked.remove(&n) && self.in_doubt != Some(n) {
                        return Err(format!("{body:?} was never sent"));
                    }
                    c.sqs
                        .delete_message()
                        .queue_url(&url)
                        .receipt_handle(m.receipt_handle().unwrap_or_default())
                        .send()
                        .await
                        .map_err(|e| format!("DeleteMessage: {e:?}"))?;
                    self.drained.insert(n);
                }
            }
            self.in_doubt = None;
            if let Some(lost) = self.acked.first() {
                return Err(format!(
                    "{} acknowledged SendMessage calls lost, such as message {lost}",
                    self.acked.len()
                ));
            }
            Ok(())
        })
    }
}

/// Every writer, each with its own keys.
fn writers(seed: u64) -> Vec<Box<dyn Writer>> {
    vec![
        Box::new(QueueWriter {
            next: 0,
            acked: BTreeSet::new(),
            in_doubt: None,
            drained: BTreeSet::new(),
        }),
        Box::new(ObjectWriter::new(seed)),
        Box::new(MultipartWriter {
            rng: Rng(seed.rotate_left(17) | 1),
            versions: 0,
            model: BTreeMap::new(),
            in_doubt: None,
            triggers: Vec::new(),
        }),
    ]
}

/// The events the recorder function stored (`events/<request id>.json`), by object
/// key: the ETags its invocations saw.
#[derive(Default)]
struct Recorded {
    read: BTreeSet<String>,
    etags: HashMap<String, BTreeSet<String>>,
}

impl Recorded {
    async fn refresh(&mut self, s3: &Client) -> Result<(), String> {
        let mut pages = s3
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix("events/")
            .into_paginator()
            .send();
        let mut new = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| format!("listing events/: {e:?}"))?;
            for o in page.contents() {
                let key = o.key().unwrap_or_default();
                if !self.read.contains(key) {
                    new.push(key.to_owned());
                }
            }
        }
        for key in new {
            let Some(data) = get(s3, &key).await? else {
                continue;
            };
            let event: aws_lambda_events::event::s3::S3Event = serde_json::from_slice(&data)
                .map_err(|e| format!("{key} is not an S3 event: {e}"))?;
            for r in event.records {
                self.etags
                    .entry(r.s3.object.key.unwrap_or_default())
                    .or_default()
                    .insert(r.s3.object.e_tag.unwrap_or_default());
            }
            self.read.insert(key);
        }
        Ok(())
    }

    /// Waits until every acknowledged trigger has been recorded by an invocation: an
    /// invocation that was queued when slcl died runs after the restart.
    async fn wait_for(&mut self, s3: &Client, writers: &[Box<dyn Writer>]) -> Result<(), String> {
        let started = std::time::Instant::now();
        loop {
            self.refresh(s3).await?;
            let missing: Vec<&(String, String)> = writers
                .iter()
                .flat_map(|w| w.triggers())
                .filter(|(key, etag)| !self.etags.get(key).is_some_and(|e| e.contains(etag)))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(format!(
                    "{} acknowledged writes never triggered their invocation, such as {:?}",
                    missing.len(),
                    &missing[..missing.len().min(5)]
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The store lists everything and answers for a random sample of what it lists.
async fn readable(s3: &Client, rng: &mut Rng) -> Result<usize, String> {
    let mut pages = s3.list_objects_v2().bucket(BUCKET).into_paginator().send();
    let mut listed = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("listing: {e:?}"))?;
        for o in page.contents() {
            listed.push((o.key().unwrap_or_default().to_owned(), o.size()));
        }
    }
    for _ in 0..listed.len().min(25) {
        let (key, size) = &listed[rng.below(listed.len() as u64) as usize];
        let head = s3
            .head_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .map_err(|e| format!("HEAD {key} of a listed object: {e:?}"))?;
        if head.content_length() != *size {
            return Err(format!("{key}: listed and stored sizes differ"));
        }
    }
    Ok(listed.len())
}

fn clients(endpoint: &str) -> Clients {
    let config = slcl::sdk_config(endpoint, "us-east-1");
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&config)
            .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_sdk_sqs::config::timeout::TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(20))
                    .build(),
            )
            .build(),
    );
    Clients {
        s3: client(endpoint),
        sqs,
    }
}

fn client(endpoint: &str) -> Client {
    let config = slcl::sdk_config(endpoint, "us-east-1");
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            // A write that fails must stay failed: a retry against the restarted
            // process would blur which attempt was acknowledged.
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(20))
                    .build(),
            )
            .build(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_at_random_moments() {
    let rounds: u64 = std::env::var("SLCL_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("SLCL_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash test: {rounds} rounds, SLCL_CRASH_SEED={seed}");
    let dir = project(&format!(
        "[functions.recorder]\nwasm = {}\ntimeout = 30\n\n\
         [[buckets.{BUCKET}.notifications]]\nfunction = \"recorder\"\nprefix = \"in/\"\n\n\
         [[buckets.{BUCKET}.notifications]]\nfunction = \"recorder\"\nprefix = \"mp/\"\n\n\
         [queues.{}]\n",
        toml_path(slcl_fixtures::S3_RECORDER),
        QueueWriter::QUEUE
    ));
    let mut rng = Rng(seed | 1);
    let mut writers = writers(seed);
    let mut recorded = Recorded::default();
    let mut acked_total = 0usize;
    for round in 0..=rounds {
        let slcl = tokio::task::block_in_place(|| Slcl::up(dir.path()));
        let clients = clients(&slcl.endpoint);
        let s3 = clients.s3.clone();
        let last = round == rounds;
        let fail = |what: String| -> ! {
            panic!("round {round} (SLCL_CRASH_SEED={seed}): {what}");
        };
        for w in writers.iter_mut() {
            if let Err(e) = w.check(&clients, last).await {
                fail(e);
            }
        }
        if let Err(e) = readable(&s3, &mut rng).await {
            fail(e);
        }
        if let Err(e) = recorded.wait_for(&s3, &writers).await {
            fail(e);
        }
        if last {
            break;
        }

        // A stream of writes from every writer at once, cut by SIGKILL.
        let kill_after = Duration::from_millis(20 + rng.below(300));
        let mut running = tokio::task::JoinSet::new();
        for mut w in std::mem::take(&mut writers) {
            let clients = clients.clone();
            running.spawn(async move {
                let mut acked = 0usize;
                while w.write(&clients).await.is_ok() {
                    acked += 1;
                }
                (w, acked)
            });
        }
        tokio::time::sleep(kill_after).await;
        drop(slcl); // SIGKILL, then wait for the process to be gone
        while let Some(done) = running.join_next().await {
            let (w, acked) = done.unwrap();
            acked_total += acked;
            writers.push(w);
        }
    }
    let triggers: usize = writers.iter().map(|w| w.triggers().len()).sum();
    eprintln!(
        "crash test: {rounds} SIGKILLs, {acked_total} acknowledged writes, {triggers} triggered invocations, all present"
    );
    assert!(
        acked_total as u64 >= rounds,
        "the writers made too few writes to test anything"
    );
}
