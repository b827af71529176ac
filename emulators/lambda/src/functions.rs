//! The function control plane: CreateFunction, UpdateFunctionCode,
//! UpdateFunctionConfiguration, DeleteFunction, versions, aliases, reserved
//! concurrency, resource policies, tags and account settings.
//!
//! A deployment package is a ZIP holding the function's component; `Handler` names the
//! `.wasm` inside it and defaults to the only one. Packages and the components taken
//! out of them are kept as files named by content (see `catalog.rs`); what a function
//! is made of is in SQLite, so functions created through the API come back after a
//! restart. Functions declared in `slcl.toml` (or in code) are the same kind of thing:
//! the API lists, updates, versions and deletes them too, and the next start declares
//! them again from the file.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http::StatusCode;
use serde_json::{json, Value};
use slcl_core::AwsError;

use crate::catalog::{Alias, Origin};
use crate::protocol::{self, invalid_parameter, Call};
use crate::state::{FunctionDecl, FunctionEntry, Package};
use crate::LambdaService;

/// What an operation answers: a status and a JSON document (ignored for 204).
pub(crate) type Answer = Result<(StatusCode, Value), AwsError>;

/// Runtimes that mean "a WebAssembly component" (AWS's custom-runtime identifiers).
const RUNTIMES: &[&str] = &["provided.al2023", "provided.al2", "provided"];
/// Largest unzipped deployment package, Lambda's quota (250 MB).
const MAX_UNZIPPED: u64 = 262_144_000;
/// Largest total size of a function's environment variables, Lambda's quota (4 KB).
const MAX_ENVIRONMENT: usize = 4096;
/// Environment variables Lambda sets itself and does not let a function override.
const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];
/// Lambda's default account concurrency limit.
pub const DEFAULT_ACCOUNT_CONCURRENCY: u32 = 1000;
/// Concurrency Lambda always leaves unreserved.
const MIN_UNRESERVED: u32 = 100;

/// `ResourceConflictException` (409).
fn conflict(message: impl Into<String>) -> AwsError {
    AwsError::new(StatusCode::CONFLICT, "ResourceConflictException", message)
}

/// `ResourceNotFoundException` (404).
fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::not_found("ResourceNotFoundException", message)
}

/// `PreconditionFailedException` (412) for a stale `RevisionId`.
fn stale_revision() -> AwsError {
    AwsError::new(
        StatusCode::PRECONDITION_FAILED,
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
    )
}

/// A model constraint violation, worded as Lambda's `ValidationException`.
fn validation(field: &str, value: impl std::fmt::Display, constraint: &str) -> AwsError {
    AwsError::bad_request(
        "ValidationException",
        format!("1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"),
    )
}

fn internal(e: anyhow::Error) -> AwsError {
    AwsError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ServiceException",
        format!("{e:#}"),
    )
}

/// Splits a `FunctionName` (name, ARN or partial ARN, maybe `:qualifier`) into the
/// name and the qualifier it carries.
pub(crate) fn split_function(function: &str) -> (&str, Option<&str>) {
    let rest = match function.find("function:") {
        Some(i) if function.starts_with("arn:") || function.contains(":function:") => {
            &function[i + "function:".len()..]
        }
        _ => function,
    };
    match rest.split_once(':') {
        Some((n, q)) => (n, Some(q)),
        None => (rest, None),
    }
}

/// Lambda's timestamp format (`2024-01-02T03:04:05.678+0000`).
pub(crate) fn lambda_time(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]+0000"
        ))
        .unwrap_or_default()
}

fn from_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn to_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

/// Reads an optional string member.
fn string(body: &Value, key: &str) -> Result<Option<String>, AwsError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(AwsError::bad_request(
            "InvalidRequestContentException",
            format!(
                "Could not parse request body into json: `{key}` must be a string, not {other}"
            ),
        )),
    }
}

/// Reads an optional integer member.
fn integer(body: &Value, key: &str) -> Result<Option<i64>, AwsError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            AwsError::bad_request(
                "InvalidRequestContentException",
                format!(
                    "Could not parse request body into json: `{key}` must be an integer, not {v}"
                ),
            )
        }),
    }
}

/// Reads an optional map of strings (`Environment.Variables`, `Tags`).
fn string_map(
    value: Option<&Value>,
    what: &str,
) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(AwsError::bad_request(
                    "InvalidRequestContentException",
                    format!("Could not parse request body into json: {what} `{k}` must be a string, not {other}"),
                )),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(other) => Err(AwsError::bad_request(
            "InvalidRequestContentException",
            format!("Could not parse request body into json: {what} must be an object, not {other}"),
        )),
    }
}

fn check_memory(mb: i64) -> Result<u32, AwsError> {
    if mb < 128 {
        return Err(validation(
            "memorySize",
            mb,
            "Member must have value greater than or equal to 128",
        ));
    }
    if mb > 10240 {
        return Err(validation(
            "memorySize",
            mb,
            "Member must have value less than or equal to 10240",
        ));
    }
    Ok(mb as u32)
}

fn check_timeout(s: i64) -> Result<u32, AwsError> {
    if s < 1 {
        return Err(validation(
            "timeout",
            s,
            "Member must have value greater than or equal to 1",
        ));
    }
    if s > 900 {
        return Err(validation(
            "timeout",
            s,
            "Member must have value less than or equal to 900",
        ));
    }
    Ok(s as u32)
}

/// The rules the API applies to a function's settings, for a function declared in
/// `slcl.toml` or in code: its environment may not set Lambda's reserved variables.
pub(crate) fn check_declared(decl: &FunctionDecl) -> Result<(), crate::LambdaError> {
    check_environment(&decl.env).map_err(|e| crate::LambdaError::InvalidFunction {
        name: decl.name.clone(),
        message: e.message,
    })
}

fn check_environment(env: &BTreeMap<String, String>) -> Result<(), AwsError> {
    let reserved: Vec<&str> = env
        .keys()
        .map(String::as_str)
        .filter(|k| RESERVED_ENV.contains(k))
        .collect();
    if !reserved.is_empty() {
        return Err(invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    if let Some(bad) = env.keys().find(|k| {
        k.is_empty()
            || !k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    }) {
        return Err(validation(
            "environment.variables",
            bad,
            "Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+",
        ));
    }
    let size: usize = env.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_ENVIRONMENT {
        return Err(invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {}",
            serde_json::to_string(env).unwrap_or_default()
        )));
    }
    Ok(())
}

fn check_runtime(runtime: &str) -> Result<(), AwsError> {
    if RUNTIMES.contains(&runtime) {
        return Ok(());
    }
    Err(invalid_parameter(format!(
        "Runtime `{runtime}` is not supported by slcl: functions are WebAssembly components, declared with a custom runtime ({})",
        RUNTIMES.join(", ")
    )))
}

fn check_name(name: &str) -> Result<(), AwsError> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(validation(
            "functionName",
            name,
            "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?",
        ));
    }
    Ok(())
}

/// What a deployment package holds for slcl: the component and its path inside.
struct Unpacked {
    wasm: Vec<u8>,
    handler: String,
}

