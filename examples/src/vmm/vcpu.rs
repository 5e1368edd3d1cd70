//! vCPU threads and the protocol that starts, stops and borrows them.
//!
//! Each vCPU has one host thread that owns its `VcpuFd` and loops:
//!
//! 1. Under the control lock, run queued requests (closures from other
//!    threads that need the vCPU fd: read registers, inject an NMI, restore
//!    the power-on state), then, if the machine should not run, mark itself
//!    stopped, wake whoever waits for that, and sleep on the condition
//!    variable.
//! 2. Otherwise mark itself running, drop the lock and call `KVM_RUN`. No
//!    lock is held while the guest runs.
//! 3. Handle the exit (port I/O goes to the device bus; a reset request,
//!    power-off or error stops every vCPU and is reported as an event) and
//!    go back to 1.
//!
//! Another thread that wants the vCPUs out of `KVM_RUN` changes the shared
//! state first, under the lock, then *kicks* the threads: it sends them
//! [`kick_signal`] with `pthread_kill`. The signal's handler, running on
//! the vCPU thread, sets `kvm_run.immediate_exit = 1`. So a kick that lands
//! while the thread is in `KVM_RUN` makes it return `EINTR`, and one that
//! lands just before (between the state check and the ioctl) makes the
//! next `KVM_RUN` return `EINTR` at once instead of being lost. The thread
//! clears `immediate_exit` after each `EINTR` and re-reads the state, which
//! was written before the kick. A vCPU halted in the kernel (`hlt` with the
//! in-kernel LAPIC) is woken by the signal too.
//!
//! Secondary vCPUs (index > 0) enter `KVM_RUN` like vCPU 0, but KVM keeps
//! them blocked in the kernel in their wait-for-SIPI state (with the
//! in-kernel irqchip an AP starts `KVM_MP_STATE_UNINITIALIZED`) until a
//! guest INIT/SIPI starts them; our firmware sends none, so they stay
//! parked. Kicks get them out of that wait like any other.

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use kvm_bindings::{
    kvm_debugregs, kvm_fpu, kvm_lapic_state, kvm_mp_state, kvm_regs, kvm_sregs, kvm_vcpu_events,
    kvm_xcrs, Msrs, KVM_MP_STATE_HALTED, KVM_MP_STATE_INIT_RECEIVED, KVM_MP_STATE_UNINITIALIZED,
    KVM_SYSTEM_EVENT_RESET, KVM_SYSTEM_EVENT_SHUTDOWN,
};
use kvm_ioctls::{VcpuExit, VcpuFd};
use libc::{c_int, c_void, siginfo_t};
use parking_lot::{Condvar, Mutex, MutexGuard};
use vmm_sys_util::signal::{register_signal_handler, SIGRTMIN};

use super::devices::{DeviceBus, Request as DeviceRequest};
use super::{MachineEvent, ResetCause, Result, Status, VmmError};

/// MSRs saved at power-on and restored by a reset, when the host's KVM
/// knows them: SYSENTER, the SYSCALL family, kernel GS base, TSC_AUX, PAT,
/// MISC_ENABLE, MTRRdefType, and the KVM paravirtual MSRs (kvmclock, async
/// page faults, steal time, PV EOI) so that a guest which enabled them
/// (Linux) is not written to after a reset.
const RESET_MSRS: &[u32] = &[
    0x174,       // IA32_SYSENTER_CS
    0x175,       // IA32_SYSENTER_ESP
    0x176,       // IA32_SYSENTER_EIP
    0xc000_0081, // STAR
    0xc000_0082, // LSTAR
    0xc000_0083, // CSTAR
    0xc000_0084, // SYSCALL_MASK
    0xc000_0102, // KERNEL_GS_BASE
    0xc000_0103, // TSC_AUX
    0x277,       // PAT
    0x1a0,       // MISC_ENABLE
    0x2ff,       // MTRRdefType
    0x4b56_4d00, // KVM wall clock (new)
    0x4b56_4d01, // KVM system time (new)
    0x4b56_4d02, // KVM async PF enable
    0x4b56_4d03, // KVM steal time
    0x4b56_4d04, // KVM PV EOI
    0x11,        // KVM wall clock (old)
    0x12,        // KVM system time (old)
];

