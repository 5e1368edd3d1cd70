//! What can go wrong loading a kernel: [`LinuxError`].

use std::path::PathBuf;

/// Errors of loading a kernel.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinuxError {
    /// A file cannot be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The image is neither an ELF file nor a bzImage.
    #[error("the kernel is neither an ELF vmlinux nor a bzImage")]
    UnknownFormat,
    /// linux-loader refused the image. Its message is shown, not chained:
    /// linux-loader's errors already repeat their sources.
    #[error("cannot load the kernel ({0})")]
    Load(linux_loader::loader::Error),
    /// An ELF kernel's segments reach beyond RAM below the MMIO hole.
    #[error("the kernel loads up to {end:#x}, but RAM below 3 GiB ends at {ram_end:#x} (add -m)")]
    TooLarge {
        /// One past its highest physical byte.
        end: u64,
        /// One past the highest byte of RAM at 0.
        ram_end: u64,
    },
    /// A bzImage without the 64-bit entry point.
    #[error("the bzImage has no 64-bit entry point (boot protocol 2.12 or later)")]
    No64BitEntry,
    /// The command line has a NUL byte.
    #[error("the kernel command line contains a NUL byte")]
    CmdlineNul,
    /// The command line is longer than the kernel takes.
    #[error("the kernel command line has {len} bytes, the kernel takes at most {max}")]
    CmdlineTooLong {
        /// Its length, with the NUL.
        len: usize,
        /// The kernel's limit, with the NUL.
        max: usize,
    },
    /// The initrd does not fit between the kernel and the top of low RAM.
    #[error("an initrd of {len} bytes does not fit in RAM above the kernel ({room} bytes free)")]
    InitrdTooLarge {
        /// Its size.
        len: usize,
        /// The room there is.
        room: u64,
    },
    /// Boot data could not be written (RAM too small).
    #[error("cannot write the {0} to guest memory")]
    Write(&'static str),
}
