//! Asynchronous invocation configuration: `PutFunctionEventInvokeConfig`,
//! `GetFunctionEventInvokeConfig`, `UpdateFunctionEventInvokeConfig`,
//! `DeleteFunctionEventInvokeConfig` and `ListFunctionEventInvokeConfigs`.
//!
//! A function (per qualifier; `$LATEST` when none is given) may set how many times a
//! failed async event is retried (`MaximumRetryAttempts`, 0–2, default 2), how long
//! an event may wait (`MaximumEventAgeInSeconds`, 60–21600, default six hours) and
//! where records of async invocations go (`DestinationConfig.OnSuccess` /
//! `OnFailure`). See "Configuring error handling for asynchronous invocation"
//! (<https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-configure.html>).
//! The async worker in `events` reads the configuration through
//! [`LambdaService::async_policy`].
//!
//! Configurations are durable (SQLite table `lambda_event_invoke_configs`). Those
//! declared in `slcl.toml` are marked `declared` and replaced at every start; those
//! made through the API are dropped by [`LambdaService::reset`].
//!
//! Error messages follow AWS's: model constraints answer `ValidationException` with
//! the "1 validation error detected" text, a missing configuration
//! `ResourceNotFoundException` "The function … doesn't have an EventInvokeConfig", a
//! destination of an unsupported service `InvalidParameterValueException`.

use std::time::Duration;

use anyhow::Context as _;
use http::StatusCode;
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Map, Value};
use slcl_core::{Arn, AwsError};
use slcl_store::Db;

use crate::events::{MAX_EVENT_AGE, MAX_RETRY_ATTEMPTS};
use crate::functions::split_function;
use crate::protocol::Call;
use crate::{LambdaError, LambdaService};

/// What an operation answers: a status and a JSON document (ignored for 204).
type Answer = Result<(StatusCode, Value), AwsError>;

/// Largest `MaximumRetryAttempts`.
const RETRY_ATTEMPTS_MAX: i64 = 2;
/// Smallest and largest `MaximumEventAgeInSeconds`.
const EVENT_AGE_RANGE: (i64, i64) = (60, 21_600);
/// Largest (and default) `MaxItems` of ListFunctionEventInvokeConfigs.
const LIST_MAX_ITEMS: usize = 50;
/// Longest destination ARN the model allows.
const DESTINATION_MAX_LEN: usize = 350;

/// An asynchronous invocation configuration declared in `slcl.toml`
/// (`[functions.<name>]` keys `maximum_retry_attempts`, `maximum_event_age` and
/// `[functions.<name>.destinations]`), applied to the function's `$LATEST`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventInvokeConfigDecl {
    /// Function name.
    pub function: String,
    /// `MaximumRetryAttempts`, 0–2; `None` for Lambda's default (2).
    pub maximum_retry_attempts: Option<u32>,
    /// `MaximumEventAgeInSeconds`, 60–21600; `None` for Lambda's default (21600).
    pub maximum_event_age: Option<u32>,
    /// `DestinationConfig.OnSuccess.Destination`.
    pub on_success: Option<String>,
    /// `DestinationConfig.OnFailure.Destination`.
    pub on_failure: Option<String>,
}

/// One stored configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StoredConfig {
    function: String,
    qualifier: String,
    maximum_retry_attempts: Option<u32>,
    maximum_event_age: Option<u32>,
    on_success: Option<String>,
    on_failure: Option<String>,
    last_modified_ms: u64,
}

/// How the async worker treats one function's events: the configuration, with
/// Lambda's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AsyncPolicy {
    /// Retries after the first attempt.
    pub maximum_retry_attempts: u32,
    /// Oldest an event may be when it is (re)tried.
    pub maximum_event_age: Duration,
    /// Destination of success records.
    pub on_success: Option<String>,
    /// Destination of failure records.
    pub on_failure: Option<String>,
}

