//! A CMOS real-time clock, the MC146818 of the PC (ports `0x70`/`0x71`).
//!
//! Port `0x70` selects a register (bit 7, the NMI mask, is ignored), port
//! `0x71` reads or writes it. The clock is the host's time plus an offset
//! in whole seconds (0 at power-on); no interrupt is ever raised.
//!
//! | register | contents |
//! |----------|----------|
//! | `0x00`, `0x02`, `0x04` | seconds, minutes, hours (in 12-hour mode bit 7 = PM) |
//! | `0x01`, `0x03`, `0x05` | alarms: stored, never fire |
//! | `0x06`, `0x07`, `0x08`, `0x09` | day of week (1 = Sunday), day of month, month, year in the century |
//! | `0x0A` (A) | bit 7 UIP: set during the first 244 µs of each second (clear while SET is held); bits 0–6 stored |
//! | `0x0B` (B) | bit 1 24-hour mode, bit 2 binary (DM) rather than BCD, bit 7 SET; the rest stored |
//! | `0x0C` (C) | no interrupt flags: reads 0 |
//! | `0x0D` (D) | bit 7 VRT (valid RAM and time): reads `0x80` |
//! | `0x32` | century |
//! | anything else up to `0x7F` | battery-backed RAM |
//!
//! # Setting the time
//!
//! As QEMU 7.2 (`hw/rtc/mc146818rtc.c`) does, a guest sets the clock in
//! one of two ways, and each tells the VMM through the injected
//! notification with the new offset (guest time minus host time, in
//! seconds), which the VMM turns into `RTC_CHANGE`:
//!
//! - With SET clear, a write to a time register (seconds, minutes, hours,
//!   day of week, day of month, month, year, century) takes the current
//!   time, replaces that one field and sets the clock: one notification
//!   per write.
//! - With SET set, the clock holds still for the guest: the time registers
//!   read and write a snapshot taken when SET was set, and nothing is
//!   notified. Clearing SET sets the clock from the snapshot: one
//!   notification per release, however many registers were written.
//!
//! QEMU notifies even when the offset does not change; so does this device.
//! The divider bits of register A are stored but the clock always runs
//! (QEMU stops it for divider values other than `010`).
//!
//! A machine reset ([`Rtc::reset`]) keeps the time, the offset and the
//! RAM, and clears register B's interrupt enables and register C, as
//! QEMU's reset does (SET survives it there too).
//!
//! # Examples
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use examples::vmm::devices::rtc::{Rtc, RTC_DATA_PORT, RTC_INDEX_PORT};
//!
//! let changes = Arc::new(Mutex::new(Vec::new()));
//! let seen = Arc::clone(&changes);
//! // 2024-03-05 12:34:56 UTC, held still.
//! let mut rtc = Rtc::new(
//!     Box::new(|| Duration::from_secs(1_709_642_096)),
//!     Box::new(move |offset| seen.lock().unwrap().push(offset)),
//! );
//! rtc.write(RTC_INDEX_PORT, 0x04);
//! assert_eq!(rtc.read(RTC_DATA_PORT), 0x12); // BCD hours
//! rtc.write(RTC_DATA_PORT, 0x13); // one hour later
//! assert_eq!(rtc.offset(), 3600);
//! assert_eq!(*changes.lock().unwrap(), [3600]);
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::calendar::{civil_from_days, days_from_civil};

/// The index port.
pub const RTC_INDEX_PORT: u16 = 0x70;
/// The data port.
pub const RTC_DATA_PORT: u16 = 0x71;

const REG_SECONDS: u8 = 0x00;
const REG_MINUTES: u8 = 0x02;
const REG_HOURS: u8 = 0x04;
const REG_DAY_OF_WEEK: u8 = 0x06;
const REG_DAY_OF_MONTH: u8 = 0x07;
const REG_MONTH: u8 = 0x08;
const REG_YEAR: u8 = 0x09;
const REG_A: u8 = 0x0a;
const REG_B: u8 = 0x0b;
const REG_C: u8 = 0x0c;
const REG_D: u8 = 0x0d;
const REG_CENTURY: u8 = 0x32;

const A_UIP: u8 = 0x80;
const B_24H: u8 = 0x02;
const B_DM_BINARY: u8 = 0x04;
const B_INTERRUPT_ENABLES: u8 = 0x78; // SQWE, UIE, AIE, PIE
const B_SET: u8 = 0x80;
const D_VRT: u8 = 0x80;
const HOURS_PM: u8 = 0x80;

