//! Event source mappings: Lambda polling a queue and invoking a function with batches.
//!
//! AWS's event source mappings are pollers that live inside Lambda
//! (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html>),
//! and so they live here. The records come from an [`EventSource`] that the
//! composition root registers per ARN namespace ([`LambdaService::register_source`]):
//! SQS today; Kinesis and DynamoDB Streams implement the same trait later. The pieces:
//!
//! - this module: the [`EventSourceMapping`] model, its validation, and the five API
//!   operations (Create/Get/Update/Delete/ListEventSourceMappings), plus mappings
//!   declared in configuration ([`LambdaService::declare_mappings`]);
//! - `store`: the SQLite table `lambda_event_source_mappings`;
//! - `poller`: one task per enabled mapping, which waits on the source's
//!   notification, gathers a batch (`BatchSize`, `MaximumBatchingWindowInSeconds` on
//!   the stack's clock), drops records that match no filter, invokes the function
//!   through the ordinary synchronous path (so invocations are recorded and traced),
//!   and deletes what succeeded.

mod poller;
mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::StatusCode;
use serde_json::{json, Map, Value};
use slcl_core::{Arn, AwsError, EventSource, SourceInfo};

use crate::filter::FilterSet;
use crate::protocol::{self, invalid_parameter};
use crate::{LambdaError, LambdaService};

pub(crate) use store::MappingStore;

/// `BatchSize` when none is given, for SQS.
pub const DEFAULT_SQS_BATCH_SIZE: u32 = 10;
/// Largest `MaximumBatchingWindowInSeconds`.
pub const MAX_BATCHING_WINDOW_S: u32 = 300;
/// `ScalingConfig.MaximumConcurrency` bounds.
pub const MAXIMUM_CONCURRENCY: std::ops::RangeInclusive<u32> = 2..=1000;
/// Batches of one mapping in flight at once without `ScalingConfig`: AWS's pollers
/// start with five concurrent batches (and scale up under load, which slcl does not).
pub const DEFAULT_CONCURRENT_BATCHES: u32 = 5;
/// The one `FunctionResponseTypes` value.
pub const REPORT_BATCH_ITEM_FAILURES: &str = "ReportBatchItemFailures";

/// An event source mapping, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSourceMapping {
    /// `UUID`.
    pub uuid: String,
    /// Name of the function it invokes.
    pub function: String,
    /// `EventSourceArn`.
    pub event_source_arn: String,
    /// `BatchSize`.
    pub batch_size: u32,
    /// `MaximumBatchingWindowInSeconds`.
    pub maximum_batching_window_s: u32,
    /// The `Pattern`s of `FilterCriteria.Filters`.
    pub filters: Vec<String>,
    /// `FunctionResponseTypes`.
    pub function_response_types: Vec<String>,
    /// `ScalingConfig.MaximumConcurrency`.
    pub maximum_concurrency: Option<u32>,
    /// `Enabled`.
    pub enabled: bool,
    /// `LastModified`, Unix milliseconds on the stack's clock.
    pub last_modified_ms: u64,
    /// Declared in configuration rather than created through the API.
    pub declared: bool,
}

impl EventSourceMapping {
    /// Whether the function reports partial batch failures.
    pub fn reports_batch_item_failures(&self) -> bool {
        self.function_response_types
            .iter()
            .any(|t| t == REPORT_BATCH_ITEM_FAILURES)
    }
}

/// A mapping declared in configuration (`slcl.toml`), with the API's defaults for what
/// is left out. Declared mappings get a UUID derived from function and source, so a
/// restart updates them in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingDecl {
    /// Function name.
    pub function: String,
    /// Source ARN (an SQS queue ARN).
    pub event_source_arn: String,
    /// `BatchSize`; default 10.
    pub batch_size: Option<u32>,
    /// `MaximumBatchingWindowInSeconds`; default 0.
    pub maximum_batching_window_s: Option<u32>,
    /// Filter patterns (JSON text each).
    pub filters: Vec<String>,
    /// `FunctionResponseTypes` contains `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
    /// `ScalingConfig.MaximumConcurrency`.
    pub maximum_concurrency: Option<u32>,
    /// `Enabled`; default true.
    pub enabled: bool,
}