/// The last failed attempt of a queued event, kept so that the record of an event
/// that later grows too old can carry the response of its last attempt.
#[derive(Debug, Clone)]
pub(crate) struct LastAttempt {
    /// `Unhandled`, or `None` when the function could not be run at all.
    pub function_error: Option<String>,
    /// The error document.
    pub payload: Vec<u8>,
}

/// The durable table of configurations (and the last failed attempt of each event
/// waiting for a retry).
pub(crate) struct InvokeConfigStore {
    db: Db,
}

impl InvokeConfigStore {
    pub(crate) fn open(db: Db) -> anyhow::Result<InvokeConfigStore> {
        db.with(|c| {
            c.execute_batch(
                "CREATE TABLE IF NOT EXISTS lambda_event_invoke_configs (
                    function TEXT NOT NULL,
                    qualifier TEXT NOT NULL,
                    maximum_retry_attempts INTEGER,
                    maximum_event_age INTEGER,
                    on_success TEXT,
                    on_failure TEXT,
                    last_modified_ms INTEGER NOT NULL,
                    declared INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (function, qualifier)
                );
                CREATE TABLE IF NOT EXISTS lambda_async_last_attempt (
                    request_id TEXT PRIMARY KEY,
                    function_error TEXT,
                    payload BLOB NOT NULL
                );",
            )
        })
        .context("failed to create lambda_event_invoke_configs")?;
        Ok(InvokeConfigStore { db })
    }

    fn get(&self, function: &str, qualifier: &str) -> anyhow::Result<Option<StoredConfig>> {
        Ok(self.db.with(|c| {
            c.query_row(
                "SELECT function, qualifier, maximum_retry_attempts, maximum_event_age,
                        on_success, on_failure, last_modified_ms
                 FROM lambda_event_invoke_configs WHERE function = ?1 AND qualifier = ?2",
                params![function, qualifier],
                row_to_config,
            )
            .optional()
        })?)
    }

    fn list(&self, function: &str) -> anyhow::Result<Vec<StoredConfig>> {
        Ok(self.db.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT function, qualifier, maximum_retry_attempts, maximum_event_age,
                        on_success, on_failure, last_modified_ms
                 FROM lambda_event_invoke_configs WHERE function = ?1 ORDER BY qualifier",
            )?;
            let rows = stmt.query_map([function], row_to_config)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?)
    }

    fn put(&self, config: &StoredConfig, declared: bool) -> anyhow::Result<()> {
        self.db.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO lambda_event_invoke_configs
                 (function, qualifier, maximum_retry_attempts, maximum_event_age,
                  on_success, on_failure, last_modified_ms, declared)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    config.function,
                    config.qualifier,
                    config.maximum_retry_attempts,
                    config.maximum_event_age,
                    config.on_success,
                    config.on_failure,
                    config.last_modified_ms as i64,
                    declared,
                ],
            )
        })?;
        Ok(())
    }

    /// Deletes every configuration of `function` (it was deleted).
    pub(crate) fn delete_all(&self, function: &str) -> anyhow::Result<()> {
        self.db.with(|c| {
            c.execute(
                "DELETE FROM lambda_event_invoke_configs WHERE function = ?1",
                params![function],
            )
        })?;
        Ok(())
    }

    /// Deletes the configuration of one qualifier; whether there was one.
    pub(crate) fn delete(&self, function: &str, qualifier: &str) -> anyhow::Result<bool> {
        let n = self.db.with(|c| {
            c.execute(
                "DELETE FROM lambda_event_invoke_configs WHERE function = ?1 AND qualifier = ?2",
                params![function, qualifier],
            )
        })?;
        Ok(n > 0)
    }

    /// Replaces every declared configuration with `configs`.
    fn replace_declared(&self, configs: &[StoredConfig]) -> anyhow::Result<()> {
        self.db.with(|c| -> rusqlite::Result<()> {
            let tx = c.transaction()?;
            tx.execute(
                "DELETE FROM lambda_event_invoke_configs WHERE declared = 1",
                [],
            )?;
            for config in configs {
                tx.execute(
                    "INSERT OR REPLACE INTO lambda_event_invoke_configs
                     (function, qualifier, maximum_retry_attempts, maximum_event_age,
                      on_success, on_failure, last_modified_ms, declared)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1)",
                    params![
                        config.function,
                        config.qualifier,
                        config.maximum_retry_attempts,
                        config.maximum_event_age,
                        config.on_success,
                        config.on_failure,
                        config.last_modified_ms as i64,
                    ],
                )?;
            }
            tx.commit()
        })?;
        Ok(())
    }

    /// Drops configurations made through the API and every kept attempt.
    fn reset(&self) -> anyhow::Result<()> {
        self.db.with(|c| {
            c.execute_batch(
                "DELETE FROM lambda_event_invoke_configs WHERE declared = 0;
                 DELETE FROM lambda_async_last_attempt;",
            )
        })?;
        Ok(())
    }

    /// Keeps the last failed attempt of the event with `request_id`.
    pub(crate) fn keep_attempt(
        &self,
        request_id: &str,
        attempt: &LastAttempt,
    ) -> anyhow::Result<()> {
        self.db.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO lambda_async_last_attempt (request_id, function_error, payload)
                 VALUES (?1, ?2, ?3)",
                params![request_id, attempt.function_error, attempt.payload],
            )
        })?;
        Ok(())
    }

    /// Takes (and forgets) the last failed attempt of the event with `request_id`.
    pub(crate) fn take_attempt(&self, request_id: &str) -> Option<LastAttempt> {
        self.db.with(|c| {
            let attempt = c
                .query_row(
                    "SELECT function_error, payload FROM lambda_async_last_attempt WHERE request_id = ?1",
                    [request_id],
                    |r| {
                        Ok(LastAttempt {
                            function_error: r.get(0)?,
                            payload: r.get(1)?,
                        })
                    },
                )
                .optional()
                .ok()
                .flatten();
            let _ = c.execute(
                "DELETE FROM lambda_async_last_attempt WHERE request_id = ?1",
                [request_id],
            );
            attempt
        })
    }
}