/// The signal that kicks vCPU threads out of `KVM_RUN`: `SIGRTMIN()`.
pub fn kick_signal() -> c_int {
    SIGRTMIN()
}

thread_local! {
    /// On a vCPU thread: its `kvm_run.immediate_exit` byte. Const-initialised
    /// and without destructor, so the signal handler may read it.
    static IMMEDIATE_EXIT: Cell<*mut u8> = const { Cell::new(std::ptr::null_mut()) };
}

/// Whether the calling thread is one of our vCPU threads.
pub fn on_vcpu_thread() -> bool {
    IMMEDIATE_EXIT.with(|p| !p.get().is_null())
}

#[allow(unsafe_code)]
extern "C" fn handle_kick(_: c_int, _: *mut siginfo_t, _: *mut c_void) {
    // `try_with` cannot fail for a const-initialised thread-local without
    // destructor; it neither allocates nor locks, so this is
    // async-signal-safe.
    let Ok(byte) = IMMEDIATE_EXIT.try_with(Cell::get) else {
        return;
    };
    if !byte.is_null() {
        // SAFETY: a non-null value was set by this very thread (thread-local)
        // to `&mut kvm_run.immediate_exit` of the vCPU it owns, and is reset
        // to null before that vCPU (and so the kvm_run mapping) is dropped:
        // the byte is mapped and writable. The write is volatile and a
        // single byte, so interrupting code that reads kvm_run sees either
        // value; only KVM and our loop (which clears it after EINTR) read it.
        unsafe { byte.write_volatile(1) };
    }
}

/// Installs the kick handler, once per process.
pub fn install_kick_handler() -> Result<()> {
    static INSTALLED: OnceLock<std::result::Result<(), vmm_sys_util::errno::Error>> =
        OnceLock::new();
    (*INSTALLED.get_or_init(|| register_signal_handler(kick_signal(), handle_kick)))
        .map_err(VmmError::Signal)
}

/// A closure to run on a vCPU thread, with its vCPU.
pub type VcpuTask = Box<dyn FnOnce(&mut Vcpu) + Send>;

/// The state every vCPU thread and every controlling thread share.
#[derive(Debug)]
pub struct Control {
    state: Mutex<ControlState>,
    cond: Condvar,
}

/// What [`Control`]'s lock protects.
#[derive(Debug)]
pub struct ControlState {
    /// Whether vCPUs may enter `KVM_RUN`.
    pub run: bool,
    /// Whether vCPU threads must end.
    pub exit: bool,
    /// The run state reported to the monitor.
    pub status: Status,
    /// One slot per vCPU.
    pub vcpus: Vec<VcpuSlot>,
}

/// What the machine knows of one vCPU thread.
#[derive(Default)]
pub struct VcpuSlot {
    /// Out of `KVM_RUN` and waiting (or about to wait) for permission.
    pub stopped: bool,
    /// The thread has ended (or never started): never signal it.
    pub exited: bool,
    /// The thread's pthread handle, once it runs.
    pthread: Option<libc::pthread_t>,
    /// The thread's host thread ID, once it runs.
    tid: i32,
    /// Closures waiting to run on the thread.
    tasks: VecDeque<VcpuTask>,
}

impl fmt::Debug for VcpuSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VcpuSlot")
            .field("stopped", &self.stopped)
            .field("exited", &self.exited)
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

impl Control {
    /// State for `vcpus` vCPUs, none running, in `prelaunch`.
    pub fn new(vcpus: usize) -> Self {
        Self {
            state: Mutex::new(ControlState {
                run: false,
                exit: false,
                status: Status::Prelaunch,
                vcpus: (0..vcpus)
                    .map(|_| VcpuSlot {
                        exited: true, // until its thread starts
                        stopped: true,
                        ..VcpuSlot::default()
                    })
                    .collect(),
            }),
            cond: Condvar::new(),
        }
    }