/// Running pollers by mapping UUID; dropping a sender stops its poller.
#[derive(Default)]
pub(crate) struct Pollers {
    running: Mutex<HashMap<String, tokio::sync::watch::Sender<()>>>,
}

impl Pollers {
    fn stop(&self, uuid: &str) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uuid);
    }
}

/// A stable UUID (v4 layout) for a declared mapping of `function` to `source`.
fn declared_uuid(function: &str, source: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("slcl.toml\0{function}\0{source}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Mapping settings as an API request gives them (every field optional, as in Update).
#[derive(Debug, Default)]
struct Settings {
    function: Option<String>,
    enabled: Option<bool>,
    batch_size: Option<u32>,
    window: Option<u32>,
    filters: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    /// `Some(None)`: an empty `ScalingConfig` removes the setting.
    maximum_concurrency: Option<Option<u32>>,
}

/// Parameters that only stream and Kafka sources take.
const STREAM_ONLY: &[&str] = &[
    "StartingPosition",
    "StartingPositionTimestamp",
    "ParallelizationFactor",
    "BisectBatchOnFunctionError",
    "DestinationConfig",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "TumblingWindowInSeconds",
    "Topics",
    "Queues",
    "SelfManagedEventSource",
    "SourceAccessConfigurations",
];

fn uint(doc: &Map<String, Value>, key: &str, field: &str) -> Result<Option<u32>, AwsError> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                invalid_parameter(format!(
                    "1 validation error detected: Value '{v}' at '{field}' failed to satisfy constraint: Member must be a non-negative integer"
                ))
            }),
    }
}