/// Opens a deployment package and takes out the component `handler` names (or the
/// only one), checking it is a component. A `handler` kept from earlier code
/// (`strict` false) gives way to the only component of a new package.
fn unpack(zip_bytes: &[u8], handler: Option<&str>, strict: bool) -> Result<Unpacked, AwsError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).map_err(|_| {
        invalid_parameter(
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
        )
    })?;
    let mut total: u64 = 0;
    let mut components = Vec::new();
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|_| {
            invalid_parameter(
                "Could not unzip uploaded file. Please check your file, then try to upload again.",
            )
        })?;
        let name = entry.name().to_owned();
        if entry.enclosed_name().is_none() || name.split(['/', '\\']).any(|p| p == "..") {
            return Err(invalid_parameter(format!(
                "Could not unzip uploaded file: the entry `{name}` would be written outside the package's root."
            )));
        }
        total = total.saturating_add(entry.size());
        if entry.is_file() && name.ends_with(".wasm") {
            components.push(name);
        }
    }
    if total > MAX_UNZIPPED {
        return Err(invalid_parameter(format!(
            "Unzipped size must be smaller than {MAX_UNZIPPED} bytes"
        )));
    }
    let trimmed = |s: &str| s.trim_start_matches("./").to_owned();
    let chosen = match handler.filter(|h| !h.is_empty()) {
        Some(h) if components.iter().any(|c| trimmed(c) == trimmed(h)) => components
            .iter()
            .find(|c| trimmed(c) == trimmed(h))
            .cloned(),
        Some(h) if h.ends_with(".wasm") && (strict || components.len() != 1) => {
            return Err(invalid_parameter(format!(
                "The handler `{h}` names no file in the deployment package (its components: {}).",
                if components.is_empty() { "none".to_owned() } else { components.join(", ") }
            )))
        }
        _ if components.len() == 1 => components.first().cloned(),
        _ if components.is_empty() => {
            return Err(invalid_parameter(
                "The deployment package holds no .wasm file: slcl runs functions built as WebAssembly components (for example with `cargo build --target wasm32-wasip2`).",
            ))
        }
        _ => {
            return Err(invalid_parameter(format!(
                "The deployment package holds several components ({}); set Handler to the one to run.",
                components.join(", ")
            )))
        }
    };
    let chosen = chosen.unwrap_or_default();
    let mut entry = archive.by_name(&chosen).map_err(|_| {
        invalid_parameter(
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
        )
    })?;
    let mut wasm = Vec::with_capacity(entry.size().min(MAX_UNZIPPED) as usize);
    (&mut entry)
        .take(MAX_UNZIPPED + 1)
        .read_to_end(&mut wasm)
        .map_err(|e| {
            invalid_parameter(format!(
                "Could not unzip `{chosen}` from the uploaded file: {e}"
            ))
        })?;
    check_component(&wasm, &chosen)?;
    Ok(Unpacked {
        wasm,
        handler: trimmed(&chosen),
    })
}

/// Tells a component from a core module or something that is not wasm at all.
fn check_component(bytes: &[u8], name: &str) -> Result<(), AwsError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(invalid_parameter(format!(
            "The handler `{name}` is not a WebAssembly file."
        )));
    }
    if bytes[4..8] == [1, 0, 0, 0] {
        return Err(invalid_parameter(format!(
            "The handler `{name}` is a core WebAssembly module, not a component: build it for wasm32-wasip2 (or wrap it with `wasm-tools component new`)."
        )));
    }
    Ok(())
}

/// A resolved `FunctionName` + `Qualifier`.
pub(crate) struct Target {
    /// The function name.
    pub name: String,
    /// The entry that runs (`$LATEST` or a version).
    pub entry: Arc<FunctionEntry>,
    /// The alias the qualifier named, if it was one.
    pub alias: Option<String>,
}

impl LambdaService {
    /// Resolves `function` and `qualifier` to what runs: `$LATEST`, a version, or an
    /// alias's version (chosen by its routing weights, so each call may differ).
    pub(crate) async fn target(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<Target, AwsError> {
        self.target_routed(function, qualifier, true).await
    }

    /// What GetFunction and GetFunctionConfiguration describe: as [`Self::target`],
    /// but an alias is its own `FunctionVersion`, whatever its routing weights.
    pub(crate) async fn described_target(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<Target, AwsError> {
        self.target_routed(function, qualifier, false).await
    }

    async fn target_routed(
        &self,
        function: &str,
        qualifier: Option<&str>,
        route: bool,
    ) -> Result<Target, AwsError> {
        let (name, inline) = split_function(function);
        let qualifier = match (qualifier, inline) {
            (Some(q), Some(i)) if q != i => {
                return Err(invalid_parameter(
                    "The derived qualifier from the function name does not match the specified qualifier.",
                ))
            }
            (q, i) => q.or(i),
        };
        let arn = self.function_arn(name);
        let latest = self
            .registry
            .get(name)
            .ok_or_else(|| protocol::function_not_found(&arn))?;
        let (version, alias) = match qualifier {
            None | Some("$LATEST") => {
                return Ok(Target {
                    name: name.to_owned(),
                    entry: latest,
                    alias: None,
                })
            }
            Some(q) if q.chars().all(|c| c.is_ascii_digit()) => (q.to_owned(), None),
            Some(q) => {
                let alias = self
                    .catalog
                    .alias(name, q)
                    .map_err(internal)?
                    .ok_or_else(|| protocol::function_not_found(&format!("{arn}:{q}")))?;
                let version = if route {
                    pick_version(&alias)
                } else {
                    alias.function_version.clone()
                };
                (version, Some(q.to_owned()))
            }
        };
        let entry = if version == "$LATEST" {
            latest
        } else {
            self.version_entry(name, &version).await?
        };
        Ok(Target {
            name: name.to_owned(),
            entry,
            alias,
        })
    }

    /// The function name in a call's `FunctionName` (any qualifier dropped), when that
    /// function exists; `ResourceNotFoundException` otherwise.
    fn existing_name<'c>(&self, call: &'c Call) -> Result<&'c str, AwsError> {
        let (name, _) = split_function(call.label("FunctionName"));
        if self.registry.get(name).is_none() {
            return Err(protocol::function_not_found(&self.function_arn(name)));
        }
        Ok(name)
    }

    /// Whether function `name` has `qualifier`: `$LATEST`, a published version or an
    /// alias.
    pub(crate) fn has_qualifier(&self, name: &str, qualifier: &str) -> bool {
        if self.registry.get(name).is_none() {
            return false;
        }
        match qualifier {
            "$LATEST" => true,
            q if q.chars().all(|c| c.is_ascii_digit()) => q
                .parse()
                .ok()
                .and_then(|n| self.catalog.version(name, n).ok().flatten())
                .is_some(),
            q => self.catalog.alias(name, q).ok().flatten().is_some(),
        }
    }

