//! The entry type: takes options one by one, then makes the result in
//! QEMU's order.

use std::collections::HashSet;

use super::chardev::{self, SpecError};
use super::syntax::{self, Opts, CHARDEV_KEYS, MON_KEYS};
use super::{Chardev, Mon, MonitorMode, MonitorOptions, OptionError};

/// The options this parser takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Chardev,
    Mon,
    Qmp,
    QmpPretty,
    Monitor,
    Serial,
}

impl Kind {
    /// `-name` or `--name`, as QEMU takes them.
    fn of(name: &str) -> Option<Kind> {
        let bare = name.strip_prefix("--").or_else(|| name.strip_prefix('-'))?;
        Some(match bare {
            "chardev" => Kind::Chardev,
            "mon" => Kind::Mon,
            "qmp" => Kind::Qmp,
            "qmp-pretty" => Kind::QmpPretty,
            "monitor" => Kind::Monitor,
            "serial" => Kind::Serial,
            _ => return None,
        })
    }
}

/// A chardev as given, made by [`Parser::finish`].
#[derive(Debug, Clone)]
struct PendingChardev {
    option: String,
    opts: Opts,
    implicit: bool,
}

/// A monitor as given, checked by [`Parser::finish`].
#[derive(Debug, Clone)]
struct PendingMon {
    option: String,
    opts: Opts,
}

/// Parses QEMU's monitor and chardev options: `-chardev`, `-mon`, `-qmp`,
/// `-qmp-pretty`, `-monitor` and `-serial`, in command-line order.
///
/// Feed it options with [`option`](Self::option) from the VMM's own
/// argument loop, or a whole argument list with [`args`](Self::args);
/// then [`finish`](Self::finish) gives the [`MonitorOptions`]. It checks
/// in QEMU's order: each option's syntax when it is given; then, in
/// `finish`, the chardevs, then the monitors, then the serial ports. So a
/// monitor may name a chardev defined after it, as in QEMU.
///
/// Nothing is opened: this is parsing only. QEMU's defaults are not
/// added (as with `-nodefaults`): no options, no monitor.
///
/// # Examples
///
/// ```
/// use monitor_core::qemu_opts::Parser;
///
/// let args = ["-m", "512", "-qmp", "unix:/tmp/vm.qmp,server=on,wait=off", "-S"];
/// let mut parser = Parser::new();
/// let rest = parser.args(&args)?;
/// assert_eq!(rest, ["-m", "512", "-S"]);
/// let opts = parser.finish()?;
/// assert_eq!(opts.qmp().count(), 1);
/// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Parser {
    chardevs: Vec<PendingChardev>,
    chardev_ids: HashSet<String>,
    mons: Vec<PendingMon>,
    mon_ids: HashSet<String>,
    /// How many `-qmp`/`-qmp-pretty`/`-monitor` (QEMU's
    /// `monitor_device_index`), for `compat_monitorN`.
    shorthand_monitors: usize,
    /// `-serial` values with their options.
    serials: Vec<(String, String)>,
    warnings: Vec<String>,
}

