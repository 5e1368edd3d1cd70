//! Run control: start, pause, resume, reset and shut down the vCPUs, and
//! read the run state ([`Status`]).

use super::construct::load_guest;
use super::error::{Result, VmmError};
use super::status::Status;
use super::vcpu::on_vcpu_thread;
use super::Machine;

impl Machine {
    /// Starts the guest, or with `paused` leaves it in `prelaunch` until
    /// [`resume`](Self::resume) (QEMU's `-S`). The vCPU threads exist
    /// from [`new`](Self::new) on; this only lets them run.
    ///
    /// # Errors
    ///
    /// As [`resume`](Self::resume).
    pub fn start(&self, paused: bool) -> Result<()> {
        if paused {
            Ok(())
        } else {
            self.resume().map(|_| ())
        }
    }

    /// Stops every vCPU and returns once none runs guest code (QEMU's
    /// `stop`). Returns whether the machine was running (whether to emit
    /// `STOP`); other states are left as they are.
    ///
    /// # Errors
    ///
    /// [`VmmError::OnVcpuThread`] if called from a vCPU thread.
    pub fn pause(&self) -> Result<bool> {
        self.not_on_vcpu_thread()?;
        let _op = self.op.lock();
        let mut st = self.control.lock();
        if st.status != Status::Running {
            return Ok(false);
        }
        st.status = Status::Paused;
        self.control.stop_and_wait(&mut st);
        Ok(true)
    }

    /// Lets the vCPUs run again (QEMU's `cont`). Returns whether the
    /// machine was stopped (`prelaunch` or `paused`).
    ///
    /// # Errors
    ///
    /// [`VmmError::NeedsReset`] in `shutdown` or `internal-error`;
    /// [`VmmError::OnVcpuThread`] from a vCPU thread.
    pub fn resume(&self) -> Result<bool> {
        self.not_on_vcpu_thread()?;
        let _op = self.op.lock();
        let mut st = self.control.lock();
        match st.status {
            Status::Running => Ok(false),
            Status::Shutdown | Status::InternalError => Err(VmmError::NeedsReset(st.status)),
            Status::Prelaunch | Status::Paused => {
                st.status = Status::Running;
                self.control.start(&mut st);
                Ok(true)
            }
        }
    }

    /// Resets the machine (QEMU's `system_reset`, or the answer to a
    /// [`MachineEvent::ResetRequested`](super::MachineEvent::ResetRequested)): stops the vCPUs, restores each
    /// one's power-on registers (general, segment, control, FPU, XCRs,
    /// MSRs, LAPIC, MP state, pending events, debug registers), the
    /// in-kernel PIC/IOAPIC/PIT and the devices, zeroes RAM and reloads
    /// the firmware (or the kernel, re-entered as at power-on). A machine
    /// that was running runs on; any other goes to `prelaunch`.
    ///
    /// # Errors
    ///
    /// A failing ioctl (the status becomes `internal-error`), or
    /// [`VmmError::OnVcpuThread`].
    pub fn reset(&self) -> Result<()> {
        self.not_on_vcpu_thread()?;
        let _op = self.op.lock();
        let was_running = {
            let mut st = self.control.lock();
            self.control.stop_and_wait(&mut st);
            st.status == Status::Running
        };
        let restored = self.restore_power_on_state();
        let mut st = self.control.lock();
        match restored {
            Ok(()) if was_running => {
                st.status = Status::Running;
                self.control.start(&mut st);
                Ok(())
            }
            Ok(()) => {
                st.status = Status::Prelaunch;
                Ok(())
            }
            Err(e) => {
                st.status = Status::InternalError;
                Err(e)
            }
        }
    }

    fn restore_power_on_state(&self) -> Result<()> {
        for index in 0..self.threads.len() {
            self.control
                .run_on(index, |vcpu| vcpu.power_on.restore(&vcpu.fd))??;
        }
        self.platform.restore(&self.vm)?;
        self.bus.reset();
        self.ram.clear()?;
        load_guest(&self.ram, &self.firmware, self.kernel.as_ref()).map(drop)
    }

    /// Stops every vCPU for good (status `shutdown`): for `-no-reboot`
    /// after a guest reset request, or before quitting. Only
    /// [`reset`](Self::reset) makes the guest run again.
    ///
    /// # Errors
    ///
    /// [`VmmError::OnVcpuThread`].
    pub fn shutdown(&self) -> Result<()> {
        self.not_on_vcpu_thread()?;
        let _op = self.op.lock();
        let mut st = self.control.lock();
        st.status = Status::Shutdown;
        self.control.stop_and_wait(&mut st);
        Ok(())
    }

    /// The run state.
    pub fn status(&self) -> Status {
        self.control.lock().status
    }

    /// Whether the status is `running`.
    pub fn is_running(&self) -> bool {
        self.status() == Status::Running
    }

    fn not_on_vcpu_thread(&self) -> Result<()> {
        if on_vcpu_thread() {
            Err(VmmError::OnVcpuThread)
        } else {
            Ok(())
        }
    }
}
