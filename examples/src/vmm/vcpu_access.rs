//! Reaching the vCPUs from monitor threads: their count, what `info cpus`
//! and `info registers` show ([`VcpuInfo`], [`Registers`]), and NMIs.
//! Each read runs on the vCPU's own thread.

use super::error::{kvm_err, Result};
use super::{kvm_regs, kvm_sregs, Machine};

/// One vCPU as `query-cpus-fast` / `info cpus` want it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VcpuInfo {
    /// Index (0-based, also the APIC ID).
    pub index: usize,
    /// Host thread ID (`gettid`) of the vCPU's thread.
    pub thread_id: i32,
    /// Waiting for an interrupt (`hlt`), or for INIT/SIPI.
    pub halted: bool,
    /// The instruction pointer.
    pub rip: u64,
}

/// A vCPU's registers, for `info registers`.
#[derive(Debug, Clone, Copy)]
pub struct Registers {
    /// General registers, RIP and RFLAGS.
    pub regs: kvm_regs,
    /// Segments, descriptor tables, control registers, EFER, APIC base.
    pub sregs: kvm_sregs,
}

impl Machine {
    /// The number of vCPUs.
    pub fn vcpu_count(&self) -> usize {
        self.threads.len()
    }

    /// Injects an NMI into vCPU `index` (QEMU's `inject-nmi` does it for
    /// every vCPU). `KVM_NMI` is issued by the vCPU's own thread: it is
    /// kicked out of `KVM_RUN` if running, issues the ioctl, and goes back
    /// in, so the guest takes the NMI at once. A paused vCPU takes it when
    /// resumed.
    ///
    /// # Errors
    ///
    /// [`VmmError::NoSuchVcpu`](super::VmmError::NoSuchVcpu), a failing
    /// `KVM_NMI`, or [`VmmError::OnVcpuThread`](super::VmmError::OnVcpuThread).
    pub fn inject_nmi(&self, index: usize) -> Result<()> {
        self.control
            .run_on(index, |vcpu| vcpu.fd.nmi())?
            .map_err(kvm_err("KVM_NMI"))
    }

    /// Every vCPU's index, host thread ID, halted state and RIP. The
    /// values are read on each vCPU's thread: a running vCPU is kicked out
    /// of `KVM_RUN` for the few microseconds this takes, so they are
    /// current, not sampled.
    ///
    /// # Errors
    ///
    /// A failing ioctl, or [`VmmError::OnVcpuThread`](super::VmmError::OnVcpuThread).
    pub fn vcpu_info(&self) -> Result<Vec<VcpuInfo>> {
        (0..self.threads.len())
            .map(|index| {
                self.control.run_on(index, move |vcpu| {
                    Ok(VcpuInfo {
                        index,
                        thread_id: vcpu.thread_id,
                        halted: vcpu.halted()?,
                        rip: vcpu.fd.get_regs().map_err(kvm_err("KVM_GET_REGS"))?.rip,
                    })
                })?
            })
            .collect()
    }

    /// The host thread IDs of the vCPU threads, without disturbing them
    /// (what `query-cpus-fast` needs).
    pub fn thread_ids(&self) -> Vec<i32> {
        self.control.thread_ids()
    }

    /// vCPU `index`'s registers (read on its thread, as [`vcpu_info`](Self::vcpu_info)).
    ///
    /// # Errors
    ///
    /// [`VmmError::NoSuchVcpu`](super::VmmError::NoSuchVcpu), a failing
    /// ioctl, or [`VmmError::OnVcpuThread`](super::VmmError::OnVcpuThread).
    pub fn registers(&self, index: usize) -> Result<Registers> {
        self.control.run_on(index, |vcpu| {
            Ok(Registers {
                regs: vcpu.fd.get_regs().map_err(kvm_err("KVM_GET_REGS"))?,
                sregs: vcpu.fd.get_sregs().map_err(kvm_err("KVM_GET_SREGS"))?,
            })
        })?
    }
}
