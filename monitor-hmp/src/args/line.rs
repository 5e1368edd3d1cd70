//! Matching a command line against an [`ArgsType`]: QEMU 7.2's
//! `monitor_parse_arguments`, one parameter after the other.

use super::error::{ArgError, ArgErrorKind, StrError};
use super::lex::{at, char_at, get_str, is_space, skip_space, strtod, strtosz_mib, GetStrError};
use super::spec::{ArgsType, Param, ParamKind, Presence};
use super::value::{ArgValue, Args, Format, FormatDefaults};
use super::{expr, opts, Registers};

const MIB: i64 = 1 << 20;

impl ArgsType {
    /// Parses the arguments of one command line, as QEMU 7.2's monitor
    /// does: `command` is the command's name in the table (QEMU's messages
    /// use it: `print|p: extraneous characters at the end of line`),
    /// `line` what follows the command name, `regs` resolves `$reg` in
    /// expressions.
    ///
    /// `/fmt` defaults start from QEMU's (`x`, 4 bytes) on every call; use
    /// [`parse_line_with`](Self::parse_line_with) to carry them over like
    /// QEMU does. The line ends at its first NUL, as a C string would.
    ///
    /// # Errors
    ///
    /// [`ArgError`], whose `Display` is QEMU's message.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_hmp::args::{ArgsType, NoCpu};
    ///
    /// let eject = ArgsType::parse("force:-f,device:B").unwrap();
    /// let args = eject.parse_line("eject", "-f ide1-cd0", &NoCpu).unwrap();
    /// assert!(args.flag("force"));
    /// assert_eq!(args.str("device"), Some("ide1-cd0"));
    ///
    /// let err = eject.parse_line("eject", "-x ide1-cd0", &NoCpu).unwrap_err();
    /// assert_eq!(err.to_string(), "eject: unsupported option -x");
    ///
    /// // Registers come from a closure (or any `Registers`).
    /// let print = ArgsType::parse("fmt:/,val:l").unwrap();
    /// let regs = |name: &str| (name == "pc").then_some(0xfff0);
    /// let args = print.parse_line("print|p", "$pc + 0x10", &regs).unwrap();
    /// assert_eq!(args.int("val"), Some(0x10000));
    /// let err = print.parse_line("print|p", "$foo", &regs).unwrap_err();
    /// assert_eq!(err.to_string(), "unknown register");
    /// ```
    pub fn parse_line(
        &self,
        command: &str,
        line: &str,
        regs: &dyn Registers,
    ) -> Result<Args, ArgError> {
        self.parse_line_with(command, line, regs, &mut FormatDefaults::default())
    }

    /// [`parse_line`](Self::parse_line), reading and updating the `/fmt`
    /// defaults in `defaults` (see [`FormatDefaults`]).
    ///
    /// # Errors
    ///
    /// As [`parse_line`](Self::parse_line). The defaults change only when
    /// the `/fmt` itself was valid, even if a later argument fails, as in
    /// QEMU.
    pub fn parse_line_with(
        &self,
        command: &str,
        line: &str,
        regs: &dyn Registers,
        defaults: &mut FormatDefaults,
    ) -> Result<Args, ArgError> {
        let line = line.split('\0').next().unwrap_or_default();
        let mut parser = LineParser {
            spec: self,
            command,
            line,
            s: line.as_bytes(),
            pos: 0,
            regs,
            args: Args::default(),
        };
        for param in self.params() {
            parser.param(param, defaults)?;
        }
        let end = skip_space(parser.s, parser.pos);
        if end < line.len() {
            return Err(parser.error(ArgErrorKind::Extraneous, end));
        }
        Ok(parser.args)
    }
}

struct LineParser<'a> {
    spec: &'a ArgsType,
    command: &'a str,
    line: &'a str,
    s: &'a [u8],
    pos: usize,
    regs: &'a dyn Registers,
    args: Args,
}