fn row_to_config(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredConfig> {
    Ok(StoredConfig {
        function: r.get(0)?,
        qualifier: r.get(1)?,
        maximum_retry_attempts: r.get(2)?,
        maximum_event_age: r.get(3)?,
        on_success: r.get(4)?,
        on_failure: r.get(5)?,
        last_modified_ms: r.get::<_, i64>(6)? as u64,
    })
}

/// Whether `arn` matches the model's `DestinationArn` pattern (an ARN with an
/// optional region and an optional 12-digit account).
fn destination_pattern_ok(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(_)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let region_ok = region.is_empty() || {
        let pieces: Vec<&str> = region.split('-').collect();
        pieces.len() >= 3
            && pieces[0].len() == 2
            && pieces.iter().all(|p| !p.is_empty())
            && pieces
                .last()
                .is_some_and(|p| p.len() == 1 && p.as_bytes()[0].is_ascii_digit())
    };
    partition.starts_with("aws")
        && partition
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && region_ok
        && (account.is_empty()
            || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())))
        && arn.len() <= DESTINATION_MAX_LEN
}

/// `ValidationException` with AWS's "N validation error(s) detected" text.
fn validation(errors: Vec<String>) -> AwsError {
    let n = errors.len();
    AwsError::bad_request(
        "ValidationException",
        format!(
            "{n} validation error{} detected: {}",
            if n == 1 { "" } else { "s" },
            errors.join("; ")
        ),
    )
}

/// The fields of a Put/Update request, checked against the model's constraints.
struct Request {
    maximum_retry_attempts: Option<u32>,
    maximum_event_age: Option<u32>,
    /// `Some(None)` when the request names the key without a destination.
    on_success: Option<Option<String>>,
    on_failure: Option<Option<String>>,
    has_destination_config: bool,
}