impl Parser {
    /// A parser that has seen no options.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::Parser;
    ///
    /// let opts = Parser::new().finish().unwrap();
    /// assert!(opts.chardevs().is_empty() && opts.monitors().is_empty());
    /// ```
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Whether `name` is an option this parser takes (`-chardev`,
    /// `--chardev`, `-mon`, `-qmp`, `-qmp-pretty`, `-monitor`, `-serial`).
    /// All of them take a value.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::Parser;
    ///
    /// assert!(Parser::handles("-qmp"));
    /// assert!(Parser::handles("--chardev"));
    /// assert!(!Parser::handles("-m"));
    /// assert!(!Parser::handles("qmp"));
    /// ```
    pub fn handles(name: &str) -> bool {
        Kind::of(name).is_some()
    }

    /// Takes one option, `name` as on the command line (`-chardev` or
    /// `--chardev`) and its value; says whether it was one of this
    /// parser's (if not, nothing happened: the VMM handles it).
    ///
    /// # Errors
    ///
    /// The option's syntax, in QEMU's words: unknown keys, bad values,
    /// ids, duplicate ids, unknown legacy specs.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::Parser;
    ///
    /// let mut parser = Parser::new();
    /// assert!(parser.option("-chardev", "pty,id=charserial0")?);
    /// assert!(!parser.option("-name", "guest")?);
    /// let err = parser.option("-chardev", "null,id=charserial0").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "-chardev null,id=charserial0: Duplicate ID 'charserial0' for chardev"
    /// );
    /// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
    /// ```
    pub fn option(&mut self, name: &str, value: &str) -> Result<bool, OptionError> {
        let Some(kind) = Kind::of(name) else {
            return Ok(false);
        };
        let option = format!("{name} {value}");
        match kind {
            Kind::Chardev => self.chardev(option, value)?,
            Kind::Mon => self.mon(option, value)?,
            Kind::Qmp => self.shorthand(option, value, MonitorMode::Control, false)?,
            Kind::QmpPretty => self.shorthand(option, value, MonitorMode::Control, true)?,
            // QEMU compares the first four characters (`strncmp`); we want
            // `none` itself.
            Kind::Monitor if value == "none" => {}
            Kind::Monitor => self.shorthand(option, value, MonitorMode::Readline, false)?,
            Kind::Serial => self.serials.push((option, value.to_owned())),
        }
        Ok(true)
    }

    /// Takes this parser's options out of an argument list (without the
    /// program name) and returns the other arguments, in order. An
    /// argument that is one of this parser's options is one wherever it
    /// is: a VMM whose own options may take such a word as their value
    /// should call [`option`](Self::option) from its own loop instead.
    ///
    /// # Errors
    ///
    /// As [`option`](Self::option), and
    /// [`MissingArgument`](OptionError::MissingArgument) for an option
    /// without a value.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::Parser;
    ///
    /// let args: Vec<String> = std::env::args().skip(1).collect();
    /// let mut parser = Parser::new();
    /// let rest: Vec<String> = parser.args(&args)?;
    /// // ... the VMM parses `rest` ...
    /// let opts = parser.finish()?;
    /// # let _ = (rest, opts);
    /// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
    /// ```
    pub fn args<S: AsRef<str>>(&mut self, args: &[S]) -> Result<Vec<String>, OptionError> {
        let mut rest = Vec::new();
        let mut args = args.iter().map(AsRef::as_ref);
        while let Some(arg) = args.next() {
            if Self::handles(arg) {
                let value = args.next().ok_or_else(|| OptionError::MissingArgument {
                    option: arg.to_owned(),
                })?;
                self.option(arg, value)?;
            } else {
                rest.push(arg.to_owned());
            }
        }
        Ok(rest)
    }

    /// Makes the chardevs, then checks the monitors, then makes the
    /// serial ports' chardevs, in QEMU's order.
    ///
    /// # Errors
    ///
    /// The first problem, in QEMU's words where QEMU has them: a chardev
    /// without id or backend, a socket without an address, a monitor on a
    /// missing or used chardev, ... (see [`OptionError`]); and ours: a
    /// monitor on a socket that does not listen
    /// ([`ClientMonitor`](OptionError::ClientMonitor)) or that would block
    /// start-up ([`WaitingMonitor`](OptionError::WaitingMonitor)), and
    /// what QEMU has but this parser does not carry.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_core::qemu_opts::Parser;
    ///
    /// let mut parser = Parser::new();
    /// parser.option("-mon", "chardev=nope")?;
    /// assert_eq!(
    ///     parser.finish().unwrap_err().to_string(),
    ///     "-mon chardev=nope: chardev \"nope\" not found"
    /// );
    /// # Ok::<(), monitor_core::qemu_opts::OptionError>(())
    /// ```
    pub fn finish(self) -> Result<MonitorOptions, OptionError> {
        let mut stdio = false;
        let mut chardevs = Vec::new();
        for p in &self.chardevs {
            let mut chardev = chardev::create(&p.option, &p.opts, &mut stdio)?;
            chardev.implicit = p.implicit;
            chardevs.push(chardev);
        }
        let mut monitors = Vec::new();
        for p in &self.mons {
            monitors.push(monitor(p, &chardevs, &monitors)?);
        }
        let mut serials = Vec::new();
        let mut ids = self.chardev_ids;
        for (index, (option, spec)) in self.serials.iter().enumerate() {
            serials.push(serial(
                option,
                spec,
                index,
                &mut ids,
                &mut chardevs,
                &mut stdio,
            )?);
        }
        // A serial port's chardev is taken when the machine is made, after
        // every -serial (QEMU aborts with this text, without the option).
        for (i, (option, _)) in self.serials.iter().enumerate() {
            let Some(id) = &serials[i] else { continue };
            let earlier = serials[..i].iter().flatten().any(|s| s == id);
            if earlier || monitors.iter().any(|m: &Mon| &m.chardev == id) {
                return Err(OptionError::InUse {
                    option: option.clone(),
                    id: id.clone(),
                });
            }
        }
        Ok(MonitorOptions {
            chardevs,
            monitors,
            serials,
            warnings: self.warnings,
        })
    }

    /// `-chardev`: QEMU's `qemu_opts_parse_noisily` on `qemu_chardev_opts`.
    fn chardev(&mut self, option: String, value: &str) -> Result<(), OptionError> {
        let id = syntax::parse_id(value);
        if let Some(id) = &id {
            self.new_chardev_id(&option, id)?;
        }
        let mut opts = Opts::with_id(id);
        opts.parse(
            &option,
            value,
            Some("backend"),
            CHARDEV_KEYS,
            Some(&mut self.warnings),
        )?;
        if let Some(id) = &opts.id {
            self.chardev_ids.insert(id.clone());
        }
        self.chardevs.push(PendingChardev {
            option,
            opts,
            implicit: false,
        });
        Ok(())
    }

    /// `-mon`: QEMU's `qemu_opts_parse_noisily` on `qemu_mon_opts`.
    fn mon(&mut self, option: String, value: &str) -> Result<(), OptionError> {
        let id = syntax::parse_id(value);
        if let Some(id) = &id {
            self.new_mon_id(&option, id)?;
        }
        let mut opts = Opts::with_id(id);
        opts.parse(
            &option,
            value,
            Some("chardev"),
            MON_KEYS,
            Some(&mut self.warnings),
        )?;
        if let Some(id) = &opts.id {
            self.mon_ids.insert(id.clone());
        }
        self.mons.push(PendingMon { option, opts });
        Ok(())
    }

    /// `-qmp`, `-qmp-pretty`, `-monitor`: QEMU's `monitor_parse`.
    fn shorthand(
        &mut self,
        option: String,
        spec: &str,
        mode: MonitorMode,
        pretty: bool,
    ) -> Result<(), OptionError> {
        let label = match spec.strip_prefix("chardev:") {
            Some(id) => id.to_owned(),
            None => {
                let label = format!("compat_monitor{}", self.shorthand_monitors);
                self.new_chardev_id(&option, &label)?;
                let opts = chardev::parse_spec(&option, &label, spec).map_err(|e| match e {
                    SpecError::Option(e) => e,
                    SpecError::Syntax => OptionError::SpecSyntax {
                        option: option.clone(),
                        spec: spec.to_owned(),
                    },
                })?;
                self.chardev_ids.insert(label.clone());
                self.chardevs.push(PendingChardev {
                    option: option.clone(),
                    opts,
                    implicit: true,
                });
                label
            }
        };
        self.new_mon_id(&option, &label)?;
        self.mon_ids.insert(label.clone());
        let mut opts = Opts::with_id(Some(label.clone()));
        match mode {
            MonitorMode::Control => {
                opts.set("mode", "control");
                opts.set("pretty", if pretty { "on" } else { "off" });
            }
            MonitorMode::Readline => opts.set("mode", "readline"),
        }
        opts.set("chardev", &label);
        self.mons.push(PendingMon { option, opts });
        self.shorthand_monitors += 1;
        Ok(())
    }

    /// QEMU's `qemu_opts_create` checks for a new chardev id.
    fn new_chardev_id(&self, option: &str, id: &str) -> Result<(), OptionError> {
        new_id(option, id, &self.chardev_ids, "chardev")
    }

    /// The same for a new monitor id.
    fn new_mon_id(&self, option: &str, id: &str) -> Result<(), OptionError> {
        new_id(option, id, &self.mon_ids, "mon")
    }
}

fn new_id(
    option: &str,
    id: &str,
    ids: &HashSet<String>,
    group: &'static str,
) -> Result<(), OptionError> {
    if !syntax::id_wellformed(id) {
        return Err(OptionError::BadId {
            option: option.to_owned(),
        });
    }
    if ids.contains(id) {
        return Err(OptionError::DuplicateId {
            option: option.to_owned(),
            id: id.to_owned(),
            group,
        });
    }
    Ok(())
}

/// One monitor: QEMU's `monitor_init_opts` and `monitor_init`, then ours.
fn monitor(p: &PendingMon, chardevs: &[Chardev], monitors: &[Mon]) -> Result<Mon, OptionError> {
    let option = || p.option.clone();
    let mode = match p.opts.get("mode") {
        None | Some("readline") => MonitorMode::Readline,
        Some("control") => MonitorMode::Control,
        Some(mode) => {
            return Err(OptionError::BadMode {
                option: option(),
                mode: mode.to_owned(),
            })
        }
    };
    let Some(id) = p.opts.get("chardev") else {
        return Err(OptionError::NoChardev { option: option() });
    };
    let Some(chardev) = chardevs.iter().find(|c| c.id == id) else {
        return Err(OptionError::ChardevNotFound {
            option: option(),
            id: id.to_owned(),
        });
    };
    let pretty = p.opts.flag("pretty", false);
    if pretty && mode == MonitorMode::Readline {
        return Err(OptionError::PrettyHmp { option: option() });
    }
    if monitors.iter().any(|m| m.chardev == id) {
        return Err(OptionError::InUse {
            option: option(),
            id: id.to_owned(),
        });
    }
    if let Some(socket) = chardev.backend.socket() {
        if !socket.server {
            return Err(OptionError::ClientMonitor {
                option: option(),
                id: id.to_owned(),
            });
        }
        if socket.wait {
            return Err(OptionError::WaitingMonitor {
                option: option(),
                id: id.to_owned(),
            });
        }
    }
    Ok(Mon {
        id: p.opts.id.clone(),
        chardev: id.to_owned(),
        mode,
        pretty,
    })
}

/// One `-serial`: QEMU's `serial_parse` and `qemu_chr_new_mux_mon`; the
/// id of its chardev, or `None` for `none`.
fn serial(
    option: &str,
    spec: &str,
    index: usize,
    ids: &mut HashSet<String>,
    chardevs: &mut Vec<Chardev>,
    stdio: &mut bool,
) -> Result<Option<String>, OptionError> {
    let cannot = || OptionError::SerialBackend {
        option: option.to_owned(),
        spec: spec.to_owned(),
    };
    if spec == "none" {
        return Ok(None);
    }
    if let Some(id) = spec.strip_prefix("chardev:") {
        return match chardevs.iter().find(|c| c.id == id) {
            Some(c) => Ok(Some(c.id.clone())),
            None => Err(cannot()),
        };
    }
    let label = format!("serial{index}");
    new_id(option, &label, ids, "chardev")?;
    let opts = chardev::parse_spec(option, &label, spec).map_err(|e| match e {
        SpecError::Option(e) => e,
        SpecError::Syntax => cannot(),
    })?;
    let mut chardev = chardev::create(option, &opts, stdio)?;
    chardev.implicit = true;
    ids.insert(label.clone());
    chardevs.push(chardev);
    Ok(Some(label))
}
