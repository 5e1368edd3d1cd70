//! What can go wrong building or driving a [`Machine`](super::Machine):
//! [`VmmError`], the machine's [`Result`], and the helper that names a
//! failing KVM ioctl.

use std::io;

use super::linux;
use super::status::Status;

/// Errors of the machine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VmmError {
    /// `/dev/kvm` cannot be opened.
    #[error("cannot open /dev/kvm")]
    OpenKvm(#[source] kvm_ioctls::Error),
    /// The kernel speaks another KVM API.
    #[error("KVM API version {0} is not supported (12 is)")]
    ApiVersion(i32),
    /// The kernel's KVM lacks something we need.
    #[error("KVM lacks {0}")]
    MissingCapability(&'static str),
    /// A KVM ioctl failed.
    #[error("{0} failed")]
    Kvm(&'static str, #[source] kvm_ioctls::Error),
    /// Zero vCPUs were asked for.
    #[error("a machine needs at least one vCPU")]
    NoVcpus,
    /// More vCPUs were asked for than KVM (or the APIC ID space) allows.
    #[error("{requested} vCPUs requested, at most {max} supported")]
    TooManyVcpus {
        /// Asked for.
        requested: usize,
        /// The limit.
        max: usize,
    },
    /// The memory size is zero or not whole pages.
    #[error("memory size {0:#x} is not a non-zero multiple of 4 KiB")]
    MemorySize(u64),
    /// The host cannot map guest memory.
    #[error("cannot map guest memory")]
    Memory(#[source] vm_memory::Error),
    /// A write to guest memory fell outside RAM.
    #[error("cannot write {len} bytes of guest memory at {addr:#x}")]
    GuestWrite {
        /// Guest-physical address.
        addr: u64,
        /// Bytes.
        len: usize,
    },
    /// A read of guest memory fell outside RAM.
    #[error("cannot read {len} bytes of guest memory at {addr:#x}")]
    GuestRead {
        /// Guest-physical address.
        addr: u64,
        /// Bytes.
        len: usize,
    },
    /// The kernel cannot be loaded.
    #[error("cannot boot the kernel")]
    Kernel(#[from] linux::LinuxError),
    /// Guest memory could not be zeroed.
    #[error("cannot zero guest memory")]
    Madvise(#[source] io::Error),
    /// The firmware image does not fit.
    #[error("a firmware image of {len} bytes does not fit at 1 MiB in {ram:#x} bytes of RAM")]
    FirmwareTooLarge {
        /// Image size.
        len: usize,
        /// RAM size.
        ram: u64,
    },
    /// An eventfd could not be created.
    #[error("cannot create an eventfd")]
    EventFd(#[source] io::Error),
    /// The vCPU kick signal's handler could not be installed.
    #[error("cannot install the vCPU kick signal handler")]
    Signal(#[source] vmm_sys_util::errno::Error),
    /// A vCPU thread could not be started.
    #[error("cannot start a vCPU thread")]
    Thread(#[source] io::Error),
    /// The MSR list does not fit KVM's limit (cannot happen with ours).
    #[error("too many MSRs for one KVM call")]
    TooManyMsrs,
    /// There is no vCPU with this index.
    #[error("there is no vCPU {0}")]
    NoSuchVcpu(usize),
    /// The vCPU's thread has ended.
    #[error("vCPU {0} is gone")]
    VcpuGone(usize),
    /// Called from a vCPU thread, where it would wait for itself.
    #[error("this cannot be done from a vCPU thread")]
    OnVcpuThread,
    /// The guest cannot run before a reset.
    #[error("the machine is in state {0}: reset it first")]
    NeedsReset(Status),
    /// The machine was built without a balloon device.
    #[error("the machine has no balloon device")]
    NoBalloon,
}

/// Result with [`VmmError`].
pub type Result<T> = std::result::Result<T, VmmError>;

/// Maps a KVM error to [`VmmError::Kvm`] naming the ioctl `what`.
pub(super) fn kvm_err(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> VmmError {
    move |e| VmmError::Kvm(what, e)
}