/// How long UIP reads as set at the start of each second.
const UIP_NANOS: u32 = 244_000;

/// The host clock: time since the Unix epoch.
pub type Clock = Box<dyn Fn() -> Duration + Send>;
/// Told the new offset (guest minus host time, seconds) at each change.
pub type Notify = Box<dyn Fn(i64) + Send>;

/// The host's wall clock, for [`Rtc::new`].
pub fn host_clock() -> Clock {
    Box::new(|| {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
    })
}

/// The MC146818 RTC. See the [module docs](self).
pub struct Rtc {
    index: u8,
    cmos: [u8; 128],
    offset: i64,
    clock: Clock,
    notify: Notify,
}

impl fmt::Debug for Rtc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rtc")
            .field("index", &self.index)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

fn is_time_register(reg: u8) -> bool {
    matches!(
        reg,
        REG_SECONDS
            | REG_MINUTES
            | REG_HOURS
            | REG_DAY_OF_WEEK
            | REG_DAY_OF_MONTH
            | REG_MONTH
            | REG_YEAR
            | REG_CENTURY
    )
}

impl Rtc {
    /// An RTC reading `clock` (the host's time, see [`host_clock`]) with
    /// offset 0, 24-hour BCD mode, that calls `notify` when the guest sets
    /// the time.
    pub fn new(clock: Clock, notify: Notify) -> Self {
        let mut cmos = [0u8; 128];
        cmos[usize::from(REG_A)] = 0x26; // 32.768 kHz divider, 1024 Hz rate
        cmos[usize::from(REG_B)] = B_24H;
        cmos[usize::from(REG_D)] = D_VRT;
        Self {
            index: 0,
            cmos,
            offset: 0,
            clock,
            notify,
        }
    }

    /// Records the RAM size in the battery-backed RAM where a PC BIOS
    /// leaves it, as QEMU's `pc` machine does: base memory (640 KiB) at
    /// `0x15`/`0x16`, KiB above 1 MiB (at most 65535) at `0x17`/`0x18` and
    /// `0x30`/`0x31`, 64 KiB blocks above 16 MiB below 4 GiB (at most
    /// 65535) at `0x34`/`0x35`, and 64 KiB blocks above 4 GiB at
    /// `0x5b`..`0x5d`. The firmware sizes its balloon pool from `0x34`.
    ///
    /// ```
    /// use examples::vmm::devices::rtc::{host_clock, Rtc, RTC_DATA_PORT, RTC_INDEX_PORT};
    ///
    /// let mut rtc = Rtc::new(host_clock(), Box::new(|_| {}));
    /// rtc.set_memory_size(128 << 20, 0);
    /// rtc.write(RTC_INDEX_PORT, 0x35);
    /// let high = rtc.read(RTC_DATA_PORT);
    /// rtc.write(RTC_INDEX_PORT, 0x34);
    /// let blocks = u16::from_le_bytes([rtc.read(RTC_DATA_PORT), high]);
    /// assert_eq!(u64::from(blocks) * 64 * 1024, (128 - 16) << 20);
    /// ```
    pub fn set_memory_size(&mut self, below_4g: u64, above_4g: u64) {
        let mut put = |reg: usize, bytes: &[u8]| {
            self.cmos[reg..reg + bytes.len()].copy_from_slice(bytes);
        };
        put(0x15, &640u16.to_le_bytes());
        let ext_kib = (below_4g.saturating_sub(1 << 20) >> 10).min(0xffff) as u16;
        put(0x17, &ext_kib.to_le_bytes());
        put(0x30, &ext_kib.to_le_bytes());
        let blocks = (below_4g.saturating_sub(16 << 20) >> 16).min(0xffff) as u16;
        put(0x34, &blocks.to_le_bytes());
        let high = (above_4g >> 16).min(0xff_ffff) as u32;
        put(0x5b, &high.to_le_bytes()[..3]);
    }