impl Request {
    fn parse(body: &Value) -> Result<Request, AwsError> {
        let mut errors = Vec::new();
        let int = |key: &str| -> Result<Option<i64>, AwsError> {
            match body.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                    AwsError::bad_request(
                        "InvalidRequestContentException",
                        format!("Could not parse request body into json: {key} must be an integer"),
                    )
                }),
            }
        };
        let retries = int("MaximumRetryAttempts")?;
        let age = int("MaximumEventAgeInSeconds")?;
        if let Some(n) = retries {
            if n > RETRY_ATTEMPTS_MAX {
                errors.push(format!("Value '{n}' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to {RETRY_ATTEMPTS_MAX}"));
            } else if n < 0 {
                errors.push(format!("Value '{n}' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value greater than or equal to 0"));
            }
        }
        if let Some(n) = age {
            if n > EVENT_AGE_RANGE.1 {
                errors.push(format!("Value '{n}' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value less than or equal to {}", EVENT_AGE_RANGE.1));
            } else if n < EVENT_AGE_RANGE.0 {
                errors.push(format!("Value '{n}' at 'maximumEventAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to {}", EVENT_AGE_RANGE.0));
            }
        }
        let destination_config = body.get("DestinationConfig").filter(|v| !v.is_null());
        let mut destination = |key: &str, field: &str| -> Option<Option<String>> {
            let entry = destination_config?.get(key).filter(|v| !v.is_null())?;
            let arn = entry
                .get("Destination")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
                .map(str::to_owned);
            if let Some(a) = &arn {
                if !destination_pattern_ok(a) {
                    errors.push(format!(
                        "Value '{a}' at 'destinationConfig.{field}.destination' failed to satisfy constraint: Member must satisfy regular expression pattern: $|kafka://([^.]([a-zA-Z0-9\\-_.]{{0,248}}))|arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}})?:(\\d{{12}})?:(.*)"
                    ));
                }
            }
            Some(arn)
        };
        let on_success = destination("OnSuccess", "onSuccess");
        let on_failure = destination("OnFailure", "onFailure");
        if !errors.is_empty() {
            return Err(validation(errors));
        }
        Ok(Request {
            maximum_retry_attempts: retries.map(|n| n as u32),
            maximum_event_age: age.map(|n| n as u32),
            on_success,
            on_failure,
            has_destination_config: destination_config.is_some(),
        })
    }

    fn is_empty(&self) -> bool {
        self.maximum_retry_attempts.is_none()
            && self.maximum_event_age.is_none()
            && !self.has_destination_config
    }
}

impl LambdaService {
    /// Runs `call` if it is one of the five event invoke config operations.
    pub(crate) async fn invoke_config_operation(
        &self,
        call: &Call,
        body: &Value,
    ) -> Option<Answer> {
        let answer = match call.name {
            "PutFunctionEventInvokeConfig" => self.put_event_invoke_config(call, body, false),
            "UpdateFunctionEventInvokeConfig" => self.put_event_invoke_config(call, body, true),
            "GetFunctionEventInvokeConfig" => self.get_event_invoke_config(call),
            "DeleteFunctionEventInvokeConfig" => self.delete_event_invoke_config(call),
            "ListFunctionEventInvokeConfigs" => self.list_event_invoke_configs(call),
            _ => return None,
        };
        Some(answer)
    }

    /// The function name and qualifier (`$LATEST` when none) a call is about, and
    /// whether that function (version, alias) exists.
    fn invoke_config_target(&self, call: &Call) -> (String, String, bool) {
        let (name, inline) = split_function(call.label("FunctionName"));
        let qualifier = call.query("Qualifier").or(inline).unwrap_or("$LATEST");
        let exists = self.has_qualifier(name, qualifier);
        (name.to_owned(), qualifier.to_owned(), exists)
    }

    fn no_config(&self, name: &str, qualifier: &str) -> AwsError {
        AwsError::not_found(
            "ResourceNotFoundException",
            format!(
                "The function {}:{qualifier} doesn't have an EventInvokeConfig",
                self.function_arn(name)
            ),
        )
    }

    fn function_does_not_exist() -> AwsError {
        AwsError::not_found("ResourceNotFoundException", "The function doesn't exist.")
    }

