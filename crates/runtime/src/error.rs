use std::path::PathBuf;

/// Why the runtime could not load or run a function.
///
/// A function that *runs* and fails (returns an error status, traps, times out, runs
/// out of memory) is not a `RuntimeError`: that is an [`crate::Outcome::FunctionError`],
/// exactly as Lambda reports it to callers. A `RuntimeError` means slcl itself could
/// not do its part. Every message names the function and, where it matters, the wasm
/// file.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The wasmtime engine could not be configured (for example, the machine refused
    /// the virtual memory the pooling allocator reserves).
    #[error("failed to start the wasm runtime: {0}")]
    Engine(String),

    /// The wasm file could not be read.
    #[error("failed to load function `{function}` from `{}`: {source}", path.display())]
    Read {
        /// Function name.
        function: String,
        /// The wasm file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// The file is not a valid component, or it does not fit the `wasi:http/proxy`
    /// world slcl runs (for example it is a core module, imports something slcl does
    /// not provide, or does not export `wasi:http/incoming-handler`).
    #[error("failed to load function `{function}` from `{}`: {message}", path.display())]
    Compile {
        /// Function name.
        function: String,
        /// The wasm file.
        path: PathBuf,
        /// What wasmtime said, with its causes.
        message: String,
    },

    /// A fresh instance of the function could not be created.
    #[error("failed to instantiate function `{function}` from `{}`: {message}", path.display())]
    Instantiate {
        /// Function name.
        function: String,
        /// The wasm file.
        path: PathBuf,
        /// What wasmtime said, with its causes.
        message: String,
    },

    /// Every instance slot of the pooling allocator is busy running an invocation
    /// (see [`crate::RuntimeConfig::max_instances`]). Lambda answers this case with
    /// `TooManyRequestsException`.
    #[error(
        "cannot run function `{function}`: all {max_instances} instance slots are busy \
         (raise `max_instances` to run more invocations at once)"
    )]
    Capacity {
        /// Function name.
        function: String,
        /// The configured maximum.
        max_instances: u32,
    },

    /// A bug or an unexpected host failure while running an invocation.
    #[error("internal error running function `{function}`: {message}")]
    Internal {
        /// Function name.
        function: String,
        /// What went wrong.
        message: String,
    },
}