impl LineParser<'_> {
    fn error(&self, kind: ArgErrorKind, offset: usize) -> ArgError {
        let at_end = skip_space(self.s, offset) >= self.s.len();
        ArgError::new(self.command, kind, offset, at_end)
    }

    /// The rest of the line from `start`, as text. QEMU parses bytes, and
    /// where it steps one byte past a number (`1.5e999é`) a parameter can
    /// start inside a character: its bytes read as replacement characters
    /// rather than slicing the `str` there.
    fn rest_from(&self, start: usize) -> String {
        String::from_utf8_lossy(&self.s[start.min(self.s.len())..]).into_owned()
    }

    /// Skips white space; then whether an optional parameter is absent
    /// because the line ended.
    fn absent_at_end(&mut self, param: &Param) -> bool {
        self.pos = skip_space(self.s, self.pos);
        param.presence() == Presence::Optional && self.pos >= self.s.len()
    }

    fn param(&mut self, param: &Param, defaults: &mut FormatDefaults) -> Result<(), ArgError> {
        let name = param.name();
        match param.kind() {
            kind @ (ParamKind::Word | ParamKind::Filename | ParamKind::BlockDevice) => {
                if self.absent_at_end(param) {
                    return Ok(());
                }
                match get_str(self.line, self.pos) {
                    Ok((value, end)) => {
                        self.pos = end;
                        self.args.insert(name, ArgValue::Str(value));
                    }
                    Err((e, offset)) => {
                        let cause = match e {
                            GetStrError::Empty => None,
                            GetStrError::Bad(e) => Some(e),
                        };
                        let kind = match kind {
                            ParamKind::Filename => ArgErrorKind::FilenameExpected(cause),
                            ParamKind::BlockDevice => ArgErrorKind::BlockDeviceExpected(cause),
                            _ => ArgErrorKind::StringExpected(cause),
                        };
                        return Err(self.error(kind, offset));
                    }
                }
            }
            ParamKind::Rest => {
                if self.absent_at_end(param) {
                    return Ok(());
                }
                if self.pos >= self.s.len() {
                    return Err(self.error(ArgErrorKind::StringExpected(None), self.pos));
                }
                self.args
                    .insert(name, ArgValue::Str(self.rest_from(self.pos)));
                self.pos = self.s.len();
            }
            ParamKind::Opts => self.opts(param)?,
            ParamKind::Format => self.format(name, defaults)?,
            kind @ (ParamKind::Int32 | ParamKind::Int64 | ParamKind::SizeMiB) => {
                self.pos = skip_space(self.s, self.pos);
                match param.presence() {
                    Presence::Optional if self.pos >= self.s.len() => return Ok(()),
                    Presence::Dotted if at(self.s, self.pos) != b'.' => return Ok(()),
                    Presence::Dotted => self.pos = skip_space(self.s, self.pos + 1),
                    _ => {}
                }
                let start = self.pos;
                let (value, end) =
                    expr::eval(self.line, start, self.regs).map_err(|(k, at)| self.error(k, at))?;
                self.pos = end;
                let value = match kind {
                    ParamKind::Int32 if (value >> 32) & 0xffff_ffff != 0 => {
                        return Err(self.error(ArgErrorKind::Not32Bit, start));
                    }
                    ParamKind::SizeMiB if value < 0 => {
                        return Err(self.error(ArgErrorKind::NotPositive, start));
                    }
                    // The bits of QEMU's int64, wrapped like its multiplication.
                    ParamKind::SizeMiB => ArgValue::Size(value.wrapping_mul(MIB) as u64),
                    _ => ArgValue::Int(value),
                };
                self.args.insert(name, value);
            }
            ParamKind::Size => {
                if self.absent_at_end(param) {
                    return Ok(());
                }
                let start = self.pos;
                let size = strtosz_mib(self.s, start)
                    .filter(|size| i64::try_from(size.value).is_ok())
                    .ok_or_else(|| self.error(ArgErrorKind::InvalidSize, start))?;
                if size.hex_with_suffix {
                    self.args.warn(format!(
                        "Using a multiplier suffix on hex numbers is deprecated: {}",
                        self.rest_from(start)
                    ));
                }
                self.pos = size.end;
                self.args.insert(name, ArgValue::Size(size.value));
            }
            ParamKind::Seconds => self.seconds(param)?,
            ParamKind::Bool => {
                if self.absent_at_end(param) {
                    return Ok(());
                }
                let start = self.pos;
                let mut end = start;
                while at(self.s, end).is_ascii_graphic() {
                    end += 1;
                }
                let value = match &self.s[start..end] {
                    b"on" => true,
                    b"off" => false,
                    _ => return Err(self.error(ArgErrorKind::ExpectedOnOff, start)),
                };
                self.pos = end;
                self.args.insert(name, ArgValue::Bool(value));
            }
            ParamKind::Flag { letter, value } => self.flag(param, letter, value)?,
            ParamKind::Json => self.json(param)?,
        }
        Ok(())
    }

    /// `-x` and `-xs`, with QEMU's look-ahead: a `-y` belonging to a later
    /// option leaves this one absent. (When that happens to a `-xs`, QEMU
    /// 7.2 misreads the rest of its `args_type`; none of its tables has an
    /// option after a `-xs`, and here the `-xs` is simply absent.)
    fn flag(&mut self, param: &Param, letter: char, takes_value: bool) -> Result<(), ArgError> {
        let before = self.pos;
        let dash = skip_space(self.s, self.pos);
        if at(self.s, dash) != b'-' {
            self.pos = dash;
            if !takes_value {
                self.args.insert(param.name(), ArgValue::Flag(false));
            }
            return Ok(());
        }
        let c = at(self.s, dash + 1);
        if u32::from(c) != u32::from(letter) {
            if !self.spec.later_option(param, c) {
                let shown = (c != 0).then(|| char_at(self.line, dash + 1));
                return Err(self.error(ArgErrorKind::UnsupportedOption(shown), dash + 1));
            }
            self.pos = before;
            if !takes_value {
                self.args.insert(param.name(), ArgValue::Flag(false));
            }
            return Ok(());
        }
        if takes_value {
            match get_str(self.line, dash + 2) {
                Ok((value, end)) => {
                    self.pos = end;
                    self.args.insert(param.name(), ArgValue::Str(value));
                }
                Err((e, offset)) => {
                    let cause = match e {
                        GetStrError::Empty => None,
                        GetStrError::Bad(e) => Some(e),
                    };
                    return Err(self.error(ArgErrorKind::ValueExpected { letter, cause }, offset));
                }
            }
        } else {
            self.pos = dash + 2;
            self.args.insert(param.name(), ArgValue::Flag(true));
        }
        Ok(())
    }

    /// `O`: one `get_str` word, read as `QemuOpts` of the list the
    /// parameter names.
    fn opts(&mut self, param: &Param) -> Result<(), ArgError> {
        self.pos = skip_space(self.s, self.pos);
        if self.pos >= self.s.len() {
            return Ok(());
        }
        let start = self.pos;
        let (text, end) = get_str(self.line, start).map_err(|(e, offset)| {
            let e = match e {
                GetStrError::Bad(e) => e,
                GetStrError::Empty => StrError::Unterminated,
            };
            self.error(ArgErrorKind::OptsString(e), offset)
        })?;
        let parsed = opts::parse(&text, opts::implied_name(param.name()))
            .map_err(|e| self.error(ArgErrorKind::Opts(e), start))?;
        for warning in parsed.warnings {
            self.args.warn(warning);
        }
        let options = parsed.options;
        self.pos = end;
        self.args.insert(param.name(), ArgValue::Opts(options));
        Ok(())
    }

    /// `/`: `/[count][format][size]`, in QEMU's loop that takes format and
    /// size letters in any order, the last of each winning.
    fn format(&mut self, name: &str, defaults: &mut FormatDefaults) -> Result<(), ArgError> {
        self.pos = skip_space(self.s, self.pos);
        let format = if at(self.s, self.pos) == b'/' {
            let mut p = self.pos + 1;
            let mut count: i32 = 1;
            if at(self.s, p).is_ascii_digit() {
                count = 0;
                while at(self.s, p).is_ascii_digit() {
                    count = count
                        .wrapping_mul(10)
                        .wrapping_add(i32::from(at(self.s, p) - b'0'));
                    p += 1;
                }
            }
            let mut format = None;
            let mut size = None;
            loop {
                match at(self.s, p) {
                    c @ (b'o' | b'd' | b'u' | b'x' | b'i' | b'c') => format = Some(char::from(c)),
                    b'b' => size = Some(1),
                    b'h' => size = Some(2),
                    b'w' => size = Some(4),
                    b'g' | b'L' => size = Some(8),
                    _ => break,
                }
                p += 1;
            }
            let c = at(self.s, p);
            if c != 0 && !is_space(c) {
                return Err(self.error(ArgErrorKind::InvalidFormatChar(char_at(self.line, p)), p));
            }
            self.pos = p;
            let format = format.unwrap_or(defaults.format);
            if format != 'i' {
                let chosen = size.unwrap_or(defaults.size);
                size = Some(chosen);
                defaults.size = chosen;
            }
            defaults.format = format;
            Format {
                count,
                format,
                size,
            }
        } else {
            let format = defaults.format;
            Format {
                count: 1,
                format,
                size: (format != 'i').then_some(defaults.size),
            }
        };
        self.args.insert(name, ArgValue::Format(format));
        Ok(())
    }

    /// `T`: a C float, then `ms`, `us` or `ns`.
    fn seconds(&mut self, param: &Param) -> Result<(), ArgError> {
        if self.absent_at_end(param) {
            return Ok(());
        }
        let start = self.pos;
        let number =
            strtod(self.s, start).ok_or_else(|| self.error(ArgErrorKind::NumberExpected, start))?;
        if !number.value.is_finite() {
            return Err(self.error(ArgErrorKind::BadNumber, start));
        }
        let mut value = number.value;
        let mut p = number.end;
        if at(self.s, p) != 0 && at(self.s, p + 1) == b's' {
            let divisor = match at(self.s, p) {
                b'm' => Some(1e3),
                b'u' => Some(1e6),
                b'n' => Some(1e9),
                _ => None,
            };
            if let Some(divisor) = divisor {
                value /= divisor;
                p += 2;
            }
        }
        let c = at(self.s, p);
        if c != 0 && !is_space(c) {
            return Err(self.error(ArgErrorKind::UnknownUnitSuffix, p));
        }
        self.pos = p;
        self.args.insert(param.name(), ArgValue::Float(value));
        Ok(())
    }

    /// `q`: one JSON value (an extension; QEMU 7.2's HMP has no `q`).
    fn json(&mut self, param: &Param) -> Result<(), ArgError> {
        if self.absent_at_end(param) {
            return Ok(());
        }
        let start = self.pos;
        if start >= self.s.len() {
            return Err(self.error(ArgErrorKind::JsonExpected, start));
        }
        let mut stream =
            serde_json::Deserializer::from_slice(&self.s[start..]).into_iter::<serde_json::Value>();
        match stream.next() {
            Some(Ok(value)) => {
                let end = start + stream.byte_offset();
                let c = at(self.s, end);
                if c != 0 && !is_space(c) {
                    return Err(self.error(
                        ArgErrorKind::InvalidJson(format!(
                            "unexpected '{}' after the value",
                            char_at(self.line, end)
                        )),
                        end,
                    ));
                }
                self.pos = end;
                self.args.insert(param.name(), ArgValue::Json(value));
                Ok(())
            }
            Some(Err(e)) => Err(self.error(ArgErrorKind::InvalidJson(e.to_string()), start)),
            None => Err(self.error(ArgErrorKind::JsonExpected, start)),
        }
    }
}
