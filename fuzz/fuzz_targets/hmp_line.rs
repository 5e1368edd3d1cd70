//! Bytes to the human monitor's argument parser: an args_type (QEMU's
//! mini-language) and a command line. Parsing either never panics, and an
//! error always has a message.
//!
//! Input: a byte below 0x80 picks one of the args_types the monitor uses
//! and the rest is the line; otherwise the args_type is the text up to the
//! first newline and the line what follows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use monitor_fuzz::take_byte;
use monitor_hmp::args::{ArgsType, FormatDefaults};

/// args_types of QEMU's commands and of the tests.
const SPECS: &[&str] = &[
    "",
    "name:S?",
    "fmt:/,addr:l",
    "fmt:/,val:l",
    "name:s,times:i?",
    "cpustate_all:-a,vcpu:i?",
    "force:-f,device:B",
    "force:-f,device:B,speed:o?",
    "device:B,size:o",
    "device:O",
    "val:l,size:i,filename:s",
    "reuse:-n,device:B,snapshot-file:s?,format:s?",
    "name:s,up:b",
    "index:i",
    "a:-fs,b:i.,c:l?,d:/,e:O,f:b?",
    "f:-f,g:-g,n:-ns,fmt:/,a:l,m:M,device:O,b:b,t:T,q:q",
    "f:-f,s:s,i:i,o:o,b:b,fmt:/",
];

fuzz_target!(|data: &[u8]| {
    let mut data = data;
    let Some(choice) = take_byte(&mut data) else {
        return;
    };
    let (spec, line) = if choice < 0x80 {
        (SPECS[usize::from(choice) % SPECS.len()].to_owned(), data)
    } else {
        let end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
        let line = data.get(end + 1..).unwrap_or_default();
        (String::from_utf8_lossy(&data[..end]).into_owned(), line)
    };
    let spec = match ArgsType::parse(&spec) {
        Ok(spec) => spec,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let line = String::from_utf8_lossy(line);
    let regs = |name: &str| (name == "pc").then_some(0xfff0);
    let mut defaults = FormatDefaults::default();
    // Twice, carrying the /fmt defaults over as the monitor does.
    for _ in 0..2 {
        match spec.parse_line_with("cmd|c", &line, &regs, &mut defaults) {
            Ok(args) => drop(format!("{args:?}")),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
});