    /// Put (`merge` false: replaces the whole configuration) and Update (`merge`
    /// true: changes only the fields given; a given `OnSuccess`/`OnFailure` replaces
    /// that destination, `{}` removes it).
    fn put_event_invoke_config(&self, call: &Call, body: &Value, merge: bool) -> Answer {
        let request = Request::parse(body)?;
        if request.is_empty() {
            return Err(protocol_invalid(
                "You must specify at least one of error handling or destination setting.",
            ));
        }
        let (name, qualifier, exists) = self.invoke_config_target(call);
        if !exists {
            return Err(Self::function_does_not_exist());
        }
        let existing = self
            .invoke_configs
            .get(&name, &qualifier)
            .map_err(internal)?;
        let mut config = match (merge, existing) {
            (true, Some(old)) => old,
            (true, None) => return Err(self.no_config(&name, &qualifier)),
            (false, _) => StoredConfig {
                function: name.clone(),
                qualifier: qualifier.clone(),
                maximum_retry_attempts: None,
                maximum_event_age: None,
                on_success: None,
                on_failure: None,
                last_modified_ms: 0,
            },
        };
        if let Some(n) = request.maximum_retry_attempts {
            config.maximum_retry_attempts = Some(n);
        }
        if let Some(n) = request.maximum_event_age {
            config.maximum_event_age = Some(n);
        }
        if let Some(d) = request.on_success {
            config.on_success = d;
        }
        if let Some(d) = request.on_failure {
            config.on_failure = d;
        }
        self.check_destinations(&name, &config)?;
        config.last_modified_ms = self.clock.now_millis();
        self.invoke_configs.put(&config, false).map_err(internal)?;
        Ok((StatusCode::OK, self.config_document(&config)))
    }

    /// Lambda's checks of a destination beyond the ARN pattern: the service must be
    /// one Lambda delivers to (S3 on failure only), a function must exist and may not
    /// be the function itself.
    fn check_destinations(&self, name: &str, config: &StoredConfig) -> Result<(), AwsError> {
        let supported = |arn: &str, on_failure: bool| {
            Arn::parse(arn).is_some_and(|a| match a.service.as_str() {
                "sqs" | "sns" | "lambda" | "events" => true,
                "s3" => on_failure,
                _ => false,
            })
        };
        let ok = config
            .on_success
            .as_deref()
            .is_none_or(|a| supported(a, false))
            && config
                .on_failure
                .as_deref()
                .is_none_or(|a| supported(a, true));
        if !ok {
            let part = |kind: &str, arn: &Option<String>| match arn {
                Some(a) => format!("{kind}(destination={a})"),
                None => "null".to_owned(),
            };
            return Err(protocol_invalid(format!(
                "The provided destination config DestinationConfig(onSuccess={}, onFailure={}) is invalid.",
                part("OnSuccess", &config.on_success),
                part("OnFailure", &config.on_failure),
            )));
        }
        for arn in [&config.on_success, &config.on_failure]
            .into_iter()
            .flatten()
        {
            let Some(parsed) = Arn::parse(arn).filter(|a| a.service == "lambda") else {
                continue;
            };
            let Some(target) = crate::events::function_name(&parsed) else {
                return Err(protocol_invalid(format!(
                    "The destination ARN {arn} is invalid."
                )));
            };
            if target == name {
                return Err(protocol_invalid(
                    "You can't specify the function as a destination for itself.",
                ));
            }
            if self.registry.get(target).is_none() {
                return Err(protocol_invalid(format!(
                    "The destination ARN {arn} is invalid."
                )));
            }
        }
        Ok(())
    }

    fn get_event_invoke_config(&self, call: &Call) -> Answer {
        let (name, qualifier, _) = self.invoke_config_target(call);
        match self
            .invoke_configs
            .get(&name, &qualifier)
            .map_err(internal)?
        {
            Some(config) => Ok((StatusCode::OK, self.config_document(&config))),
            None => Err(self.no_config(&name, &qualifier)),
        }
    }

