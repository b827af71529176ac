//! Building a function whose wasm file is missing, with its declared command.

use std::path::Path;

use anyhow::Context as _;

/// The rustup target guest functions build for.
const GUEST_TARGET: &str = "wasm32-wasip2";

/// Runs `command` (with `sh -c`, in `dir`) to produce `wasm`, installing the
/// `wasm32-wasip2` rustup target first if the command needs it and it is missing.
///
/// With `debug`, the command runs with cargo's release profile set to keep full
/// debug info and not optimise (`CARGO_PROFILE_RELEASE_DEBUG=true`,
/// `CARGO_PROFILE_RELEASE_OPT_LEVEL=0`, no stripping), so the component carries the
/// DWARF a native debugger needs to map guest code back to its source and to show
/// local variables (optimised code keeps few of them).
pub(crate) async fn run(
    name: &str,
    command: &str,
    dir: &Path,
    wasm: &Path,
    debug: bool,
) -> anyhow::Result<()> {
    if command.contains(GUEST_TARGET) {
        ensure_rustup_target().await?;
    }
    let mut build = tokio::process::Command::new("sh");
    build.arg("-c").arg(command).current_dir(dir);
    if debug {
        println!("building function `{name}` with debug info: {command}");
        build
            .env("CARGO_PROFILE_RELEASE_DEBUG", "true")
            .env("CARGO_PROFILE_RELEASE_STRIP", "none")
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
            .env("CARGO_PROFILE_DEV_DEBUG", "true");
    } else {
        println!("building function `{name}`: {command}");
    }
    let status = build
        .status()
        .await
        .with_context(|| format!("failed to run the build command of function `{name}`"))?;
    if !status.success() {
        anyhow::bail!("the build command of function `{name}` failed ({status}): {command}");
    }
    if !wasm.exists() {
        anyhow::bail!(
            "the build command of function `{name}` succeeded but `{}` still does not exist; check `wasm` in slcl.toml",
            wasm.display()
        );
    }
    Ok(())
}

async fn ensure_rustup_target() -> anyhow::Result<()> {
    let installed = tokio::process::Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .await;
    let Ok(installed) = installed else {
        // No rustup: the toolchain may still have the target; let the build say.
        return Ok(());
    };
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == GUEST_TARGET)
    {
        return Ok(());
    }
    println!("installing the {GUEST_TARGET} rustup target (rustup target add {GUEST_TARGET})");
    let status = tokio::process::Command::new("rustup")
        .args(["target", "add", GUEST_TARGET])
        .status()
        .await
        .context("failed to run rustup")?;
    anyhow::ensure!(
        status.success(),
        "`rustup target add {GUEST_TARGET}` failed"
    );
    Ok(())
}