    /// Locks the state.
    pub fn lock(&self) -> MutexGuard<'_, ControlState> {
        self.state.lock()
    }

    /// Wakes every thread waiting on the state.
    pub fn notify(&self) {
        self.cond.notify_all();
    }

    /// Marks vCPU `index`'s thread as started (it will be signalled from
    /// now on) before the thread itself runs.
    pub fn thread_spawning(&self, index: usize) {
        let mut st = self.lock();
        st.vcpus[index].exited = false;
        st.vcpus[index].stopped = false;
    }

    /// Undoes [`thread_spawning`](Self::thread_spawning) when the spawn failed.
    pub fn thread_not_spawned(&self, index: usize) {
        let mut st = self.lock();
        st.vcpus[index].exited = true;
        st.vcpus[index].stopped = true;
        drop(st);
        self.notify();
    }

    /// Stops every vCPU and waits until none is in `KVM_RUN`. Call with
    /// the state locked, from a thread that is not a vCPU thread.
    pub fn stop_and_wait(&self, st: &mut MutexGuard<'_, ControlState>) {
        st.run = false;
        kick_all(st, None);
        while !st.vcpus.iter().all(|v| v.stopped || v.exited) {
            // A kick cannot be lost (see the module docs); kick again after
            // a while all the same, in case a thread was slow to start.
            if self
                .cond
                .wait_for(st, Duration::from_millis(50))
                .timed_out()
            {
                kick_all(st, None);
            }
        }
    }

    /// Tells every vCPU thread to end (they do once out of `KVM_RUN`).
    pub fn end_threads(&self) {
        let mut st = self.lock();
        st.exit = true;
        st.run = false;
        kick_all(&mut st, None);
        drop(st);
        self.notify();
    }

    /// The host thread IDs of the vCPU threads. A thread spawned but not
    /// yet running is waited for (a few seconds at most; 0 after that), so
    /// that `query-cpus-fast` right after start names every thread, as
    /// libvirt requires.
    pub fn thread_ids(&self) -> Vec<i32> {
        let mut st = self.lock();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while st.vcpus.iter().any(|v| !v.exited && v.tid == 0)
            && std::time::Instant::now() < deadline
        {
            self.cond.wait_for(&mut st, Duration::from_millis(50));
        }
        st.vcpus.iter().map(|v| v.tid).collect()
    }

    /// Lets the vCPUs run. Call with the state locked.
    pub fn start(&self, st: &mut MutexGuard<'_, ControlState>) {
        st.run = true;
        self.cond.notify_all();
    }

    /// Runs `task` on vCPU `index`'s thread and returns its result: at
    /// once if the vCPU is stopped, else after kicking it out of `KVM_RUN`
    /// (it goes back in afterwards).
    pub fn run_on<R: Send + 'static>(
        &self,
        index: usize,
        task: impl FnOnce(&mut Vcpu) -> R + Send + 'static,
    ) -> Result<R> {
        if on_vcpu_thread() {
            return Err(VmmError::OnVcpuThread);
        }
        let (tx, rx) = mpsc::sync_channel(1);
        {
            let mut st = self.lock();
            let slot = st.vcpus.get_mut(index).ok_or(VmmError::NoSuchVcpu(index))?;
            if slot.exited {
                return Err(VmmError::VcpuGone(index));
            }
            slot.tasks.push_back(Box::new(move |vcpu: &mut Vcpu| {
                // The receiver only goes away if the caller did.
                let _ = tx.send(task(vcpu));
            }));
            if !slot.stopped {
                kick(slot);
            }
        }
        self.cond.notify_all();
        rx.recv().map_err(|_| VmmError::VcpuGone(index))
    }
}

/// Signals every running vCPU thread but `except`.
fn kick_all(st: &mut ControlState, except: Option<usize>) {
    for (i, slot) in st.vcpus.iter().enumerate() {
        if Some(i) != except && !slot.stopped {
            kick(slot);
        }
    }
}

/// Signals one vCPU thread (with the control lock held, which keeps the
/// thread from ending meanwhile).
#[allow(unsafe_code)]
fn kick(slot: &VcpuSlot) {
    let Some(thread) = slot.pthread else {
        return; // not running yet: it reads the state before its first KVM_RUN
    };
    if slot.exited {
        return;
    }
    // SAFETY: `thread` is the pthread handle the vCPU thread stored for
    // itself. The caller holds the control lock and the slot is not
    // `exited`; a vCPU thread sets `exited` under that lock as the last
    // thing it does, and is joined only after that, so the handle still
    // names a live, unjoined thread. The signal has a handler installed
    // (`install_kick_handler`) before any vCPU thread starts.
    let ret = unsafe { libc::pthread_kill(thread, kick_signal()) };
    if ret != 0 {
        log::warn!("cannot kick a vCPU thread: error {ret}");
    }
}