    fn delete_event_invoke_config(&self, call: &Call) -> Answer {
        let (name, qualifier, _) = self.invoke_config_target(call);
        if self
            .invoke_configs
            .delete(&name, &qualifier)
            .map_err(internal)?
        {
            Ok((StatusCode::NO_CONTENT, Value::Null))
        } else {
            Err(self.no_config(&name, &qualifier))
        }
    }

    fn list_event_invoke_configs(&self, call: &Call) -> Answer {
        let max_items = match call.query("MaxItems") {
            None => LIST_MAX_ITEMS,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=LIST_MAX_ITEMS as i64).contains(&n) => n as usize,
                Ok(n) if n > LIST_MAX_ITEMS as i64 => return Err(validation(vec![format!(
                    "Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to {LIST_MAX_ITEMS}"
                )])),
                _ => return Err(validation(vec![format!(
                    "Value '{v}' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"
                )])),
            },
        };
        let (name, _, _) = self.invoke_config_target(call);
        if self.resolve(&name, None).is_err() {
            return Err(Self::function_does_not_exist());
        }
        let all = self.invoke_configs.list(&name).map_err(internal)?;
        let start = match call.query("Marker") {
            None => 0,
            Some(m) => all
                .iter()
                .position(|c| c.qualifier.as_str() > m)
                .unwrap_or(all.len()),
        };
        let page: Vec<Value> = all[start..]
            .iter()
            .take(max_items)
            .map(|c| self.config_document(c))
            .collect();
        let mut doc = json!({ "FunctionEventInvokeConfigs": page });
        if start + max_items < all.len() {
            doc["NextMarker"] = all[start + max_items - 1].qualifier.clone().into();
        }
        Ok((StatusCode::OK, doc))
    }

    /// Lambda's `FunctionEventInvokeConfig` document: `LastModified` in epoch
    /// seconds, the qualified function ARN, only the limits that are set, and
    /// `DestinationConfig` with both keys (empty objects for no destination).
    fn config_document(&self, config: &StoredConfig) -> Value {
        let mut doc = Map::new();
        doc.insert(
            "LastModified".into(),
            json!(config.last_modified_ms as f64 / 1000.0),
        );
        doc.insert(
            "FunctionArn".into(),
            format!(
                "{}:{}",
                self.function_arn(&config.function),
                config.qualifier
            )
            .into(),
        );
        if let Some(n) = config.maximum_retry_attempts {
            doc.insert("MaximumRetryAttempts".into(), n.into());
        }
        if let Some(n) = config.maximum_event_age {
            doc.insert("MaximumEventAgeInSeconds".into(), n.into());
        }
        let destination = |arn: &Option<String>| match arn {
            Some(a) => json!({ "Destination": a }),
            None => json!({}),
        };
        doc.insert(
            "DestinationConfig".into(),
            json!({
                "OnSuccess": destination(&config.on_success),
                "OnFailure": destination(&config.on_failure),
            }),
        );
        Value::Object(doc)
    }

    /// How the async worker treats events of `function` (`name` for `$LATEST`, or
    /// `name:version`: that version's configuration), with Lambda's defaults for
    /// what is not set.
    pub(crate) fn async_policy(&self, function: &str) -> AsyncPolicy {
        let (name, version) = split_function(function);
        let config = self
            .invoke_configs
            .get(name, version.unwrap_or("$LATEST"))
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "failed to read the event invoke config");
                None
            });
        let config = config.as_ref();
        AsyncPolicy {
            maximum_retry_attempts: config
                .and_then(|c| c.maximum_retry_attempts)
                .unwrap_or(MAX_RETRY_ATTEMPTS),
            maximum_event_age: config
                .and_then(|c| c.maximum_event_age)
                .map(|s| Duration::from_secs(s.into()))
                .unwrap_or(MAX_EVENT_AGE),
            on_success: config.and_then(|c| c.on_success.clone()),
            on_failure: config.and_then(|c| c.on_failure.clone()),
        }
    }

    /// The function's dead-letter queue: `DeadLetterConfig.TargetArn` of its
    /// configuration (an SQS queue or SNS topic ARN), set through CreateFunction or
    /// UpdateFunctionConfiguration. An async event that failed all its attempts, or
    /// grew too old, goes there when the function has no on-failure destination.
    /// `function` may carry a version (`name:3`), whose configuration then counts.
    pub fn dead_letter_target(&self, function: &str) -> Option<String> {
        let entry = match split_function(function) {
            (name, None | Some("$LATEST")) => self.registry.get(name),
            (name, Some(version)) => self
                .registry
                .version(name, version)
                .or_else(|| self.registry.get(name)),
        }?;
        entry.decl.dead_letter_target.clone()
    }

    /// Applies the asynchronous invocation configurations declared in `slcl.toml`
    /// to each function's `$LATEST`, replacing those declared at an earlier start
    /// (configurations made through the API are kept unless a declaration replaces
    /// them). Checks them as PutFunctionEventInvokeConfig would.
    pub fn declare_event_invoke_configs(
        &self,
        decls: &[EventInvokeConfigDecl],
    ) -> Result<(), LambdaError> {
        let now = self.clock.now_millis();
        let mut configs = Vec::new();
        for d in decls {
            let invalid = |message: String| {
                LambdaError::InvalidEventInvokeConfig(format!(
                    "functions.{}: {message}",
                    d.function
                ))
            };
            let body = json!({
                "MaximumRetryAttempts": d.maximum_retry_attempts,
                "MaximumEventAgeInSeconds": d.maximum_event_age,
                "DestinationConfig": {
                    "OnSuccess": { "Destination": d.on_success },
                    "OnFailure": { "Destination": d.on_failure },
                },
            });
            let request = Request::parse(&body).map_err(|e| invalid(e.message))?;
            if self.registry.get(&d.function).is_none() {
                return Err(invalid("the function does not exist".into()));
            }
            let config = StoredConfig {
                function: d.function.clone(),
                qualifier: "$LATEST".into(),
                maximum_retry_attempts: request.maximum_retry_attempts,
                maximum_event_age: request.maximum_event_age,
                on_success: request.on_success.flatten(),
                on_failure: request.on_failure.flatten(),
                last_modified_ms: now,
            };
            self.check_destinations(&d.function, &config)
                .map_err(|e| invalid(e.message))?;
            configs.push(config);
        }
        self.invoke_configs
            .replace_declared(&configs)
            .map_err(|e| LambdaError::State(format!("{e:#}")))
    }

    /// Forgets configurations made through the API (declared ones stay) and the
    /// kept attempts of queued events.
    pub(crate) fn reset_invoke_configs(&self) -> Result<(), LambdaError> {
        self.invoke_configs
            .reset()
            .map_err(|e| LambdaError::State(format!("{e:#}")))
    }
}

fn protocol_invalid(message: impl Into<String>) -> AwsError {
    crate::protocol::invalid_parameter(message)
}

fn internal(e: anyhow::Error) -> AwsError {
    AwsError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ServiceException",
        format!("{e:#}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_patterns() {
        assert!(destination_pattern_ok(
            "arn:aws:sqs:us-east-1:000000000000:q"
        ));
        assert!(destination_pattern_ok("arn:aws:s3:::bucket"));
        assert!(destination_pattern_ok(
            "arn:aws:lambda:eu-west-2:123456789012:function:f:$LATEST"
        ));
        assert!(!destination_pattern_ok("not-an-arn"));
        assert!(!destination_pattern_ok("arn:aws:sqs:us-east-1:123:q"));
        assert!(!destination_pattern_ok("arn:aws:sqs:useast:000000000000:q"));
    }

    #[test]
    fn function_names() {
        assert_eq!(split_function("f"), ("f", None));
        assert_eq!(split_function("f:live"), ("f", Some("live")));
        assert_eq!(
            split_function("arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"),
            ("f", Some("$LATEST"))
        );
        assert_eq!(split_function("000000000000:function:f"), ("f", None));
    }
}
