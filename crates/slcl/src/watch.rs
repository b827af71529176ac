//! Hot reload: when a function's wasm file changes, the next invocation runs the new
//! code, without a restart.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use notify::{RecursiveMode, Watcher as _};
use slcl_lambda::LambdaService;

/// Keeps the file watcher alive.
pub(crate) struct Watcher {
    _inner: notify::RecommendedWatcher,
}

/// How long a file must be quiet before it is reloaded: builds write wasm files in
/// several steps.
const SETTLE: Duration = Duration::from_millis(150);

pub(crate) fn watch_functions(lambda: &Arc<LambdaService>) -> anyhow::Result<Watcher> {
    let mut by_path: HashMap<PathBuf, String> = HashMap::new();
    for f in lambda
        .functions()
        .into_iter()
        .filter(|f| !f.function.is_native())
    {
        let path = std::fs::canonicalize(&f.decl.wasm).unwrap_or_else(|_| f.decl.wasm.clone());
        by_path.insert(path, f.decl.name.clone());
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let paths = by_path.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if !(event.kind.is_create() || event.kind.is_modify()) {
            return;
        }
        for p in &event.paths {
            let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            if let Some(name) = paths.get(&p) {
                let _ = tx.send(name.clone());
            }
        }
    })
    .context("failed to start the file watcher")?;
    // Watch folders, not files: builds replace files, which ends a watch on the file.
    let mut dirs: Vec<PathBuf> = by_path
        .keys()
        .filter_map(|p| p.parent().map(PathBuf::from))
        .collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .with_context(|| format!("failed to watch `{}`", dir.display()))?;
    }
    let weak = Arc::downgrade(lambda);
    tokio::spawn(async move {
        while let Some(name) = rx.recv().await {
            // Collapse the burst of events one write makes.
            let mut pending = std::collections::BTreeSet::from([name]);
            while let Ok(Some(more)) = tokio::time::timeout(SETTLE, rx.recv()).await {
                pending.insert(more);
            }
            let Some(lambda) = weak.upgrade() else { return };
            for name in pending {
                match lambda.reload(&name).await {
                    Ok(f) => println!(
                        "reloaded function `{name}` (CodeSha256 {})",
                        f.function.code_sha256()
                    ),
                    Err(e) => println!("failed to reload function `{name}`: {e:#}"),
                }
            }
        }
    });
    Ok(Watcher { _inner: watcher })
}
