//! The wasmtime engine slcl runs every function in, its epoch ticker, and the
//! compiled-artifact cache.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use crate::{RuntimeConfig, RuntimeError};

/// How often the epoch advances. A running guest yields to the async executor once
/// per tick, so this bounds how long a CPU-bound guest can hold a worker thread and
/// how late a timeout can be noticed.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// The largest linear memory a guest can have: all a wasm32 memory can address.
/// Lambda allows up to 10 240 MB; sizes beyond this are capped here.
pub(crate) const MAX_MEMORY_BYTES: u64 = 4 << 30;

/// Wasmtime version the cache keys are tied to (pinned in the workspace).
const WASMTIME_VERSION: &str = "48.0.8";

pub(crate) fn build_engine(config: &RuntimeConfig) -> Result<Engine, RuntimeError> {
    let slots = config.max_instances.max(1);
    let mut pool = PoolingAllocationConfig::default();
    // A component is several core instances (the program, plus shim modules for
    // lowered imports), and may bring more than one memory or table. Instances,
    // memories and stacks are what bound concurrency; the others get headroom.
    pool.total_component_instances(slots)
        .total_memories(slots.saturating_mul(2))
        .total_core_instances(slots.saturating_mul(16))
        .total_tables(slots.saturating_mul(16))
        .total_stacks(slots)
        .max_memories_per_component(2)
        .max_memory_size(MAX_MEMORY_BYTES as usize)
        // Rust guests with many dependencies have large function tables.
        .table_elements(100_000);

    let mut cfg = Config::new();
    cfg.wasm_component_model(true)
        .epoch_interruption(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        // Every memory slot reserves 4 GiB + 32 MiB guard of *address space* (not
        // RAM), which lets compiled code skip bounds checks. 64 slots x 2 memories
        // reserve ~516 GiB of the 128 TiB a 64-bit Linux process can address.
        .memory_reservation(MAX_MEMORY_BYTES)
        .memory_guard_size(32 << 20);
    if config.debug {
        cfg.debug_info(true)
            .cranelift_opt_level(OptLevel::None)
            .wasm_backtrace_details(wasmtime::WasmBacktraceDetails::Enable);
    } else {
        cfg.cranelift_opt_level(OptLevel::Speed);
    }
    Engine::new(&cfg).map_err(|e| RuntimeError::Engine(format!("{e:?}")))
}

/// Advances the engine's epoch every [`EPOCH_TICK`] while any guest runs, until
/// dropped. With no guest running the thread parks, so an idle stack costs no CPU.
pub(crate) struct EpochTicker {
    shared: Arc<TickerShared>,
    thread: std::thread::Thread,
}

struct TickerShared {
    stop: AtomicBool,
    /// Guests running now (instantiating or handling an invocation).
    active: AtomicUsize,
}

/// Keeps the ticker running while alive; see [`EpochTicker::enter`].
pub(crate) struct TickerGuard {
    shared: Arc<TickerShared>,
}

impl Drop for TickerGuard {
    fn drop(&mut self) {
        self.shared.active.fetch_sub(1, Ordering::SeqCst);
    }
}

impl EpochTicker {
    pub(crate) fn start(engine: &Engine) -> EpochTicker {
        let shared = Arc::new(TickerShared {
            stop: AtomicBool::new(false),
            active: AtomicUsize::new(0),
        });
        let weak = engine.weak();
        let state = shared.clone();
        let handle = std::thread::Builder::new()
            .name("slcl-epoch".into())
            .spawn(move || {
                while !state.stop.load(Ordering::SeqCst) {
                    if state.active.load(Ordering::SeqCst) == 0 {
                        // `enter` unparks us; the timeout re-checks `stop` now and then.
                        std::thread::park_timeout(Duration::from_secs(1));
                        continue;
                    }
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("failed to spawn the epoch ticker thread");
        EpochTicker {
            shared,
            thread: handle.thread().clone(),
        }
    }

    /// Marks a guest as running until the guard is dropped, waking the ticker.
    pub(crate) fn enter(&self) -> TickerGuard {
        if self.shared.active.fetch_add(1, Ordering::SeqCst) == 0 {
            self.thread.unpark();
        }
        TickerGuard {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// A compiled function and the facts about its code.
pub(crate) struct Compiled {
    pub(crate) component: Component,
    pub(crate) code_sha256: String,
    pub(crate) code_size: u64,
    pub(crate) from_cache: bool,
}

/// What identifies one version of a file without reading it: path, size,
/// modification time and inode. A rewrite (a rebuild, a copy over it) changes the
/// modification time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FileIdentity {
    path: PathBuf,
    size: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

impl FileIdentity {
    fn of(path: &Path) -> std::io::Result<FileIdentity> {
        let meta = std::fs::metadata(path)?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Ok(FileIdentity {
            path: std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()),
            size: meta.len(),
            modified: meta.modified().ok(),
            inode,
        })
    }
}

/// SHA-256 digests of the component files this process has read, by identity. Only
/// a memo: every stack still compiles or loads its own `Component` for its own
/// engine; entries only spare re-reading an unchanged file.
static DIGESTS: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<FileIdentity, [u8; 32]>>,
> = std::sync::LazyLock::new(Default::default);

fn known_digest(identity: &FileIdentity) -> Option<[u8; 32]> {
    // Without a modification time, a change could go unnoticed: always read.
    identity.modified?;
    DIGESTS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(identity)
        .copied()
}

fn remember_digest(identity: FileIdentity, digest: [u8; 32]) {
    let mut digests = DIGESTS.lock().unwrap_or_else(|p| p.into_inner());
    if digests.len() > 4096 {
        digests.clear();
    }
    digests.insert(identity, digest);
}

fn base64_of(digest: &[u8; 32]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// Reads, hashes and compiles (or loads from the cache) a component. Blocking: call
/// from `spawn_blocking`.
pub(crate) fn compile(
    engine: &Engine,
    cache_dir: Option<&Path>,
    debug: bool,
    function: &str,
    wasm: &Path,
) -> Result<Compiled, RuntimeError> {
    let read_error = |source| RuntimeError::Read {
        function: function.to_owned(),
        path: wasm.to_owned(),
        source,
    };
    let compile_error = |message: String| RuntimeError::Compile {
        function: function.to_owned(),
        path: wasm.to_owned(),
        message,
    };
    // A file this process has hashed before, unchanged since, loads from the cache
    // without being read: reading and hashing a component of a few MB is most of
    // the cost of starting a stack whose function is cached.
    let identity = FileIdentity::of(wasm).map_err(read_error)?;
    if let (Some(dir), Some(known)) = (cache_dir, known_digest(&identity)) {
        let path = cache_path(engine, dir, &hex::encode(known), debug);
        if path.exists() {
            // SAFETY: as for the cache hit below.
            if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
                return Ok(Compiled {
                    component,
                    code_sha256: base64_of(&known),
                    code_size: identity.size,
                    from_cache: true,
                });
            }
        }
    }
    let bytes = std::fs::read(wasm).map_err(read_error)?;
    // The preamble: `\0asm`, a version and a layer (0 = core module, 1 = component).
    let wasm_file = bytes.len() >= 8 && bytes.starts_with(b"\0asm");
    if !(wasm_file && bytes[6..8] == [1, 0]) {
        let what = if wasm_file && bytes[6..8] == [0, 0] {
            "it is a core wasm module, not a component; build the function for the \
             `wasm32-wasip2` target"
        } else {
            "it is not a WebAssembly file"
        };
        return Err(compile_error(what.to_owned()));
    }

    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    let code_sha256 = base64_of(&digest);
    let code_size = bytes.len() as u64;
    if FileIdentity::of(wasm).is_ok_and(|now| now == identity && now.size == code_size) {
        remember_digest(identity, digest);
    }

    let Some(dir) = cache_dir else {
        let component =
            Component::new(engine, &bytes).map_err(|e| compile_error(format!("{e:?}")))?;
        return Ok(Compiled {
            component,
            code_sha256,
            code_size,
            from_cache: false,
        });
    };

    let path = cache_path(engine, dir, &hex::encode(digest), debug);
    if path.exists() {
        // SAFETY: `deserialize_file` trusts the file to be an artifact that wasmtime
        // produced for a compatible engine. Only this runtime writes to the cache
        // folder, always from `Engine::precompile_component`, and always by renaming
        // a complete temporary file into place, so a file with this name is one we
        // wrote. The key includes the engine's compatibility hash, and wasmtime
        // checks the header as well, so a file from another configuration is
        // rejected rather than run.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => {
                tracing::debug!(function, path = %path.display(), "loaded compiled function from cache");
                return Ok(Compiled {
                    component,
                    code_sha256,
                    code_size,
                    from_cache: true,
                });
            }
            Err(e) => {
                tracing::warn!(function, path = %path.display(), "ignoring unusable cache entry: {e}")
            }
        }
    }

    let artifact = engine
        .precompile_component(&bytes)
        .map_err(|e| compile_error(format!("{e:?}")))?;
    let component = match write_atomically(&path, &artifact) {
        // SAFETY: as above: we have just written this file from `precompile_component`.
        Ok(()) => unsafe { Component::deserialize_file(engine, &path) },
        Err(e) => {
            tracing::warn!(function, path = %path.display(), "cannot write compiled-function cache: {e}");
            // SAFETY: the bytes come straight from `precompile_component` of this engine.
            unsafe { Component::deserialize(engine, &artifact) }
        }
    }
    .map_err(|e| compile_error(format!("{e:?}")))?;
    Ok(Compiled {
        component,
        code_sha256,
        code_size,
        from_cache: false,
    })
}

/// `<dir>/<sha256 hex>-wasmtime<version>-<release|debug>-<engine hash>.cwasm`
fn cache_path(engine: &Engine, dir: &Path, sha256_hex: &str, debug: bool) -> PathBuf {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let mode = if debug { "debug" } else { "release" };
    dir.join(format!(
        "{sha256_hex}-wasmtime{WASMTIME_VERSION}-{mode}-{:016x}.cwasm",
        hasher.finish()
    ))
}

fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("cwasm"),
        rand::random::<u64>()
    ));
    let result = std::fs::write(&tmp, data).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