/// What KVM says about a vCPU at power-on, restored by a reset.
pub struct PowerOnState {
    regs: kvm_regs,
    sregs: kvm_sregs,
    fpu: kvm_fpu,
    xcrs: Option<kvm_xcrs>,
    msrs: Msrs,
    mp_state: kvm_mp_state,
    lapic: kvm_lapic_state,
    events: kvm_vcpu_events,
    debugregs: kvm_debugregs,
}

impl fmt::Debug for PowerOnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PowerOnState")
            .field("rip", &self.regs.rip)
            .field("cr0", &self.sregs.cr0)
            .field("mp_state", &self.mp_state.mp_state)
            .field("msrs", &self.msrs.as_slice().len())
            .finish_non_exhaustive()
    }
}

fn kvm(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> VmmError {
    move |e| VmmError::Kvm(what, e)
}

impl PowerOnState {
    /// Reads `fd`'s state. `saved_msrs` are the MSR indices KVM can save
    /// and restore (`KVM_GET_MSR_INDEX_LIST`).
    pub fn capture(fd: &VcpuFd, saved_msrs: &[u32]) -> Result<Self> {
        let wanted: Vec<_> = RESET_MSRS
            .iter()
            .filter(|i| saved_msrs.contains(i))
            .map(|&index| kvm_bindings::kvm_msr_entry {
                index,
                ..Default::default()
            })
            .collect();
        let mut msrs = Msrs::from_entries(&wanted).map_err(|_| VmmError::TooManyMsrs)?;
        let read = fd.get_msrs(&mut msrs).map_err(kvm("KVM_GET_MSRS"))?;
        // KVM stops at the first MSR it cannot read: keep those it did.
        let msrs =
            Msrs::from_entries(&msrs.as_slice()[..read]).map_err(|_| VmmError::TooManyMsrs)?;
        Ok(Self {
            regs: fd.get_regs().map_err(kvm("KVM_GET_REGS"))?,
            sregs: fd.get_sregs().map_err(kvm("KVM_GET_SREGS"))?,
            fpu: fd.get_fpu().map_err(kvm("KVM_GET_FPU"))?,
            xcrs: fd.get_xcrs().ok(),
            msrs,
            mp_state: fd.get_mp_state().map_err(kvm("KVM_GET_MP_STATE"))?,
            lapic: fd.get_lapic().map_err(kvm("KVM_GET_LAPIC"))?,
            events: fd.get_vcpu_events().map_err(kvm("KVM_GET_VCPU_EVENTS"))?,
            debugregs: fd.get_debug_regs().map_err(kvm("KVM_GET_DEBUGREGS"))?,
        })
    }

    /// Writes the state back, in the order QEMU uses for a reset.
    pub fn restore(&self, fd: &VcpuFd) -> Result<()> {
        fd.set_regs(&self.regs).map_err(kvm("KVM_SET_REGS"))?;
        if let Some(xcrs) = &self.xcrs {
            fd.set_xcrs(xcrs).map_err(kvm("KVM_SET_XCRS"))?;
        }
        fd.set_fpu(&self.fpu).map_err(kvm("KVM_SET_FPU"))?;
        fd.set_sregs(&self.sregs).map_err(kvm("KVM_SET_SREGS"))?;
        fd.set_msrs(&self.msrs).map_err(kvm("KVM_SET_MSRS"))?;
        fd.set_mp_state(self.mp_state)
            .map_err(kvm("KVM_SET_MP_STATE"))?;
        fd.set_lapic(&self.lapic).map_err(kvm("KVM_SET_LAPIC"))?;
        fd.set_vcpu_events(&self.events)
            .map_err(kvm("KVM_SET_VCPU_EVENTS"))?;
        fd.set_debug_regs(&self.debugregs)
            .map_err(kvm("KVM_SET_DEBUGREGS"))
    }
}

/// A vCPU as its thread owns it.
#[derive(Debug)]
pub struct Vcpu {
    /// Its index (and APIC ID).
    pub index: usize,
    /// The KVM vCPU.
    pub fd: VcpuFd,
    /// What a reset restores.
    pub power_on: PowerOnState,
    /// Host thread ID of the vCPU's thread (set by the thread).
    pub thread_id: i32,
}

impl Vcpu {
    /// Whether the vCPU waits for an interrupt (`hlt`) or, for a
    /// secondary vCPU, for INIT/SIPI.
    pub fn halted(&self) -> Result<bool> {
        let mp = self.fd.get_mp_state().map_err(kvm("KVM_GET_MP_STATE"))?;
        Ok(matches!(
            mp.mp_state,
            KVM_MP_STATE_HALTED | KVM_MP_STATE_UNINITIALIZED | KVM_MP_STATE_INIT_RECEIVED
        ))
    }
}

/// What the run loop does after an exit.
enum Outcome {
    Continue,
    Reset(ResetCause),
    PowerOff,
    Error(String),
}

/// What a vCPU thread needs besides its vCPU.
pub struct VcpuContext {
    /// Run control, shared with the machine.
    pub control: std::sync::Arc<Control>,
    /// The port-I/O devices.
    pub bus: std::sync::Arc<DeviceBus>,
    /// Where guest-initiated events go.
    pub events: mpsc::Sender<MachineEvent>,
}

impl fmt::Debug for VcpuContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VcpuContext").finish_non_exhaustive()
    }
}

