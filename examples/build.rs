//! Builds the reference VMM's guest firmware, `$OUT_DIR/firmware.bin`.
//!
//! `firmware/firmware.S` is assembled with GNU `as`, linked with `ld` and
//! `firmware/firmware.ld` at 0x100000, and flattened with `objcopy -O
//! binary`. Only binutils is needed, nothing is downloaded, and the output
//! carries no timestamp or build id, so the same sources give the same
//! bytes. See `firmware/README.md`.

use std::env;
use std::path::PathBuf;
use std::process::{exit, Command};

/// Sources the firmware is built from, relative to the crate.
const SOURCES: [&str; 2] = ["firmware/firmware.S", "firmware/firmware.ld"];

/// Anything larger means the linker script went wrong (the image is ~5 KiB).
const MAX_IMAGE_SIZE: u64 = 64 * 1024;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for source in SOURCES {
        println!("cargo:rerun-if-changed={source}");
    }
    // The firmware is x86-64 code for a KVM x86 guest; other targets have
    // no use for it and may lack an x86-64 binutils.
    if env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("x86_64") {
        return;
    }
    if let Err(message) = build_firmware() {
        eprintln!("error: cannot build the refvmm guest firmware: {message}");
        exit(1);
    }
}

fn build_firmware() -> Result<(), String> {
    let crate_dir = env_path("CARGO_MANIFEST_DIR")?;
    let out_dir = env_path("OUT_DIR")?;
    let source = crate_dir.join(SOURCES[0]);
    let script = crate_dir.join(SOURCES[1]);
    let object = out_dir.join("firmware.o");
    let elf = out_dir.join("firmware.elf");
    let image = out_dir.join("firmware.bin");

    run(Command::new("as")
        .arg("--64")
        .arg("-o")
        .arg(&object)
        .arg(&source))?;
    run(Command::new("ld")
        .args(["-m", "elf_x86_64", "--build-id=none", "-T"])
        .arg(&script)
        .arg("-o")
        .arg(&elf)
        .arg(&object))?;
    run(Command::new("objcopy")
        .args(["-O", "binary"])
        .arg(&elf)
        .arg(&image))?;

    let size = std::fs::metadata(&image)
        .map_err(|e| format!("cannot read {}: {e}", image.display()))?
        .len();
    if size == 0 || size > MAX_IMAGE_SIZE {
        return Err(format!(
            "{} is {size} bytes, expected 1 to {MAX_IMAGE_SIZE}",
            image.display()
        ));
    }
    Ok(())
}

fn env_path(name: &str) -> Result<PathBuf, String> {
    env::var_os(name)
        .map(PathBuf::from)
        .ok_or_else(|| format!("cargo did not set {name}"))
}

/// Runs a binutils tool; its warnings become cargo warnings.
fn run(command: &mut Command) -> Result<(), String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command.output().map_err(|e| {
        format!("cannot run `{program}`: {e}; install GNU binutils (as, ld, objcopy)")
    })?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "`{program}` failed ({}):\n{}",
            output.status,
            stderr.trim_end()
        ));
    }
    for line in stderr.lines().filter(|line| !line.trim().is_empty()) {
        println!("cargo:warning={program}: {line}");
    }
    Ok(())
}