    /// Guest time minus host time, in seconds.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// Handles an `in` from `port` (`0x70` or `0x71`).
    pub fn read(&mut self, port: u16) -> u8 {
        if port != RTC_DATA_PORT {
            return 0xff;
        }
        let reg = self.index;
        let b = self.cmos[usize::from(REG_B)];
        match reg {
            _ if is_time_register(reg) && b & B_SET == 0 => {
                let now = self.now();
                self.encode_time(now.as_secs() as i64, reg)
            }
            REG_A => {
                let a = self.cmos[usize::from(REG_A)] & !A_UIP;
                if b & B_SET == 0 && self.now().subsec_nanos() < UIP_NANOS {
                    a | A_UIP
                } else {
                    a
                }
            }
            REG_C => 0,
            REG_D => D_VRT,
            _ => self.cmos[usize::from(reg)],
        }
    }

    /// Handles an `out` of `value` to `port` (`0x70` or `0x71`).
    pub fn write(&mut self, port: u16, value: u8) {
        match port {
            RTC_INDEX_PORT => self.index = value & 0x7f,
            RTC_DATA_PORT => self.write_register(self.index, value),
            _ => {}
        }
    }

    /// The state after a machine reset (see the [module docs](self)).
    pub fn reset(&mut self) {
        self.cmos[usize::from(REG_B)] &= !B_INTERRUPT_ENABLES;
        self.cmos[usize::from(REG_C)] = 0;
    }

    fn write_register(&mut self, reg: u8, value: u8) {
        let b = self.cmos[usize::from(REG_B)];
        match reg {
            _ if is_time_register(reg) => {
                if b & B_SET == 0 {
                    self.snapshot();
                    self.cmos[usize::from(reg)] = value;
                    self.set_time();
                } else {
                    self.cmos[usize::from(reg)] = value;
                }
            }
            REG_A => self.cmos[usize::from(REG_A)] = value & !A_UIP,
            REG_B => {
                let setting = value & B_SET != 0;
                let was_setting = b & B_SET != 0;
                if setting && !was_setting {
                    // Freeze the registers in the mode in force until now.
                    self.snapshot();
                }
                self.cmos[usize::from(REG_B)] = value;
                if was_setting && !setting {
                    self.set_time();
                }
            }
            REG_C | REG_D => {}
            _ => self.cmos[usize::from(reg)] = value,
        }
    }

    /// The guest's time now.
    fn now(&self) -> Duration {
        let host = (self.clock)();
        let secs = host.as_secs() as i64 + self.offset;
        Duration::new(secs.max(0) as u64, host.subsec_nanos())
    }

    /// Copies the current time into the time registers.
    fn snapshot(&mut self) {
        let secs = self.now().as_secs() as i64;
        for reg in [
            REG_SECONDS,
            REG_MINUTES,
            REG_HOURS,
            REG_DAY_OF_WEEK,
            REG_DAY_OF_MONTH,
            REG_MONTH,
            REG_YEAR,
            REG_CENTURY,
        ] {
            self.cmos[usize::from(reg)] = self.encode_time(secs, reg);
        }
    }

    /// Sets the clock from the time registers and notifies the new offset.
    fn set_time(&mut self) {
        let guest = self.decode_time();
        let host = (self.clock)().as_secs() as i64;
        self.offset = guest - host;
        (self.notify)(self.offset);
    }

    fn binary(&self) -> bool {
        self.cmos[usize::from(REG_B)] & B_DM_BINARY != 0
    }

    fn encode(&self, n: u8) -> u8 {
        if self.binary() {
            n
        } else {
            ((n / 10) << 4) | (n % 10)
        }
    }

    fn decode(&self, v: u8) -> i64 {
        if self.binary() {
            i64::from(v)
        } else {
            i64::from(v >> 4) * 10 + i64::from(v & 0x0f)
        }
    }

    /// Register `reg` for the time `secs` (Unix seconds) in the current mode.
    fn encode_time(&self, secs: i64, reg: u8) -> u8 {
        let days = secs.div_euclid(86_400);
        let in_day = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let n = |v: i64| v as u8;
        match reg {
            REG_SECONDS => self.encode(n(in_day % 60)),
            REG_MINUTES => self.encode(n(in_day / 60 % 60)),
            REG_HOURS => {
                let hour = n(in_day / 3600);
                if self.cmos[usize::from(REG_B)] & B_24H != 0 {
                    self.encode(hour)
                } else {
                    let pm = if hour >= 12 { HOURS_PM } else { 0 };
                    let h12 = match hour % 12 {
                        0 => 12,
                        h => h,
                    };
                    self.encode(h12) | pm
                }
            }
            // 1970-01-01 was a Thursday (5 with Sunday = 1).
            REG_DAY_OF_WEEK => self.encode(n((days + 4).rem_euclid(7) + 1)),
            REG_DAY_OF_MONTH => self.encode(n(day)),
            REG_MONTH => self.encode(n(month)),
            REG_YEAR => self.encode(n(year.rem_euclid(100))),
            REG_CENTURY => self.encode(n(year.div_euclid(100))),
            _ => 0,
        }
    }