/// The body of a vCPU thread: see the [module docs](self).
#[allow(unsafe_code)]
pub fn vcpu_thread(mut vcpu: Vcpu, ctx: VcpuContext) {
    let index = vcpu.index;
    let immediate_exit = std::ptr::addr_of_mut!(vcpu.fd.get_kvm_run().immediate_exit);
    IMMEDIATE_EXIT.with(|p| p.set(immediate_exit));
    // SAFETY: gettid has no preconditions and cannot fail.
    vcpu.thread_id = unsafe { libc::gettid() };
    {
        let mut st = ctx.control.lock();
        // SAFETY: pthread_self has no preconditions and cannot fail.
        st.vcpus[index].pthread = Some(unsafe { libc::pthread_self() });
        st.vcpus[index].tid = vcpu.thread_id;
    }
    // Whoever waits for the thread IDs (`Control::thread_ids`).
    ctx.control.notify();
    loop {
        let mut st = ctx.control.lock();
        loop {
            if let Some(task) = st.vcpus[index].tasks.pop_front() {
                MutexGuard::unlocked(&mut st, || task(&mut vcpu));
                continue;
            }
            if st.exit {
                // Last use of the vCPU's kvm_run by the handler: forget it
                // before the vCPU is dropped, and say we are gone (under the
                // lock, so no one signals this thread after it returns).
                IMMEDIATE_EXIT.with(|p| p.set(std::ptr::null_mut()));
                let slot = &mut st.vcpus[index];
                slot.exited = true;
                slot.stopped = true;
                // Tasks still queued are dropped: their callers get VcpuGone.
                slot.tasks.clear();
                drop(st);
                ctx.control.notify();
                return;
            }
            if st.run {
                break;
            }
            if !st.vcpus[index].stopped {
                st.vcpus[index].stopped = true;
                ctx.control.notify();
            }
            ctx.control.cond.wait(&mut st);
        }
        st.vcpus[index].stopped = false;
        drop(st);

        match run_once(&mut vcpu, &ctx.bus) {
            Outcome::Continue => {}
            Outcome::Reset(cause) => {
                stop_from_vcpu(&ctx.control, index, None);
                let _ = ctx
                    .events
                    .send(MachineEvent::ResetRequested { vcpu: index, cause });
            }
            Outcome::PowerOff => {
                stop_from_vcpu(&ctx.control, index, Some(Status::Shutdown));
                let _ = ctx.events.send(MachineEvent::PoweredOff { vcpu: index });
            }
            Outcome::Error(message) => {
                log::error!("vCPU {index}: {message}");
                stop_from_vcpu(&ctx.control, index, Some(Status::InternalError));
                let _ = ctx.events.send(MachineEvent::InternalError {
                    vcpu: index,
                    message,
                });
            }
        }
    }
}