    /// The loaded entry of a published version, loading it on first use.
    pub(crate) async fn version_entry(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Arc<FunctionEntry>, AwsError> {
        if let Some(e) = self.registry.version(name, version) {
            return Ok(e);
        }
        let arn = format!("{}:{version}", self.function_arn(name));
        let number: u64 = version
            .parse()
            .map_err(|_| protocol::function_not_found(&arn))?;
        let stored = self
            .catalog
            .version(name, number)
            .map_err(internal)?
            .ok_or_else(|| protocol::function_not_found(&arn))?;
        let function = self.load_spec(&stored.decl, &arn, version).await?;
        Ok(self.registry.insert(FunctionEntry {
            decl: stored.decl,
            version: version.to_owned(),
            arn,
            function,
            last_modified: from_ms(stored.last_modified_ms),
            revision_id: stored.revision_id,
        }))
    }

    /// Loads the code of `decl` as `version` (a native function's handler, or its
    /// component: compiled once per content, so loading a version is cheap).
    async fn load_spec(
        &self,
        decl: &FunctionDecl,
        arn: &str,
        version: &str,
    ) -> Result<Arc<slcl_runtime::Function>, AwsError> {
        let spec = decl.spec(arn, version);
        let native = self
            .natives
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&decl.name)
            .cloned();
        match native {
            Some(handler) => Ok(self.runtime.load_native(spec, handler)),
            None => self.runtime.load(spec).await.map_err(|e| {
                AwsError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "ServiceException",
                    e.to_string(),
                )
            }),
        }
    }

    /// The entry an async queue row names: `name` (`$LATEST`) or `name:N`.
    pub(crate) async fn queued_entry(&self, function: &str) -> Option<Arc<FunctionEntry>> {
        match split_function(function) {
            (name, None | Some("$LATEST")) => self.registry.get(name),
            (name, Some(version)) => self.version_entry(name, version).await.ok(),
        }
    }

    /// Loads `decl` as the function's `$LATEST` and records it durably.
    pub(crate) async fn install(
        &self,
        decl: FunctionDecl,
        origin: Origin,
    ) -> Result<Arc<FunctionEntry>, crate::LambdaError> {
        let arn = self.function_arn(&decl.name);
        let function = self
            .runtime
            .load(decl.spec(&arn, "$LATEST"))
            .await
            .map_err(|source| crate::LambdaError::Load {
                name: decl.name.clone(),
                source,
            })?;
        // A function uploaded through the API stays one when it is reloaded.
        let origin = if decl.package.is_some() {
            Origin::Api
        } else {
            origin
        };
        Ok(self.keep(decl, function, origin))
    }

    /// Records `$LATEST` of `decl.name` (durably) and makes it the one that runs.
    pub(crate) fn keep(
        &self,
        decl: FunctionDecl,
        function: Arc<slcl_runtime::Function>,
        origin: Origin,
    ) -> Arc<FunctionEntry> {
        let now = self.clock.now();
        let revision_id = slcl_core::ids::uuid();
        if let Err(e) = self
            .catalog
            .upsert_function(origin, &decl, &revision_id, to_ms(now))
        {
            tracing::error!(function = %decl.name, error = %format!("{e:#}"), "could not store the function");
        }
        let entry = self.registry.insert(FunctionEntry {
            arn: function.spec().arn.clone(),
            decl,
            version: "$LATEST".into(),
            function,
            last_modified: now,
            revision_id,
        });
        // Events queued for this function before it was (re)loaded may now run.
        self.wake.notify_one();
        entry
    }

    /// Loads the functions created through the API by a previous run.
    pub async fn restore(&self) -> Result<(), crate::LambdaError> {
        let names = self
            .catalog
            .api_functions()
            .map_err(|e| crate::LambdaError::State(format!("{e:#}")))?;
        for name in names {
            if self.registry.get(&name).is_some() {
                continue;
            }
            let Ok(Some(stored)) = self.catalog.function(&name) else {
                continue;
            };
            let arn = self.function_arn(&name);
            match self.runtime.load(stored.decl.spec(&arn, "$LATEST")).await {
                Ok(function) => {
                    self.registry.insert(FunctionEntry {
                        arn,
                        decl: stored.decl,
                        version: "$LATEST".into(),
                        function,
                        last_modified: from_ms(stored.last_modified_ms),
                        revision_id: stored.revision_id,
                    });
                }
                Err(e) => {
                    tracing::error!(function = %name, error = %e, "could not load a stored function")
                }
            }
        }
        for (name, reserved) in self
            .catalog
            .reserved_concurrency()
            .map_err(|e| crate::LambdaError::State(format!("{e:#}")))?
        {
            self.concurrency.reserve(&name, Some(reserved));
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Runs `call` if it is a function control-plane operation.
    pub(crate) async fn function_operation(&self, call: &Call, body: &Value) -> Option<Answer> {
        Some(match call.name {
            "CreateFunction" => self.create_function(body).await,
            "UpdateFunctionCode" => self.update_function_code(call, body).await,
            "UpdateFunctionConfiguration" => self.update_function_configuration(call, body).await,
            "DeleteFunction" => self.delete_function(call).await,
            "PublishVersion" => self.publish_version(call, body).await,
            "ListVersionsByFunction" => self.list_versions(call).await,
            "CreateAlias" => self.put_alias(call, body, true).await,
            "UpdateAlias" => self.put_alias(call, body, false).await,
            "GetAlias" => self.get_alias(call),
            "DeleteAlias" => self.delete_alias(call),
            "ListAliases" => self.list_aliases(call),
            "PutFunctionConcurrency" => self.put_concurrency(call, body),
            "GetFunctionConcurrency" => self.get_concurrency(call),
            "DeleteFunctionConcurrency" => self.delete_concurrency(call),
            "AddPermission" => self.add_permission(call, body).await,
            "RemovePermission" => self.remove_permission(call).await,
            "GetPolicy" => self.get_policy(call).await,
            "TagResource" => self.tag_resource(call, body),
            "UntagResource" => self.untag_resource(call),
            "ListTags" => self.list_tags(call),
            "GetAccountSettings" => Ok(self.account_settings()),
            _ => return None,
        })
    }

    /// Takes the code of a CreateFunction / UpdateFunctionCode request: `ZipFile`
    /// (base64) or `S3Bucket` + `S3Key` (+ `S3ObjectVersion`).
    async fn package(&self, code: &Value) -> Result<Bytes, AwsError> {
        if let Some(zip) = string(code, "ZipFile")? {
            return base64::engine::general_purpose::STANDARD
                .decode(zip.trim())
                .map(Bytes::from)
                .map_err(|_| {
                    AwsError::bad_request(
                        "InvalidRequestContentException",
                        "Could not parse request body into json: ZipFile is not valid base64",
                    )
                });
        }
        if string(code, "ImageUri")?.is_some() {
            return Err(invalid_parameter(
                "slcl runs Zip packages holding WebAssembly components; container images (ImageUri) are not supported.",
            ));
        }
        match (string(code, "S3Bucket")?, string(code, "S3Key")?) {
            (Some(bucket), Some(key)) => {
                let version = string(code, "S3ObjectVersion")?;
                self.fetch_from_s3(&bucket, &key, version.as_deref()).await
            }
            _ => Err(invalid_parameter(
                "Please provide a source for function code: ZipFile, or S3Bucket and S3Key.",
            )),
        }
    }

    /// Reads a deployment package from S3 through the stack's own dispatcher.
    async fn fetch_from_s3(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> Result<Bytes, AwsError> {
        let dispatcher = self
            .dispatcher
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| {
                invalid_parameter("slcl cannot read from S3 here: no dispatcher is wired")
            })?;
        let encode = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
                .replace("%2F", "/")
                .replace("%2D", "-")
                .replace("%2E", ".")
                .replace("%5F", "_")
        };
        let mut uri = format!("/{}/{}", encode(bucket), encode(key));
        if let Some(v) = version {
            uri.push_str(&format!("?versionId={}", encode(v)));
        }
        let req = http::Request::builder()
            .method("GET")
            .uri(uri)
            .header(
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=lambda/20150331/{}/s3/aws4_request, SignedHeaders=host, Signature=0",
                    self.stack.region
                ),
            )
            .body(slcl_core::body::empty())
            .map_err(|e| internal(e.into()))?;
        let resp = dispatcher.dispatch(req, Default::default()).await;
        let status = resp.status();
        let body = slcl_core::body::collect(resp.into_body(), 70 * 1024 * 1024)
            .await
            .map_err(|e| invalid_parameter(format!("Error occurred while GetObject. {e}")))?;
        if status.is_success() {
            return Ok(body);
        }
        let text = String::from_utf8_lossy(&body);
        let tag = |t: &str| {
            text.split(&format!("<{t}>"))
                .nth(1)
                .and_then(|r| r.split(&format!("</{t}>")).next())
                .unwrap_or_default()
                .to_owned()
        };
        Err(invalid_parameter(format!(
            "Error occurred while GetObject. S3 Error Code: {}. S3 Error Message: {}",
            tag("Code"),
            tag("Message")
        )))
    }

    /// Stores a package and its component, loads the component (checking it really
    /// is one) and returns the declaration pointing at it.
    async fn prepare_code(
        &self,
        mut decl: FunctionDecl,
        zip: &[u8],
        handler: Option<&str>,
        strict: bool,
    ) -> Result<(FunctionDecl, Arc<slcl_runtime::Function>), AwsError> {
        let unpacked = unpack(zip, handler, strict)?;
        let stored = |e: anyhow::Error| internal(e.context("storing the deployment package"));
        let zip_path = self.catalog.put_blob(zip, "zip").map_err(stored)?;
        let wasm_path = self
            .catalog
            .put_blob(&unpacked.wasm, "wasm")
            .map_err(stored)?;
        use sha2::Digest as _;
        decl.package = Some(Package {
            sha256: base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(zip)),
            size: zip.len() as u64,
            zip: zip_path,
        });
        decl.handler = unpacked.handler;
        decl.wasm = wasm_path;
        let function = self
            .runtime
            .load(decl.spec(&self.function_arn(&decl.name), "$LATEST"))
            .await
            .map_err(|e| {
                invalid_parameter(format!(
                    "The handler `{}` is not a component slcl can run: {e}",
                    decl.handler
                ))
            })?;
        Ok((decl, function))
    }

    async fn create_function(&self, body: &Value) -> Answer {
        let name = string(body, "FunctionName")?.unwrap_or_default();
        check_name(&name)?;
        if string(body, "PackageType")?.is_some_and(|p| p == "Image") {
            return Err(invalid_parameter(
                "slcl runs Zip packages holding WebAssembly components; PackageType Image is not supported.",
            ));
        }
        let role = string(body, "Role")?.unwrap_or_default();
        if role.is_empty() {
            return Err(invalid_parameter("Role is required."));
        }
        // Lambda also asks for a Handler; slcl defaults it to the package's only
        // component.
        let runtime = string(body, "Runtime")?.ok_or_else(|| {
            invalid_parameter(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
            )
        })?;
        check_runtime(&runtime)?;
        let env = string_map(
            body.pointer("/Environment/Variables"),
            "Environment variable",
        )?
        .unwrap_or_default();
        check_environment(&env)?;
        let tags = string_map(body.get("Tags"), "Tag")?.unwrap_or_default();
        let decl = FunctionDecl {
            name: name.clone(),
            memory_mb: integer(body, "MemorySize")?
                .map(check_memory)
                .transpose()?
                .unwrap_or(128),
            timeout_secs: integer(body, "Timeout")?
                .map(check_timeout)
                .transpose()?
                .unwrap_or(3),
            env,
            description: string(body, "Description")?.unwrap_or_default(),
            runtime,
            role,
            dead_letter_target: string(
                body.get("DeadLetterConfig").unwrap_or(&Value::Null),
                "TargetArn",
            )?,
            ..FunctionDecl::default()
        };
        if self.registry.get(&name).is_some() {
            return Err(conflict(format!("Function already exist: {name}")));
        }
        let code = body.get("Code").cloned().unwrap_or(Value::Null);
        let zip = self.package(&code).await?;
        let handler = string(body, "Handler")?;
        let (decl, function) = self
            .prepare_code(decl, &zip, handler.as_deref(), true)
            .await?;
        let now = self.clock.now();
        let revision_id = slcl_core::ids::uuid();
        let created = self
            .catalog
            .create_function(&decl, &revision_id, to_ms(now), &tags)
            .map_err(internal)?;
        if !created || self.registry.get(&name).is_some() {
            return Err(conflict(format!("Function already exist: {name}")));
        }
        let entry = self.registry.insert(FunctionEntry {
            arn: function.spec().arn.clone(),
            decl,
            version: "$LATEST".into(),
            function,
            last_modified: now,
            revision_id,
        });
        self.wake.notify_one();
        let mut doc = self.configuration(&entry);
        if body.get("Publish").and_then(Value::as_bool) == Some(true) {
            let published = self.publish(&entry, None).await?;
            doc["Version"] = published.version.clone().into();
            doc["FunctionArn"] = published.arn.clone().into();
        }
        doc["State"] = "Pending".into();
        doc["StateReason"] = "The function is being created.".into();
        doc["StateReasonCode"] = "Creating".into();
        if let Some(m) = doc.as_object_mut() {
            m.remove("LastUpdateStatus");
        }
        Ok((StatusCode::CREATED, doc))
    }

    /// The `$LATEST` entry of `FunctionName`, which must carry no qualifier (or
    /// `$LATEST`), checking an optional `RevisionId`.
    fn latest(
        &self,
        function: &str,
        revision: Option<&str>,
    ) -> Result<Arc<FunctionEntry>, AwsError> {
        let (name, qualifier) = split_function(function);
        let arn = self.function_arn(name);
        let entry = self
            .registry
            .get(name)
            .ok_or_else(|| protocol::function_not_found(&arn))?;
        if let Some(q) = qualifier.filter(|q| *q != "$LATEST") {
            return Err(invalid_parameter(format!(
                "Unqualified function name required: the qualifier `{q}` is not allowed here."
            )));
        }
        if revision.is_some_and(|r| r != entry.revision_id) {
            return Err(stale_revision());
        }
        Ok(entry)
    }

    fn in_progress(&self, entry: &FunctionEntry) -> Value {
        let mut doc = self.configuration(entry);
        doc["LastUpdateStatus"] = "InProgress".into();
        doc["LastUpdateStatusReason"] = "The function is being created.".into();
        doc["LastUpdateStatusReasonCode"] = "Creating".into();
        doc
    }

    async fn update_function_code(&self, call: &Call, body: &Value) -> Answer {
        let entry = self.latest(
            call.label("FunctionName"),
            string(body, "RevisionId")?.as_deref(),
        )?;
        if entry.function.is_native() {
            return Err(invalid_parameter(format!(
                "`{}` is a native function registered in code; its code cannot be replaced through the API.",
                entry.decl.name
            )));
        }
        let zip = self.package(body).await?;
        let handler = if entry.decl.handler.is_empty() {
            None
        } else {
            Some(entry.decl.handler.clone())
        };
        let (decl, function) = self
            .prepare_code(entry.decl.clone(), &zip, handler.as_deref(), false)
            .await?;
        if body.get("DryRun").and_then(Value::as_bool) == Some(true) {
            return Ok((StatusCode::OK, self.in_progress(&entry)));
        }
        let entry = self.keep(decl, function, Origin::Api);
        let mut doc = self.in_progress(&entry);
        if body.get("Publish").and_then(Value::as_bool) == Some(true) {
            let published = self.publish(&entry, None).await?;
            doc["Version"] = published.version.clone().into();
            doc["FunctionArn"] = published.arn.clone().into();
        }
        Ok((StatusCode::OK, doc))
    }

    async fn update_function_configuration(&self, call: &Call, body: &Value) -> Answer {
        let entry = self.latest(
            call.label("FunctionName"),
            string(body, "RevisionId")?.as_deref(),
        )?;
        let mut decl = entry.decl.clone();
        if let Some(mb) = integer(body, "MemorySize")? {
            decl.memory_mb = check_memory(mb)?;
        }
        if let Some(s) = integer(body, "Timeout")? {
            decl.timeout_secs = check_timeout(s)?;
        }
        if let Some(env) = string_map(
            body.pointer("/Environment/Variables"),
            "Environment variable",
        )? {
            check_environment(&env)?;
            decl.env = env;
        } else if body.get("Environment").is_some() {
            decl.env.clear();
        }
        if let Some(d) = string(body, "Description")? {
            decl.description = d;
        }
        if let Some(r) = string(body, "Role")? {
            decl.role = r;
        }
        if let Some(r) = string(body, "Runtime")? {
            check_runtime(&r)?;
            decl.runtime = r;
        }
        if let Some(dlq) = body.get("DeadLetterConfig") {
            decl.dead_letter_target = string(dlq, "TargetArn")?.filter(|t| !t.is_empty());
        }
        let new_handler = string(body, "Handler")?.filter(|h| *h != decl.handler && !h.is_empty());
        let function = match (&new_handler, &decl.package) {
            (Some(h), Some(p)) => {
                let zip = std::fs::read(&p.zip).map_err(|e| internal(e.into()))?;
                let (d, f) = self.prepare_code(decl, &zip, Some(h), true).await?;
                decl = d;
                f
            }
            (Some(h), None) => {
                return Err(invalid_parameter(format!(
                    "`{}` was declared with a component file, not a deployment package: there is no `{h}` to switch to.",
                    decl.name
                )))
            }
            (None, _) => self.load_spec(&decl, &entry.arn, "$LATEST").await?,
        };
        let origin = if decl.package.is_some() {
            Origin::Api
        } else {
            Origin::Declared
        };
        let entry = self.keep(decl, function, origin);
        Ok((StatusCode::OK, self.in_progress(&entry)))
    }

    async fn delete_function(&self, call: &Call) -> Answer {
        let (name, inline) = split_function(call.label("FunctionName"));
        let qualifier = call.query("Qualifier").or(inline);
        let arn = self.function_arn(name);
        if self.registry.get(name).is_none() {
            return Err(protocol::function_not_found(&arn));
        }
        match qualifier {
            None => {
                self.catalog.delete_function(name).map_err(internal)?;
                self.invoke_configs.delete_all(name).map_err(internal)?;
                self.registry.remove(name);
                self.concurrency.reserve(name, None);
                self.natives
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(name);
            }
            Some("$LATEST") => {
                return Err(invalid_parameter(
                    "$LATEST version cannot be deleted without deleting the function.",
                ))
            }
            Some(q) => {
                let number: u64 = q.parse().map_err(|_| {
                    invalid_parameter(format!(
                        "Deletion of aliases is not supported by DeleteFunction; use DeleteAlias for `{q}`."
                    ))
                })?;
                if self
                    .catalog
                    .version(name, number)
                    .map_err(internal)?
                    .is_none()
                {
                    return Err(protocol::function_not_found(&format!("{arn}:{q}")));
                }
                let aliases = self.catalog.aliases(name).map_err(internal)?;
                if let Some(a) = aliases
                    .iter()
                    .find(|a| a.function_version == q || a.weights.contains_key(q))
                {
                    return Err(conflict(format!(
                        "Unable to delete version because the following aliases reference it: [{}]",
                        a.name
                    )));
                }
                self.catalog
                    .delete_version(name, number)
                    .map_err(internal)?;
                self.invoke_configs.delete(name, q).map_err(internal)?;
                self.registry.remove_version(name, q);
            }
        }
        Ok((StatusCode::NO_CONTENT, Value::Null))
    }

    /// Publishes `$LATEST` as a version, unless its code and configuration equal the
    /// last published version's, which is returned instead (as Lambda does).
    async fn publish(
        &self,
        latest: &FunctionEntry,
        description: Option<String>,
    ) -> Result<Arc<FunctionEntry>, AwsError> {
        let name = &latest.decl.name;
        let versions = self.catalog.versions(name).map_err(internal)?;
        let mut decl = latest.decl.clone();
        if let Some(d) = description {
            decl.description = d;
        }
        if let Some(last) = versions.last() {
            let same_code = last.decl.wasm == latest.decl.wasm
                && last.decl.package.as_ref().map(|p| &p.sha256)
                    == latest.decl.package.as_ref().map(|p| &p.sha256);
            let mut a = last.decl.clone();
            let mut b = latest.decl.clone();
            a.description.clear();
            b.description.clear();
            if same_code && a == b {
                let version = last.version.to_string();
                return Ok(self.registry.version(name, &version).unwrap_or_else(|| {
                    self.registry.insert(FunctionEntry {
                        decl: last.decl.clone(),
                        version: version.clone(),
                        arn: format!("{}:{version}", self.function_arn(name)),
                        function: Arc::clone(&latest.function),
                        last_modified: from_ms(last.last_modified_ms),
                        revision_id: last.revision_id.clone(),
                    })
                }));
            }
        }
        let now = self.clock.now();
        let revision_id = slcl_core::ids::uuid();
        let number = self
            .catalog
            .publish(&decl, &revision_id, to_ms(now))
            .map_err(internal)?;
        let version = number.to_string();
        // The version runs the same compiled code; only the spec (ARN, version) differs.
        let arn = format!("{}:{version}", self.function_arn(name));
        let function = self.load_spec(&decl, &arn, &version).await?;
        Ok(self.registry.insert(FunctionEntry {
            decl,
            version,
            arn,
            function,
            last_modified: now,
            revision_id,
        }))
    }

    async fn publish_version(&self, call: &Call, body: &Value) -> Answer {
        let entry = self.latest(
            call.label("FunctionName"),
            string(body, "RevisionId")?.as_deref(),
        )?;
        if let Some(sha) = string(body, "CodeSha256")? {
            if sha != entry.code_sha256() {
                return Err(invalid_parameter(format!(
                    "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please try publish again with the current CodeSHA256.",
                    entry.code_sha256()
                )));
            }
        }
        let published = self.publish(&entry, string(body, "Description")?).await?;
        Ok((StatusCode::CREATED, self.configuration(&published)))
    }

    async fn list_versions(&self, call: &Call) -> Answer {
        let (name, _) = split_function(call.label("FunctionName"));
        let latest = self
            .registry
            .get(name)
            .ok_or_else(|| protocol::function_not_found(&self.function_arn(name)))?;
        let max = call.max_items(50)?;
        let mut all = vec![("$LATEST".to_owned(), self.configuration(&latest))];
        for v in self.catalog.versions(name).map_err(internal)? {
            let version = v.version.to_string();
            let entry = self.version_entry(name, &version).await?;
            all.push((version, self.configuration(&entry)));
        }
        Ok((
            StatusCode::OK,
            page(all, call.query("Marker"), max, "Versions"),
        ))
    }

    fn check_alias_name(alias: &str) -> Result<(), AwsError> {
        if alias.is_empty()
            || alias.len() > 128
            || alias.chars().all(|c| c.is_ascii_digit())
            || !alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(validation(
                "name",
                alias,
                "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
            ));
        }
        Ok(())
    }

    fn alias_doc(&self, function: &str, alias: &Alias) -> Value {
        let mut doc = json!({
            "AliasArn": format!("{}:{}", self.function_arn(function), alias.name),
            "Name": alias.name,
            "FunctionVersion": alias.function_version,
            "Description": alias.description,
            "RevisionId": alias.revision_id,
        });
        if !alias.weights.is_empty() {
            doc["RoutingConfig"] = json!({ "AdditionalVersionWeights": alias.weights });
        }
        doc
    }

    /// Checks that `version` is a published version of `function`.
    fn check_version(&self, function: &str, version: &str) -> Result<(), AwsError> {
        if version == "$LATEST" {
            return Ok(());
        }
        let exists = version
            .parse::<u64>()
            .ok()
            .map(|n| self.catalog.version(function, n))
            .transpose()
            .map_err(internal)?
            .flatten()
            .is_some();
        if !exists {
            return Err(protocol::function_not_found(&format!(
                "{}:{version}",
                self.function_arn(function)
            )));
        }
        Ok(())
    }

    async fn put_alias(&self, call: &Call, body: &Value, create: bool) -> Answer {
        let name = self.existing_name(call)?.to_owned();
        let alias_name = if create {
            string(body, "Name")?.unwrap_or_default()
        } else {
            call.label("Name").to_owned()
        };
        Self::check_alias_name(&alias_name)?;
        let arn = format!("{}:{alias_name}", self.function_arn(&name));
        let existing = self.catalog.alias(&name, &alias_name).map_err(internal)?;
        let mut alias = match (&existing, create) {
            (Some(_), true) => return Err(conflict(format!("Alias already exists: {arn}"))),
            (None, false) => return Err(not_found(format!("Alias not found: {arn}"))),
            (Some(a), false) => {
                if string(body, "RevisionId")?.is_some_and(|r| r != a.revision_id) {
                    return Err(stale_revision());
                }
                a.clone()
            }
            (None, true) => Alias {
                name: alias_name.clone(),
                function_version: String::new(),
                description: String::new(),
                weights: BTreeMap::new(),
                revision_id: String::new(),
            },
        };
        if let Some(v) = string(body, "FunctionVersion")? {
            alias.function_version = v;
        }
        if alias.function_version.is_empty() {
            return Err(invalid_parameter("FunctionVersion is required."));
        }
        self.check_version(&name, &alias.function_version)?;
        if let Some(d) = string(body, "Description")? {
            alias.description = d;
        }
        if let Some(routing) = body.get("RoutingConfig") {
            let weights = routing
                .get("AdditionalVersionWeights")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let mut parsed = BTreeMap::new();
            for (version, weight) in &weights {
                let w = weight.as_f64().unwrap_or(-1.0);
                if !(0.0..=1.0).contains(&w) {
                    return Err(validation(
                        "routingConfig.additionalVersionWeights",
                        weight,
                        "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]",
                    ));
                }
                parsed.insert(version.clone(), w);
            }
            if parsed.len() > 1 {
                return Err(invalid_parameter(
                    "Number of items in AdditionalVersionWeights cannot be greater than 1",
                ));
            }
            for version in parsed.keys() {
                if version == &alias.function_version {
                    return Err(invalid_parameter(
                        "Invalid function version in AdditionalVersionWeights: it is the alias's own FunctionVersion",
                    ));
                }
                if alias.function_version == "$LATEST" || version == "$LATEST" {
                    return Err(invalid_parameter(
                        "$LATEST is not supported for an alias pointing to more than 1 version",
                    ));
                }
                self.check_version(&name, version)?;
            }
            alias.weights = parsed;
        }
        alias.revision_id = slcl_core::ids::uuid();
        let stored = self
            .catalog
            .put_alias(&name, &alias, create)
            .map_err(internal)?;
        if !stored {
            return Err(conflict(format!("Alias already exists: {arn}")));
        }
        let status = if create {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok((status, self.alias_doc(&name, &alias)))
    }

    fn alias_of(&self, call: &Call) -> Result<(String, Alias), AwsError> {
        let name = self.existing_name(call)?;
        let alias_name = call.label("Name");
        let alias = self
            .catalog
            .alias(name, alias_name)
            .map_err(internal)?
            .ok_or_else(|| {
                not_found(format!(
                    "Alias not found: {}:{alias_name}",
                    self.function_arn(name)
                ))
            })?;
        Ok((name.to_owned(), alias))
    }

    fn get_alias(&self, call: &Call) -> Answer {
        let (name, alias) = self.alias_of(call)?;
        Ok((StatusCode::OK, self.alias_doc(&name, &alias)))
    }

    fn delete_alias(&self, call: &Call) -> Answer {
        let name = self.existing_name(call)?;
        // Deleting an alias that does not exist succeeds, as in Lambda.
        self.catalog
            .delete_alias(name, call.label("Name"))
            .map_err(internal)?;
        self.invoke_configs
            .delete(name, call.label("Name"))
            .map_err(internal)?;
        Ok((StatusCode::NO_CONTENT, Value::Null))
    }

    fn list_aliases(&self, call: &Call) -> Answer {
        let name = self.existing_name(call)?;
        let max = call.max_items(50)?;
        let version = call.query("FunctionVersion");
        let all: Vec<(String, Value)> = self
            .catalog
            .aliases(name)
            .map_err(internal)?
            .into_iter()
            .filter(|a| {
                version.is_none_or(|v| a.function_version == v || a.weights.contains_key(v))
            })
            .map(|a| (a.name.clone(), self.alias_doc(name, &a)))
            .collect();
        Ok((
            StatusCode::OK,
            page(all, call.query("Marker"), max, "Aliases"),
        ))
    }

    fn put_concurrency(&self, call: &Call, body: &Value) -> Answer {
        let entry = self.latest(call.label("FunctionName"), None)?;
        let value = integer(body, "ReservedConcurrentExecutions")?
            .ok_or_else(|| invalid_parameter("ReservedConcurrentExecutions is required."))?;
        if value < 0 {
            return Err(validation(
                "reservedConcurrentExecutions",
                value,
                "Member must have value greater than or equal to 0",
            ));
        }
        let value = value as u32;
        let limit = self.concurrency.account_limit();
        let others: u32 = self.concurrency.reserved_total_except(&entry.decl.name);
        if others.saturating_add(value) > limit.saturating_sub(MIN_UNRESERVED) {
            return Err(invalid_parameter(format!(
                "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
            )));
        }
        self.catalog
            .set_reserved_concurrency(&entry.decl.name, Some(value))
            .map_err(internal)?;
        self.concurrency.reserve(&entry.decl.name, Some(value));
        Ok((
            StatusCode::OK,
            json!({ "ReservedConcurrentExecutions": value }),
        ))
    }

    fn get_concurrency(&self, call: &Call) -> Answer {
        let entry = self.latest(call.label("FunctionName"), None)?;
        Ok((
            StatusCode::OK,
            match self.concurrency.reserved(&entry.decl.name) {
                Some(n) => json!({ "ReservedConcurrentExecutions": n }),
                None => json!({}),
            },
        ))
    }

    fn delete_concurrency(&self, call: &Call) -> Answer {
        let entry = self.latest(call.label("FunctionName"), None)?;
        self.catalog
            .set_reserved_concurrency(&entry.decl.name, None)
            .map_err(internal)?;
        self.concurrency.reserve(&entry.decl.name, None);
        Ok((StatusCode::NO_CONTENT, Value::Null))
    }

    /// The function and the qualifier (empty for none) a policy call addresses.
    async fn policy_target(&self, call: &Call) -> Result<(String, String, String), AwsError> {
        let (name, inline) = split_function(call.label("FunctionName"));
        let qualifier = call.query("Qualifier").or(inline).unwrap_or_default();
        let target = self
            .target(name, (!qualifier.is_empty()).then_some(qualifier))
            .await?;
        let mut arn = self.function_arn(name);
        if !qualifier.is_empty() {
            arn = format!("{arn}:{qualifier}");
        }
        let _ = target;
        Ok((name.to_owned(), qualifier.to_owned(), arn))
    }

    async fn add_permission(&self, call: &Call, body: &Value) -> Answer {
        let (name, qualifier, arn) = self.policy_target(call).await?;
        if let Some(r) = string(body, "RevisionId")? {
            let latest = self.latest(&name, None)?;
            if r != latest.revision_id {
                return Err(stale_revision());
            }
        }
        let sid = string(body, "StatementId")?.unwrap_or_default();
        if sid.is_empty()
            || sid.len() > 100
            || !sid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(validation(
                "statementId",
                &sid,
                "Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
            ));
        }
        let action = string(body, "Action")?.unwrap_or_default();
        if !(action.starts_with("lambda:") || action == "*") {
            return Err(validation(
                "action",
                &action,
                "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])",
            ));
        }
        let principal = string(body, "Principal")?.unwrap_or_default();
        if principal.is_empty() {
            return Err(invalid_parameter("Principal is required."));
        }
        let principal_doc = if principal == "*" {
            json!("*")
        } else if principal.chars().all(|c| c.is_ascii_digit()) {
            json!({ "AWS": format!("arn:aws:iam::{principal}:root") })
        } else if principal.starts_with("arn:") {
            json!({ "AWS": principal })
        } else {
            json!({ "Service": principal })
        };
        let mut statement = json!({
            "Sid": sid,
            "Effect": "Allow",
            "Principal": principal_doc,
            "Action": action,
            "Resource": arn,
        });
        let mut condition = serde_json::Map::new();
        if let Some(a) = string(body, "SourceAccount")? {
            condition.insert("StringEquals".into(), json!({ "AWS:SourceAccount": a }));
        }
        if let Some(org) = string(body, "PrincipalOrgID")? {
            let entry = condition.entry("StringEquals").or_insert_with(|| json!({}));
            entry["aws:PrincipalOrgID"] = org.into();
        }
        if let Some(t) = string(body, "EventSourceToken")? {
            let entry = condition.entry("StringEquals").or_insert_with(|| json!({}));
            entry["lambda:EventSourceToken"] = t.into();
        }
        if let Some(auth) = string(body, "FunctionUrlAuthType")? {
            let entry = condition.entry("StringEquals").or_insert_with(|| json!({}));
            entry["lambda:FunctionUrlAuthType"] = auth.into();
        }
        if let Some(s) = string(body, "SourceArn")? {
            condition.insert("ArnLike".into(), json!({ "AWS:SourceArn": s }));
        }
        if !condition.is_empty() {
            statement["Condition"] = Value::Object(condition);
        }
        let added = self
            .catalog
            .add_statement(&name, &qualifier, &sid, &statement)
            .map_err(internal)?;
        if !added {
            return Err(conflict(format!(
                "The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement."
            )));
        }
        Ok((
            StatusCode::CREATED,
            json!({ "Statement": statement.to_string() }),
        ))
    }

    async fn remove_permission(&self, call: &Call) -> Answer {
        let (name, qualifier, _) = self.policy_target(call).await?;
        if let Some(r) = call.query("RevisionId") {
            if r != self.latest(&name, None)?.revision_id {
                return Err(stale_revision());
            }
        }
        let sid = call.label("StatementId");
        let removed = self
            .catalog
            .remove_statement(&name, &qualifier, sid)
            .map_err(internal)?;
        if !removed {
            return Err(not_found(format!(
                "Statement {sid} is not found in resource policy."
            )));
        }
        Ok((StatusCode::NO_CONTENT, Value::Null))
    }

    async fn get_policy(&self, call: &Call) -> Answer {
        let (name, qualifier, _) = self.policy_target(call).await?;
        let statements = self
            .catalog
            .statements(&name, &qualifier)
            .map_err(internal)?;
        if statements.is_empty() {
            return Err(not_found("The resource you requested does not exist."));
        }
        let policy = json!({
            "Version": "2012-10-17",
            "Id": "default",
            "Statement": statements,
        });
        let revision = self.latest(&name, None)?.revision_id.clone();
        Ok((
            StatusCode::OK,
            json!({ "Policy": policy.to_string(), "RevisionId": revision }),
        ))
    }

    /// The function a tagging call's `Resource` ARN names (tags belong to the
    /// function, not to a version or alias).
    fn tagged(&self, call: &Call) -> Result<String, AwsError> {
        let resource = call.label("Resource");
        let (name, qualifier) = split_function(resource);
        if !resource.starts_with("arn:") {
            return Err(validation(
                "resource",
                resource,
                "Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|layer:[a-zA-Z0-9-_]+)",
            ));
        }
        if qualifier.is_some() {
            return Err(invalid_parameter(
                "Tags are not supported on function versions or aliases: pass the unqualified function ARN.",
            ));
        }
        if self.registry.get(name).is_none() {
            return Err(protocol::function_not_found(resource));
        }
        Ok(name.to_owned())
    }

    fn tags(&self, name: &str) -> Result<BTreeMap<String, String>, AwsError> {
        Ok(self
            .catalog
            .function(name)
            .map_err(internal)?
            .map(|f| f.tags)
            .unwrap_or_default())
    }

    fn tag_resource(&self, call: &Call, body: &Value) -> Answer {
        let name = self.tagged(call)?;
        let add = string_map(body.get("Tags"), "Tag")?.unwrap_or_default();
        let mut tags = self.tags(&name)?;
        tags.extend(add);
        if tags.len() > 50 {
            return Err(invalid_parameter(
                "Number of tags exceeds resource tag limit.",
            ));
        }
        self.catalog.set_tags(&name, &tags).map_err(internal)?;
        Ok((StatusCode::NO_CONTENT, Value::Null))
    }

    fn untag_resource(&self, call: &Call) -> Answer {
        let name = self.tagged(call)?;
        let mut tags = self.tags(&name)?;
        for (k, v) in &call.query {
            if k == "tagKeys" {
                tags.remove(v);
            }
        }
        self.catalog.set_tags(&name, &tags).map_err(internal)?;
        Ok((StatusCode::NO_CONTENT, Value::Null))
    }

    fn list_tags(&self, call: &Call) -> Answer {
        let name = self.tagged(call)?;
        Ok((StatusCode::OK, json!({ "Tags": self.tags(&name)? })))
    }

    /// The tags of function `name` (GetFunction reports them).
    pub(crate) fn function_tags(&self, name: &str) -> BTreeMap<String, String> {
        self.tags(name).unwrap_or_default()
    }

    fn account_settings(&self) -> (StatusCode, Value) {
        let functions = self.registry.all();
        let code: u64 = functions.iter().map(|f| f.code_size()).sum();
        let limit = self.concurrency.account_limit();
        let reserved = self.concurrency.reserved_total_except("");
        (
            StatusCode::OK,
            json!({
                "AccountLimit": {
                    "TotalCodeSize": 80_530_636_800u64,
                    "CodeSizeUnzipped": MAX_UNZIPPED,
                    "CodeSizeZipped": 52_428_800u64,
                    "ConcurrentExecutions": limit,
                    "UnreservedConcurrentExecutions": limit.saturating_sub(reserved),
                },
                "AccountUsage": {
                    "TotalCodeSize": code,
                    "FunctionCount": functions.len(),
                },
            }),
        )
    }
}