    /// The time (Unix seconds) the time registers hold, read as QEMU does
    /// (day of week ignored, fields taken as they are).
    fn decode_time(&self) -> i64 {
        let reg = |r: u8| self.cmos[usize::from(r)];
        let seconds = self.decode(reg(REG_SECONDS));
        let minutes = self.decode(reg(REG_MINUTES));
        let raw_hours = reg(REG_HOURS);
        let hours = if self.cmos[usize::from(REG_B)] & B_24H != 0 {
            self.decode(raw_hours)
        } else {
            let h = self.decode(raw_hours & !HOURS_PM) % 12;
            if raw_hours & HOURS_PM != 0 {
                h + 12
            } else {
                h
            }
        };
        let day = self.decode(reg(REG_DAY_OF_MONTH));
        let month = self.decode(reg(REG_MONTH));
        let year = self.decode(reg(REG_YEAR)) + self.decode(reg(REG_CENTURY)) * 100;
        days_from_civil(year, month, day) * 86_400 + hours * 3600 + minutes * 60 + seconds
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use super::*;

    /// 2024-03-05 (a Tuesday) 13:34:56 UTC.
    const T0: u64 = 1_709_645_696;

    struct Fixture {
        rtc: Rtc,
        host: Arc<AtomicU64>,
        changes: Arc<Mutex<Vec<i64>>>,
    }

    /// An RTC on a host clock the test moves (in nanoseconds).
    fn fixture() -> Fixture {
        let host = Arc::new(AtomicU64::new(T0 * 1_000_000_000 + 500_000_000));
        let changes = Arc::new(Mutex::new(Vec::new()));
        let clock_host = Arc::clone(&host);
        let seen = Arc::clone(&changes);
        let rtc = Rtc::new(
            Box::new(move || Duration::from_nanos(clock_host.load(Ordering::SeqCst))),
            Box::new(move |offset| seen.lock().expect("not poisoned").push(offset)),
        );
        Fixture { rtc, host, changes }
    }

    impl Fixture {
        fn get(&mut self, reg: u8) -> u8 {
            self.rtc.write(RTC_INDEX_PORT, reg);
            self.rtc.read(RTC_DATA_PORT)
        }
        fn set(&mut self, reg: u8, value: u8) {
            self.rtc.write(RTC_INDEX_PORT, reg);
            self.rtc.write(RTC_DATA_PORT, value);
        }
        fn changes(&self) -> Vec<i64> {
            self.changes.lock().expect("not poisoned").clone()
        }
        fn advance(&self, nanos: u64) {
            self.host.fetch_add(nanos, Ordering::SeqCst);
        }
    }

    #[test]
    fn bcd_mode_reads_the_host_time() {
        let mut f = fixture();
        assert_eq!(f.get(REG_SECONDS), 0x56);
        assert_eq!(f.get(REG_MINUTES), 0x34);
        assert_eq!(f.get(REG_HOURS), 0x13);
        assert_eq!(f.get(REG_DAY_OF_WEEK), 3);
        assert_eq!(f.get(REG_DAY_OF_MONTH), 0x05);
        assert_eq!(f.get(REG_MONTH), 0x03);
        assert_eq!(f.get(REG_YEAR), 0x24);
        assert_eq!(f.get(REG_CENTURY), 0x20);
        assert_eq!(f.get(REG_D), 0x80);
        assert_eq!(f.get(REG_C), 0);
        assert!(f.changes().is_empty());
    }

    #[test]
    fn binary_mode_reads_plain_numbers() {
        let mut f = fixture();
        f.set(REG_B, B_24H | B_DM_BINARY);
        assert!(f.changes().is_empty(), "a mode change sets no time");
        assert_eq!(f.get(REG_SECONDS), 56);
        assert_eq!(f.get(REG_HOURS), 13);
        assert_eq!(f.get(REG_YEAR), 24);
        assert_eq!(f.get(REG_CENTURY), 20);
    }

    #[test]
    fn twelve_hour_mode_flags_pm_in_bit_7() {
        let mut f = fixture();
        f.set(REG_B, 0);
        assert_eq!(f.get(REG_HOURS), 0x81); // 1 PM, BCD
        f.set(REG_B, B_DM_BINARY);
        assert_eq!(f.get(REG_HOURS), 0x81);
        // Setting 12 AM (midnight) in 12-hour mode.
        f.set(REG_HOURS, 12);
        assert_eq!(f.changes(), [-13 * 3600]);
        f.set(REG_B, B_24H | B_DM_BINARY);
        assert_eq!(f.get(REG_HOURS), 0);
    }

    #[test]
    fn writing_a_time_register_sets_the_offset_and_notifies_once() {
        let mut f = fixture();
        f.set(REG_MINUTES, 0x35);
        assert_eq!(f.rtc.offset(), 60);
        assert_eq!(f.changes(), [60]);
        assert_eq!(f.get(REG_MINUTES), 0x35);
        // The clock runs on from the new time.
        f.advance(2_000_000_000);
        assert_eq!(f.get(REG_SECONDS), 0x58);
        assert_eq!(f.get(REG_MINUTES), 0x35);
        f.set(REG_YEAR, 0x25);
        assert_eq!(f.changes().len(), 2);
        assert_eq!(f.rtc.offset(), 60 + 365 * 86_400);
        f.set(REG_SECONDS, 0x00);
        assert_eq!(f.changes().len(), 3);
        // Writing the same time notifies too, with an unchanged offset.
        let same = f.get(REG_MINUTES);
        f.set(REG_MINUTES, same);
        assert_eq!(f.changes()[3], f.changes()[2]);
    }

    #[test]
    fn set_bit_holds_the_clock_and_notifies_once_on_release() {
        let mut f = fixture();
        f.set(REG_B, B_24H | B_SET);
        f.advance(3_000_000_000);
        assert_eq!(f.get(REG_SECONDS), 0x56, "held while SET");
        f.set(REG_HOURS, 0x10);
        f.set(REG_MINUTES, 0x00);
        f.set(REG_SECONDS, 0x00);
        assert!(f.changes().is_empty(), "nothing until SET is released");
        f.set(REG_B, B_24H);
        // 10:00:00 set at host 13:34:59.
        let expected = -(3 * 3600 + 34 * 60 + 59);
        assert_eq!(f.changes(), [expected]);
        assert_eq!(f.get(REG_HOURS), 0x10);
        // Writing B again without SET changes nothing.
        f.set(REG_B, B_24H);
        assert_eq!(f.changes().len(), 1);
    }

    #[test]
    fn writing_back_the_held_seconds_keeps_the_offset() {
        let mut f = fixture();
        for _ in 0..20 {
            f.set(REG_B, B_24H | B_SET);
            let s = f.get(REG_SECONDS);
            f.set(REG_SECONDS, s);
            f.set(REG_B, B_24H);
            f.advance(50_000_000);
        }
        assert_eq!(f.changes().len(), 20);
        assert!(f.changes().iter().all(|&o| o == 0), "{:?}", f.changes());
    }

    #[test]
    fn uip_is_set_only_at_the_start_of_a_second() {
        let mut f = fixture();
        assert_eq!(f.get(REG_A) & A_UIP, 0);
        f.advance(500_000_000 + 100_000); // 100 us into the next second
        assert_eq!(f.get(REG_A), 0x26 | A_UIP);
        f.advance(200_000);
        assert_eq!(f.get(REG_A), 0x26);
    }

    #[test]
    fn index_ignores_the_nmi_mask_and_ram_is_kept_across_reset() {
        let mut f = fixture();
        f.set(0x80 | 0x40, 0xab);
        assert_eq!(f.get(0x40), 0xab);
        f.set(REG_B, B_24H | 0x40); // PIE
        f.set(REG_MINUTES, 0x00);
        f.rtc.reset();
        assert_eq!(f.get(0x40), 0xab);
        assert_eq!(f.get(REG_B), B_24H);
        assert_eq!(f.get(REG_MINUTES), 0x00, "the time survives a reset");
    }

    #[test]
    fn calendar_conversions_round_trip() {
        for days in [-1, 0, 59, 365, 11_016, 19_787, 47_482] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(19_787), (2024, 3, 5));
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
    }
}