/// A vCPU stops the machine (it cannot wait for the others: it only kicks
/// them, and stops itself at the top of its loop).
fn stop_from_vcpu(control: &Control, index: usize, status: Option<Status>) {
    let mut st = control.lock();
    st.run = false;
    if let Some(status) = status {
        st.status = status;
    }
    kick_all(&mut st, Some(index));
}

/// Describes a `KVM_EXIT_INTERNAL_ERROR` that `fd` just returned.
#[allow(unsafe_code)]
fn internal_error(fd: &mut VcpuFd) -> String {
    let run = fd.get_kvm_run();
    // SAFETY: the last exit was KVM_EXIT_INTERNAL_ERROR, for which the
    // kernel fills the `internal` member of the union; all its fields are
    // plain integers, valid for any bit pattern.
    let internal = unsafe { run.__bindgen_anon_1.internal };
    let what = match internal.suberror {
        kvm_bindings::KVM_INTERNAL_ERROR_EMULATION => "instruction emulation failed",
        kvm_bindings::KVM_INTERNAL_ERROR_SIMUL_EX => "exception while delivering an exception",
        kvm_bindings::KVM_INTERNAL_ERROR_DELIVERY_EV => "exit while delivering an event",
        kvm_bindings::KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON => "unexpected exit reason",
        _ => "unknown suberror",
    };
    let n = (internal.ndata as usize).min(internal.data.len());
    format!(
        "KVM internal error {}: {what}, data {:x?}",
        internal.suberror,
        &internal.data[..n]
    )
}

/// One `KVM_RUN` and the handling of its exit.
fn run_once(vcpu: &mut Vcpu, bus: &DeviceBus) -> Outcome {
    let mut interrupted = false;
    let outcome = match vcpu.fd.run() {
        Ok(VcpuExit::IoIn(port, data)) => {
            bus.read(port, data);
            Outcome::Continue
        }
        Ok(VcpuExit::IoOut(port, data)) => match bus.write(port, data) {
            DeviceRequest::None => Outcome::Continue,
            DeviceRequest::Reset => Outcome::Reset(ResetCause::Keyboard),
            DeviceRequest::PowerOff => Outcome::PowerOff,
        },
        Ok(VcpuExit::MmioRead(addr, data)) => {
            bus.mmio_read(addr, data);
            Outcome::Continue
        }
        Ok(VcpuExit::MmioWrite(addr, data)) => {
            bus.mmio_write(addr, data);
            Outcome::Continue
        }
        // Triple fault.
        Ok(VcpuExit::Shutdown) => Outcome::Reset(ResetCause::TripleFault),
        Ok(VcpuExit::SystemEvent(KVM_SYSTEM_EVENT_RESET, _)) => {
            Outcome::Reset(ResetCause::SystemEvent)
        }
        Ok(VcpuExit::SystemEvent(KVM_SYSTEM_EVENT_SHUTDOWN, _)) => Outcome::PowerOff,
        Ok(VcpuExit::Intr) => {
            interrupted = true;
            Outcome::Continue
        }
        // Harmless: the in-kernel irqchip handles these, or they need no answer.
        Ok(
            VcpuExit::Hlt
            | VcpuExit::IrqWindowOpen
            | VcpuExit::IoapicEoi(_)
            | VcpuExit::Debug(_)
            | VcpuExit::SystemEvent(..),
        ) => Outcome::Continue,
        Ok(VcpuExit::FailEntry(reason, cpu)) => Outcome::Error(format!(
            "KVM_RUN failed to enter the guest: hardware reason {reason:#x} on host CPU {cpu}"
        )),
        Ok(VcpuExit::InternalError) => Outcome::Error(internal_error(&mut vcpu.fd)),
        Ok(other) => Outcome::Error(format!("unexpected exit: {other:?}")),
        Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
            interrupted = true;
            Outcome::Continue
        }
        Err(e) => Outcome::Error(format!("KVM_RUN failed: {e}")),
    };
    if interrupted {
        // Kicked: consume the kick, then the loop re-reads the state.
        vcpu.fd.set_kvm_immediate_exit(0);
    }
    outcome
}
