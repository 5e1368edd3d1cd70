//! HMP `x` (virtual, through vCPU 0's page tables) and `xp` (physical),
//! printed as QEMU 7.2's `memory_dump` prints them.

use std::fmt::Write as _;

use examples::vmm::translate::read_virtual;
use monitor_hmp::args::Args;
use monitor_hmp::{hmp_command, HmpContext, HmpError};

use crate::commands::Vm;

/// Formats `count` units of `size` bytes read by `read` from `addr`.
///
/// `read(addr, buf)` fills `buf` or returns `false` ("Cannot access
/// memory", which ends the dump, as in QEMU).
fn memory_dump(
    format: char,
    size: u8,
    count: i64,
    mut addr: u64,
    mut read: impl FnMut(u64, &mut [u8]) -> bool,
) -> String {
    let mut wsize = usize::from(size);
    let mut len = wsize as i64 * count;
    let line_size: i64 = if wsize == 1 { 8 } else { 16 };
    let max_digits = match format {
        'o' => (wsize * 8).div_ceil(3),
        'u' | 'd' => (wsize * 8 * 10).div_ceil(33),
        'c' => {
            wsize = 1;
            0
        }
        _ => wsize * 8 / 4,
    };
    let mut out = String::new();
    let mut buf = [0u8; 16];
    while len > 0 {
        let _ = write!(out, "{addr:016x}:");
        let l = len.min(line_size) as usize;
        if !read(addr, &mut buf[..l]) {
            out.push_str(" Cannot access memory\n");
            break;
        }
        for unit in buf[..l].chunks(wsize) {
            let mut raw = [0u8; 8];
            raw[..unit.len()].copy_from_slice(unit);
            let v = u64::from_le_bytes(raw);
            out.push(' ');
            let _ = match format {
                'o' => {
                    let s = if v == 0 {
                        "0".to_owned()
                    } else {
                        format!("0{v:o}")
                    };
                    write!(out, "{s:>max_digits$}")
                }
                'u' => write!(out, "{v:>max_digits$}"),
                'd' => write!(out, "{:>max_digits$}", v as i64),
                'c' => {
                    push_char(&mut out, v as u8);
                    Ok(())
                }
                _ => write!(out, "0x{v:0max_digits$x}"),
            };
        }
        out.push('\n');
        addr = addr.wrapping_add(l as u64);
        len -= l as i64;
    }
    out
}

/// QEMU's `monitor_printc`.
fn push_char(out: &mut String, c: u8) {
    out.push('\'');
    match c {
        b'\'' => out.push_str("\\'"),
        b'\\' => out.push_str("\\\\"),
        b'\n' => out.push_str("\\n"),
        b'\r' => out.push_str("\\r"),
        32..=126 => out.push(char::from(c)),
        _ => {
            let _ = write!(out, "\\x{c:02x}");
        }
    }
    out.push('\'');
}

fn dump(ctx: &mut HmpContext<'_>, args: &Args, physical: bool) -> Result<(), HmpError> {
    let vm = ctx.state::<Vm>()?;
    let fmt = args
        .format("fmt")
        .ok_or_else(|| HmpError::Message("missing format".into()))?;
    if fmt.format == 'i' {
        return Err(HmpError::Message(
            "refvmm cannot disassemble: use another format than /i".into(),
        ));
    }
    let addr = args.int("addr").unwrap_or(0) as u64;
    let ram = vm.machine()?.ram();
    let text = if physical {
        memory_dump(
            fmt.format,
            fmt.size.unwrap_or(4),
            i64::from(fmt.count),
            addr,
            |a, buf| ram.read(a, buf).is_ok(),
        )
    } else {
        let sregs = vm
            .machine()?
            .registers(0)
            .map_err(|e| HmpError::Message(e.to_string()))?
            .sregs;
        memory_dump(
            fmt.format,
            fmt.size.unwrap_or(4),
            i64::from(fmt.count),
            addr,
            |a, buf| read_virtual(ram, &sregs, a, buf),
        )
    };
    ctx.print(&text);
    Ok(())
}

/// `x /fmt addr`: virtual memory dump starting at `addr`.
#[hmp_command(
    name = "x",
    args_type = "fmt:/,addr:l",
    params = "/fmt addr",
    help = "virtual memory dump starting at 'addr'"
)]
fn x(ctx: &mut HmpContext<'_>, args: &Args) -> Result<(), HmpError> {
    dump(ctx, args, false)
}

/// `xp /fmt addr`: physical memory dump starting at `addr`.
#[hmp_command(
    name = "xp",
    args_type = "fmt:/,addr:l",
    params = "/fmt addr",
    help = "physical memory dump starting at 'addr'"
)]
fn xp(ctx: &mut HmpContext<'_>, args: &Args) -> Result<(), HmpError> {
    dump(ctx, args, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bytes` at guest address 0xffff0.
    fn mem(bytes: &[u8]) -> impl FnMut(u64, &mut [u8]) -> bool + '_ {
        move |a, buf| {
            let Some(a) = (a as usize).checked_sub(0xffff0) else {
                return false;
            };
            match bytes.get(a..a + buf.len()) {
                Some(src) => {
                    buf.copy_from_slice(src);
                    true
                }
                None => false,
            }
        }
    }

    const BIOS: [u8; 16] = [
        0xea, 0x5b, 0xe0, 0x00, 0xf0, 0x30, 0x36, 0x2f, 0x32, 0x33, 0x2f, 0x39, 0x39, 0x00, 0xfc,
        0x00,
    ];

    #[test]
    fn formats_match_qemu() {
        // Outputs taken from QEMU 7.2 (`xp` on its BIOS reset vector).
        assert_eq!(
            memory_dump('d', 1, 10, 0xffff0, mem(&BIOS[..])),
            "00000000000ffff0: 234  91 224   0 240  48  54  47\n00000000000ffff8:  50  51\n"
        );
        assert_eq!(
            memory_dump('o', 1, 10, 0xffff0, mem(&BIOS[..])),
            "00000000000ffff0: 0352 0133 0340   0 0360 060 066 057\n00000000000ffff8: 062 063\n"
        );
        assert_eq!(
            memory_dump('d', 2, 3, 0xffff0, mem(&BIOS[..])),
            "00000000000ffff0: 23530   224 12528\n"
        );
        assert_eq!(
            memory_dump('o', 4, 3, 0xffff0, mem(&BIOS[..])),
            "00000000000ffff0:   070055752 05715430360 07113631462\n"
        );
        assert_eq!(
            memory_dump('x', 4, 3, 0xffff0, mem(&BIOS[..])),
            "00000000000ffff0: 0x00e05bea 0x2f3630f0 0x392f3332\n"
        );
    }

    #[test]
    fn chars_count_size_times_count_on_one_line() {
        assert_eq!(
            memory_dump('c', 4, 4, 0xffff0, mem(&BIOS[..])),
            concat!(
                "00000000000ffff0: '\\xea' '[' '\\xe0' '\\x00' '\\xf0' '0' '6' '/' ",
                "'2' '3' '/' '9' '9' '\\x00' '\\xfc' '\\x00'\n"
            )
        );
    }

    #[test]
    fn unreadable_memory_ends_the_dump() {
        assert_eq!(
            memory_dump('x', 4, 2, 0x10_0000, mem(&BIOS[..])),
            "0000000000100000: Cannot access memory\n"
        );
    }
}