fn parse_settings(doc: &Map<String, Value>) -> Result<Settings, AwsError> {
    if let Some(key) = STREAM_ONLY.iter().find(|k| doc.contains_key(**k)) {
        return Err(invalid_parameter(format!(
            "Unsupported parameter for an Amazon SQS event source: {key}"
        )));
    }
    let function = match doc.get("FunctionName") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => return Err(invalid_parameter(format!("Invalid FunctionName: {v}"))),
    };
    let enabled = match doc.get("Enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(v) => return Err(invalid_parameter(format!("Invalid Enabled: {v}"))),
    };
    let filters = match doc.get("FilterCriteria") {
        None | Some(Value::Null) => None,
        Some(Value::Object(fc)) => {
            let list = match fc.get("Filters") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(list)) => list
                    .iter()
                    .map(|f| {
                        f.get("Pattern")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                            .ok_or_else(|| {
                                invalid_parameter(
                                    "Each filter of FilterCriteria needs a Pattern string",
                                )
                            })
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err(invalid_parameter("FilterCriteria.Filters must be a list")),
            };
            Some(list)
        }
        Some(_) => return Err(invalid_parameter("FilterCriteria must be an object")),
    };
    let response_types = match doc.get("FunctionResponseTypes") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => Some(
            list.iter()
                .map(|t| match t.as_str() {
                    Some(REPORT_BATCH_ITEM_FAILURES) => Ok(REPORT_BATCH_ITEM_FAILURES.to_string()),
                    _ => Err(invalid_parameter(format!(
                        "1 validation error detected: Value '{t}' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy enum value set: [ReportBatchItemFailures]"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(invalid_parameter("FunctionResponseTypes must be a list")),
    };
    let maximum_concurrency = match doc.get("ScalingConfig") {
        None | Some(Value::Null) => None,
        Some(Value::Object(sc)) => Some(uint(
            sc,
            "MaximumConcurrency",
            "scalingConfig.maximumConcurrency",
        )?),
        Some(_) => return Err(invalid_parameter("ScalingConfig must be an object")),
    };
    Ok(Settings {
        function,
        enabled,
        batch_size: uint(doc, "BatchSize", "batchSize")?,
        window: uint(
            doc,
            "MaximumBatchingWindowInSeconds",
            "maximumBatchingWindowInSeconds",
        )?,
        filters,
        response_types,
        maximum_concurrency,
    })
}

impl LambdaService {
    /// Makes `source` the [`EventSource`] for ARNs of the service namespace `namespace`
    /// (`sqs`), so mappings can poll it. Call before [`LambdaService::start`].
    pub fn register_source(&self, namespace: &str, source: Arc<dyn EventSource>) {
        self.sources
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(namespace.to_string(), source);
    }

    fn source_for(&self, arn: &Arn) -> Option<Arc<dyn EventSource>> {
        self.sources
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&arn.service)
            .cloned()
    }

    /// Every event source mapping, oldest first.
    pub fn event_source_mappings(&self) -> Result<Vec<EventSourceMapping>, LambdaError> {
        self.mappings
            .all()
            .map_err(|e| LambdaError::State(format!("{e:#}")))
    }

    /// Creates or updates the mappings declared in configuration (checked as
    /// CreateEventSourceMapping checks them) and deletes previously declared ones
    /// that are no longer declared. Returns their UUIDs in order.
    pub fn declare_mappings(&self, decls: &[MappingDecl]) -> Result<Vec<String>, LambdaError> {
        let invalid = |d: &MappingDecl, e: AwsError| {
            LambdaError::InvalidMapping(format!(
                "function `{}`, source `{}`: {}",
                d.function, d.event_source_arn, e.message
            ))
        };
        let mut uuids = Vec::new();
        for d in decls {
            let uuid = declared_uuid(&d.function, &d.event_source_arn);
            if uuids.contains(&uuid) {
                return Err(LambdaError::InvalidMapping(format!(
                    "function `{}` is mapped to `{}` twice",
                    d.function, d.event_source_arn
                )));
            }
            let mapping = EventSourceMapping {
                uuid: uuid.clone(),
                function: d.function.clone(),
                event_source_arn: d.event_source_arn.clone(),
                batch_size: d.batch_size.unwrap_or(DEFAULT_SQS_BATCH_SIZE),
                maximum_batching_window_s: d.maximum_batching_window_s.unwrap_or(0),
                filters: d.filters.clone(),
                function_response_types: if d.report_batch_item_failures {
                    vec![REPORT_BATCH_ITEM_FAILURES.into()]
                } else {
                    Vec::new()
                },
                maximum_concurrency: d.maximum_concurrency,
                enabled: d.enabled,
                last_modified_ms: self.clock.now_millis(),
                declared: true,
            };
            if self.registry.get(&d.function).is_none() {
                return Err(invalid(
                    d,
                    protocol::function_not_found(&self.function_arn(&d.function)),
                ));
            }
            self.validate(&mapping).map_err(|e| invalid(d, e))?;
            if let Some(other) = self.event_source_mappings()?.into_iter().find(|m| {
                m.uuid != uuid
                    && m.function == d.function
                    && m.event_source_arn == d.event_source_arn
            }) {
                return Err(invalid(d, conflict(&other)));
            }
            self.store_mapping(&mapping)?;
            uuids.push(uuid);
        }
        for m in self.event_source_mappings()? {
            if m.declared && !uuids.contains(&m.uuid) {
                self.pollers.stop(&m.uuid);
                self.mappings
                    .delete(&m.uuid)
                    .map_err(|e| LambdaError::State(format!("{e:#}")))?;
            }
        }
        Ok(uuids)
    }

    /// Stores a mapping and (re)starts or stops its poller to match.
    fn store_mapping(&self, m: &EventSourceMapping) -> Result<(), LambdaError> {
        self.mappings
            .put(m)
            .map_err(|e| LambdaError::State(format!("{e:#}")))?;
        self.pollers.stop(&m.uuid);
        if m.enabled && self.started.load(std::sync::atomic::Ordering::SeqCst) {
            self.spawn_poller(m.clone());
        }
        Ok(())
    }

    /// Starts the pollers of every enabled mapping (at start).
    pub(crate) fn start_pollers(&self) {
        match self.event_source_mappings() {
            Ok(all) => {
                for m in all.into_iter().filter(|m| m.enabled) {
                    self.pollers.stop(&m.uuid);
                    self.spawn_poller(m);
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read event source mappings"),
        }
    }

    fn spawn_poller(&self, m: EventSourceMapping) {
        let Some(me) = self.me.upgrade() else { return };
        let Some(source) = Arn::parse(&m.event_source_arn).and_then(|arn| self.source_for(&arn))
        else {
            tracing::warn!(uuid = %m.uuid, source = %m.event_source_arn, "no event source for this ARN; mapping not polled");
            return;
        };
        let (stop, stopped) = tokio::sync::watch::channel(());
        self.pollers
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(m.uuid.clone(), stop);
        poller::spawn(&me, m, source, stopped);
    }

    /// Forgets mappings created through the API (declared ones stay), for the
    /// harness's reset.
    pub(crate) fn reset_mappings(&self) -> Result<(), LambdaError> {
        for m in self.event_source_mappings()? {
            if !m.declared {
                self.pollers.stop(&m.uuid);
                self.mappings
                    .delete(&m.uuid)
                    .map_err(|e| LambdaError::State(format!("{e:#}")))?;
            }
        }
        Ok(())
    }

    /// Checks a mapping's settings against its source, as Lambda does.
    fn validate(&self, m: &EventSourceMapping) -> Result<SourceInfo, AwsError> {
        let arn = Arn::parse(&m.event_source_arn).ok_or_else(|| {
            invalid_parameter(format!(
                "1 validation error detected: Value '{}' at 'eventSourceArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}})?:(\\d{{12}})?:(.*)",
                m.event_source_arn
            ))
        })?;
        let source = self.source_for(&arn).ok_or_else(|| {
            invalid_parameter(format!(
                "Unsupported event source type: slcl polls only Amazon SQS queues so far, not `{}` ARNs",
                arn.service
            ))
        })?;
        let info = source.info(&arn).ok_or_else(|| {
            invalid_parameter(format!(
                "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist: {}",
                m.event_source_arn
            ))
        })?;
        if m.batch_size < 1 || m.batch_size > info.max_batch_size {
            return Err(invalid_parameter(if info.ordered {
                format!(
                    "BatchSize must be between 1 and {} for FIFO queues; got {}.",
                    info.max_batch_size, m.batch_size
                )
            } else {
                format!(
                    "1 validation error detected: Value '{}' at 'batchSize' failed to satisfy constraint: Member must have value between 1 and {}",
                    m.batch_size, info.max_batch_size
                )
            }));
        }
        if m.maximum_batching_window_s > MAX_BATCHING_WINDOW_S {
            return Err(invalid_parameter(format!(
                "1 validation error detected: Value '{}' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value less than or equal to {MAX_BATCHING_WINDOW_S}",
                m.maximum_batching_window_s
            )));
        }
        if m.maximum_batching_window_s > 0 && !info.batching_window {
            return Err(invalid_parameter(
                "Batching window is not supported for FIFO queues.",
            ));
        }
        if m.batch_size > 10 && m.maximum_batching_window_s < 1 {
            return Err(invalid_parameter(
                "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
            ));
        }
        if let Some(c) = m.maximum_concurrency {
            if !MAXIMUM_CONCURRENCY.contains(&c) {
                return Err(invalid_parameter(format!(
                    "1 validation error detected: Value '{c}' at 'scalingConfig.maximumConcurrency' failed to satisfy constraint: Member must have value between 2 and 1000"
                )));
            }
        }
        FilterSet::parse(&m.filters).map_err(invalid_parameter)?;
        Ok(info)
    }

    /// Lambda's `EventSourceMappingConfiguration` document.
    fn mapping_doc(&self, m: &EventSourceMapping, state: &str) -> Value {
        let mut doc = json!({
            "UUID": m.uuid,
            "BatchSize": m.batch_size,
            "MaximumBatchingWindowInSeconds": m.maximum_batching_window_s,
            "EventSourceArn": m.event_source_arn,
            "FunctionArn": self.function_arn(&m.function),
            "LastModified": m.last_modified_ms as f64 / 1000.0,
            "State": state,
            "StateTransitionReason": "USER_INITIATED",
            "FunctionResponseTypes": m.function_response_types,
            "EventSourceMappingArn": format!(
                "arn:aws:lambda:{}:{}:event-source-mapping:{}",
                self.stack.region, self.stack.account_id, m.uuid
            ),
        });
        if !m.filters.is_empty() {
            doc["FilterCriteria"] = json!({
                "Filters": m.filters.iter().map(|p| json!({"Pattern": p})).collect::<Vec<_>>()
            });
        }
        if let Some(c) = m.maximum_concurrency {
            doc["ScalingConfig"] = json!({"MaximumConcurrency": c});
        }
        doc
    }

    fn mapping(&self, uuid: &str) -> Result<EventSourceMapping, AwsError> {
        self.mappings
            .get(uuid)
            .map_err(|e| AwsError::internal(format!("{e:#}")))?
            .ok_or_else(|| {
                AwsError::not_found(
                    "ResourceNotFoundException",
                    format!("The resource you requested does not exist. (Service: Lambda, Status Code: 404, Request ID: {uuid})"),
                )
            })
    }

    /// The function name a `FunctionName` (name or ARN, `$LATEST` only) refers to.
    fn mapped_function(&self, function: &str) -> Result<String, AwsError> {
        Ok(self.resolve(function, None)?.decl.name.clone())
    }

    pub(crate) fn create_event_source_mapping(
        &self,
        body: &Bytes,
    ) -> Result<(StatusCode, Value), AwsError> {
        let doc = json_body(body)?;
        let settings = parse_settings(&doc)?;
        let source_arn = doc
            .get("EventSourceArn")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                invalid_parameter("EventSourceArn is required for an Amazon SQS event source.")
            })?
            .to_string();
        let function = settings
            .function
            .as_deref()
            .ok_or_else(|| invalid_parameter("FunctionName is required."))?;
        let function = self.mapped_function(function)?;
        let mapping = EventSourceMapping {
            uuid: slcl_core::ids::uuid(),
            function,
            event_source_arn: source_arn,
            batch_size: settings.batch_size.unwrap_or(DEFAULT_SQS_BATCH_SIZE),
            maximum_batching_window_s: settings.window.unwrap_or(0),
            filters: settings.filters.unwrap_or_default(),
            function_response_types: settings.response_types.unwrap_or_default(),
            maximum_concurrency: settings.maximum_concurrency.flatten(),
            enabled: settings.enabled.unwrap_or(true),
            last_modified_ms: self.clock.now_millis(),
            declared: false,
        };
        self.validate(&mapping)?;
        if let Some(other) = self
            .event_source_mappings()
            .map_err(|e| AwsError::internal(e.to_string()))?
            .into_iter()
            .find(|m| {
                m.function == mapping.function && m.event_source_arn == mapping.event_source_arn
            })
        {
            return Err(conflict(&other));
        }
        self.store_mapping(&mapping)
            .map_err(|e| AwsError::internal(e.to_string()))?;
        tracing::info!(uuid = %mapping.uuid, function = %mapping.function, source = %mapping.event_source_arn, "event source mapping created");
        Ok((StatusCode::ACCEPTED, self.mapping_doc(&mapping, "Creating")))
    }

    pub(crate) fn update_event_source_mapping(
        &self,
        uuid: &str,
        body: &Bytes,
    ) -> Result<(StatusCode, Value), AwsError> {
        let doc = json_body(body)?;
        if doc.contains_key("EventSourceArn") {
            return Err(invalid_parameter(
                "The event source of a mapping cannot be changed.",
            ));
        }
        let settings = parse_settings(&doc)?;
        let mut m = self.mapping(uuid)?;
        if let Some(f) = &settings.function {
            m.function = self.mapped_function(f)?;
        }
        if let Some(b) = settings.batch_size {
            m.batch_size = b;
        }
        if let Some(w) = settings.window {
            m.maximum_batching_window_s = w;
        }
        if let Some(f) = settings.filters {
            m.filters = f;
        }
        if let Some(t) = settings.response_types {
            m.function_response_types = t;
        }
        if let Some(c) = settings.maximum_concurrency {
            m.maximum_concurrency = c;
        }
        if let Some(e) = settings.enabled {
            m.enabled = e;
        }
        m.last_modified_ms = self.clock.now_millis();
        self.validate(&m)?;
        if let Some(other) = self
            .event_source_mappings()
            .map_err(|e| AwsError::internal(e.to_string()))?
            .into_iter()
            .find(|o| {
                o.uuid != m.uuid
                    && o.function == m.function
                    && o.event_source_arn == m.event_source_arn
            })
        {
            return Err(conflict(&other));
        }
        self.store_mapping(&m)
            .map_err(|e| AwsError::internal(e.to_string()))?;
        Ok((StatusCode::ACCEPTED, self.mapping_doc(&m, "Updating")))
    }

    pub(crate) fn get_event_source_mapping(
        &self,
        uuid: &str,
    ) -> Result<(StatusCode, Value), AwsError> {
        let m = self.mapping(uuid)?;
        let state = if m.enabled { "Enabled" } else { "Disabled" };
        Ok((StatusCode::OK, self.mapping_doc(&m, state)))
    }

    pub(crate) fn delete_event_source_mapping(
        &self,
        uuid: &str,
    ) -> Result<(StatusCode, Value), AwsError> {
        let m = self.mapping(uuid)?;
        self.pollers.stop(uuid);
        self.mappings
            .delete(uuid)
            .map_err(|e| AwsError::internal(format!("{e:#}")))?;
        Ok((StatusCode::ACCEPTED, self.mapping_doc(&m, "Deleting")))
    }

    pub(crate) fn list_event_source_mappings(
        &self,
        event_source_arn: Option<&str>,
        function: Option<&str>,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<(StatusCode, Value), AwsError> {
        let function = function.map(|f| self.mapped_function(f)).transpose()?;
        let all: Vec<EventSourceMapping> = self
            .event_source_mappings()
            .map_err(|e| AwsError::internal(e.to_string()))?
            .into_iter()
            .filter(|m| event_source_arn.is_none_or(|a| m.event_source_arn == a))
            .filter(|m| function.as_deref().is_none_or(|f| m.function == f))
            .collect();
        let start = match marker {
            None => 0,
            Some(marker) => all
                .iter()
                .position(|m| m.uuid == marker)
                .map(|i| i + 1)
                .ok_or_else(|| invalid_parameter(format!("Invalid marker: {marker}")))?,
        };
        // "returns a maximum of 100 items in each response".
        let max_items = max_items.min(100);
        let page: Vec<Value> = all[start..]
            .iter()
            .take(max_items)
            .map(|m| self.mapping_doc(m, if m.enabled { "Enabled" } else { "Disabled" }))
            .collect();
        let mut doc = json!({ "EventSourceMappings": page });
        if start + max_items < all.len() {
            doc["NextMarker"] = all[start + max_items - 1].uuid.clone().into();
        }
        Ok((StatusCode::OK, doc))
    }
}

/// `ResourceConflictException` (409) for a second mapping of the same function and
/// queue, worded as Lambda words it.
fn conflict(existing: &EventSourceMapping) -> AwsError {
    AwsError::new(
        StatusCode::CONFLICT,
        "ResourceConflictException",
        format!(
            "An event source mapping with SQS arn (\" {} \") and function (\" {} \") already exists. Please update or delete the existing mapping with UUID {}",
            existing.event_source_arn, existing.function, existing.uuid
        ),
    )
}

fn json_body(body: &Bytes) -> Result<Map<String, Value>, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(invalid_parameter("The request body must be a JSON object.")),
        Err(e) => Err(invalid_parameter(format!(
            "Could not parse request body into json: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_uuids_are_stable_and_distinct() {
        let a = declared_uuid("f", "arn:aws:sqs:us-east-1:000000000000:q");
        assert_eq!(
            a,
            declared_uuid("f", "arn:aws:sqs:us-east-1:000000000000:q")
        );
        assert_ne!(
            a,
            declared_uuid("g", "arn:aws:sqs:us-east-1:000000000000:q")
        );
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn settings_are_parsed_and_stream_options_refused() {
        let doc = json!({
            "FunctionName": "f", "BatchSize": 5, "Enabled": false,
            "FilterCriteria": {"Filters": [{"Pattern": "{}"}]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {}
        });
        let s = parse_settings(doc.as_object().unwrap()).unwrap();
        assert_eq!(s.batch_size, Some(5));
        assert_eq!(s.enabled, Some(false));
        assert_eq!(s.filters.unwrap(), vec!["{}".to_string()]);
        assert_eq!(s.maximum_concurrency, Some(None));
        for bad in [
            json!({"StartingPosition": "LATEST"}),
            json!({"FunctionResponseTypes": ["Nope"]}),
            json!({"BatchSize": -1}),
            json!({"FilterCriteria": {"Filters": [{}]}}),
        ] {
            let e = parse_settings(bad.as_object().unwrap()).err().unwrap();
            assert_eq!(e.code, "InvalidParameterValueException");
        }
    }
}
