//! The VM and its in-kernel platform: creating the VM with its PIC,
//! IOAPIC and PIT, and the platform's power-on state that a reset restores.

use std::fmt;

use kvm_bindings::{kvm_irqchip, kvm_pit_config, kvm_pit_state2, KVM_PIT_SPEAKER_DUMMY};
use kvm_ioctls::{Kvm, VmFd};

use super::error::{kvm_err, Result, VmmError};

/// Where KVM puts the three pages Intel VT needs for the real-mode TSS
/// (just below the BIOS area, out of RAM's way).
const TSS_ADDR: usize = 0xfffb_d000;

/// Creates the VM with its real-mode TSS area, in-kernel irqchip (PIC and
/// IOAPIC) and PIT.
pub(super) fn create_vm(kvm: &Kvm) -> Result<VmFd> {
    let vm = kvm.create_vm().map_err(kvm_err("KVM_CREATE_VM"))?;
    vm.set_tss_address(TSS_ADDR)
        .map_err(kvm_err("KVM_SET_TSS_ADDR"))?;
    vm.create_irq_chip()
        .map_err(kvm_err("KVM_CREATE_IRQCHIP"))?;
    // The dummy speaker makes KVM emulate port 0x61 (PIT channel 2
    // gate), which PIT-calibrating guests poll.
    vm.create_pit2(kvm_pit_config {
        flags: KVM_PIT_SPEAKER_DUMMY,
        ..Default::default()
    })
    .map_err(kvm_err("KVM_CREATE_PIT2"))?;
    Ok(vm)
}

/// In-kernel PIC, IOAPIC and PIT state at power-on, restored by a reset.
pub(super) struct PlatformState {
    irqchips: Vec<kvm_irqchip>,
    pit: kvm_pit_state2,
}

impl PlatformState {
    /// Reads the in-kernel PIC, IOAPIC and PIT state.
    pub(super) fn capture(vm: &VmFd) -> Result<Self> {
        let mut irqchips = Vec::new();
        for chip_id in [
            kvm_bindings::KVM_IRQCHIP_PIC_MASTER,
            kvm_bindings::KVM_IRQCHIP_PIC_SLAVE,
            kvm_bindings::KVM_IRQCHIP_IOAPIC,
        ] {
            let mut chip = kvm_irqchip {
                chip_id,
                ..Default::default()
            };
            vm.get_irqchip(&mut chip)
                .map_err(|e| VmmError::Kvm("KVM_GET_IRQCHIP", e))?;
            irqchips.push(chip);
        }
        let pit = vm
            .get_pit2()
            .map_err(|e| VmmError::Kvm("KVM_GET_PIT2", e))?;
        Ok(Self { irqchips, pit })
    }

    /// Writes the captured state back.
    pub(super) fn restore(&self, vm: &VmFd) -> Result<()> {
        for chip in &self.irqchips {
            vm.set_irqchip(chip)
                .map_err(|e| VmmError::Kvm("KVM_SET_IRQCHIP", e))?;
        }
        vm.set_pit2(&self.pit)
            .map_err(|e| VmmError::Kvm("KVM_SET_PIT2", e))
    }
}

impl fmt::Debug for PlatformState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformState").finish_non_exhaustive()
    }
}