/// Picks the version an alias routes one invocation to.
fn pick_version(alias: &Alias) -> String {
    let r: f64 = rand::random();
    let mut acc = 0.0;
    for (version, weight) in &alias.weights {
        acc += weight;
        if r < acc {
            return version.clone();
        }
    }
    alias.function_version.clone()
}

/// One page of `(key, item)` pairs after `marker`, as `{<field>: [...], NextMarker}`.
fn page(all: Vec<(String, Value)>, marker: Option<&str>, max: usize, field: &str) -> Value {
    let start = match marker {
        None => 0,
        Some(m) => all
            .iter()
            .position(|(k, _)| k == m)
            .map_or(all.len(), |i| i + 1),
    };
    let items: Vec<Value> = all[start.min(all.len())..]
        .iter()
        .take(max)
        .map(|(_, v)| v.clone())
        .collect();
    let mut doc = json!({ field: items });
    if start + max < all.len() {
        doc["NextMarker"] = all[start + max - 1].0.clone().into();
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        use std::io::Write as _;
        let mut out = std::io::Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut out);
            for (name, data) in entries {
                w.start_file(*name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                w.write_all(data).unwrap();
            }
            w.finish().unwrap();
        }
        out.into_inner()
    }

    const COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00rest";
    const MODULE: &[u8] = b"\0asm\x01\x00\x00\x00rest";

    #[test]
    fn unpack_picks_the_handler_or_the_only_component() {
        let one = zip_of(&[("README", b"x"), ("bin/fn.wasm", COMPONENT)]);
        assert_eq!(unpack(&one, None, true).unwrap().handler, "bin/fn.wasm");
        assert_eq!(
            unpack(&one, Some("bootstrap"), true).unwrap().handler,
            "bin/fn.wasm"
        );
        assert_eq!(
            unpack(&one, Some("./bin/fn.wasm"), true).unwrap().handler,
            "bin/fn.wasm"
        );
        let err = unpack(&one, Some("other.wasm"), true).err().unwrap();
        assert_eq!(err.code, "InvalidParameterValueException");
        assert!(err.message.contains("bin/fn.wasm"), "{}", err.message);

        let two = zip_of(&[("a.wasm", COMPONENT), ("b.wasm", COMPONENT)]);
        assert!(unpack(&two, None, true)
            .err()
            .unwrap()
            .message
            .contains("several"));
        assert_eq!(
            unpack(&two, Some("b.wasm"), true).unwrap().handler,
            "b.wasm"
        );
    }

    #[test]
    fn unpack_rejects_escapes_modules_and_garbage() {
        let escape = zip_of(&[("../evil.wasm", COMPONENT)]);
        let err = unpack(&escape, None, true).err().unwrap();
        assert!(err.message.contains("outside"), "{}", err.message);
        let nested = zip_of(&[("ok/../../evil.wasm", COMPONENT)]);
        assert!(unpack(&nested, None, true).is_err());
        let module = zip_of(&[("m.wasm", MODULE)]);
        assert!(unpack(&module, None, true)
            .err()
            .unwrap()
            .message
            .contains("core WebAssembly module"));
        let text = zip_of(&[("t.wasm", b"hello world")]);
        assert!(unpack(&text, None, true)
            .err()
            .unwrap()
            .message
            .contains("not a WebAssembly file"));
        assert!(unpack(b"not a zip", None, true)
            .err()
            .unwrap()
            .message
            .contains("Could not unzip"));
        let none = zip_of(&[("index.js", b"x")]);
        assert!(unpack(&none, None, true)
            .err()
            .unwrap()
            .message
            .contains("no .wasm"));
    }

    #[test]
    fn names_split_and_validate() {
        assert_eq!(split_function("f"), ("f", None));
        assert_eq!(split_function("f:live"), ("f", Some("live")));
        assert_eq!(
            split_function("arn:aws:lambda:us-east-1:000000000000:function:f:3"),
            ("f", Some("3"))
        );
        assert_eq!(split_function("000000000000:function:f"), ("f", None));
        assert!(check_name("ok-name_1").is_ok());
        assert_eq!(
            check_name("bad name").unwrap_err().code,
            "ValidationException"
        );
        assert!(
            check_memory(127).is_err() && check_memory(10241).is_err() && check_memory(128).is_ok()
        );
        assert!(
            check_timeout(0).is_err() && check_timeout(901).is_err() && check_timeout(900).is_ok()
        );
    }

    #[test]
    fn environment_rules() {
        let mut env = BTreeMap::new();
        env.insert("AWS_REGION".to_owned(), "x".to_owned());
        assert!(check_environment(&env)
            .unwrap_err()
            .message
            .contains("AWS_REGION"));
        let mut big = BTreeMap::new();
        big.insert("BIG".to_owned(), "x".repeat(5000));
        assert!(check_environment(&big).unwrap_err().message.contains("4KB"));
    }

    #[test]
    fn weighted_alias_routes_by_weight() {
        let alias = Alias {
            name: "live".into(),
            function_version: "1".into(),
            description: String::new(),
            weights: [("2".to_owned(), 0.25)].into_iter().collect(),
            revision_id: String::new(),
        };
        let picks: Vec<String> = (0..4000).map(|_| pick_version(&alias)).collect();
        let twos = picks.iter().filter(|v| *v == "2").count();
        assert!(
            (800..1200).contains(&twos),
            "{twos} of 4000 went to version 2"
        );
        assert!(picks.iter().all(|v| v == "1" || v == "2"));
    }

    #[test]
    fn pages_follow_markers() {
        let all: Vec<(String, Value)> = (0..5).map(|i| (i.to_string(), json!(i))).collect();
        let first = page(all.clone(), None, 2, "Items");
        assert_eq!(first["Items"], json!([0, 1]));
        assert_eq!(first["NextMarker"], "1");
        let last = page(all, Some("3"), 2, "Items");
        assert_eq!(last["Items"], json!([4]));
        assert!(last.get("NextMarker").is_none());
    }
}
