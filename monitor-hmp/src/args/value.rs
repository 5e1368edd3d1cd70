//! The values a parsed line yields: [`ArgValue`], collected in [`Args`].

use serde_json::{Map, Value as Json};

/// The `/fmt` of `x`, `xp`, `print`, `i`, `o`: `/16xb` is 16 units, shown
/// in hex, one byte each.
///
/// QEMU puts these in its argument dictionary as `count`, `format` (the
/// character's code) and `size` (-1 when `None`), whatever the parameter
/// is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Format {
    /// How many units (QEMU's C `int`: wraps past `i32::MAX`).
    pub count: i32,
    /// `o` octal, `d` signed, `u` unsigned, `x` hex, `c` char, `i` instructions.
    pub format: char,
    /// Bytes per unit: 1 (`b`), 2 (`h`), 4 (`w`) or 8 (`g`, `L`); `None` for
    /// `i` without a size letter, which lets the disassembler choose.
    pub size: Option<u8>,
}

/// The format and size a `/fmt` without them falls back on, updated by
/// every `/fmt` that names them.
///
/// QEMU keeps one such pair for the whole process (`x/3i` once, and a later
/// plain `x` disassembles too); keep one wherever your monitor keeps
/// per-process state, and pass it to
/// [`ArgsType::parse_line_with`](super::ArgsType::parse_line_with).
///
/// # Examples
///
/// ```
/// use monitor_hmp::args::{ArgsType, ArgValue, Format, FormatDefaults, NoCpu};
///
/// let x = ArgsType::parse("fmt:/,addr:l").unwrap();
/// let mut defaults = FormatDefaults::default();
/// x.parse_line_with("x", "/3i 0", &NoCpu, &mut defaults).unwrap();
/// let args = x.parse_line_with("x", "0", &NoCpu, &mut defaults).unwrap();
/// assert_eq!(
///     args.get("fmt"),
///     Some(&ArgValue::Format(Format { count: 1, format: 'i', size: None }))
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FormatDefaults {
    pub(crate) format: char,
    pub(crate) size: u8,
}

impl Default for FormatDefaults {
    /// QEMU's start-up values: hex, 4 bytes.
    fn default() -> Self {
        FormatDefaults {
            format: 'x',
            size: 4,
        }
    }
}

impl FormatDefaults {
    /// The format a `/fmt` without one uses.
    pub fn format(&self) -> char {
        self.format
    }

    /// The size a `/fmt` without one uses (unless the format is `i`).
    pub fn size(&self) -> u8 {
        self.size
    }
}

/// One parsed argument.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ArgValue {
    /// `s`, `S`, `F`, `B`, and the value of a `-xs` option.
    Str(String),
    /// `i` (0 to `u32::MAX`) and `l`.
    Int(i64),
    /// `o` (at most `i64::MAX`) and `M` (in bytes; QEMU's multiplication
    /// by 2^20 wraps, and so does ours).
    Size(u64),
    /// `T`, in seconds.
    Float(f64),
    /// `b`.
    Bool(bool),
    /// `-x`: whether the option was given (`false` when absent).
    Flag(bool),
    /// `O`: the options, `id` first, then in the order written; a name
    /// may repeat, and the last one counts in [`Args::to_qdict`].
    Opts(Vec<(String, String)>),
    /// `q`.
    Json(Json),
    /// `/`.
    Format(Format),
}

/// The arguments of one command line, by parameter name, in the order of
/// the `args_type`. Optional parameters that were left out are absent;
/// flags are always present.
///
/// # Examples
///
/// ```
/// use monitor_hmp::args::{ArgsType, NoCpu};
///
/// let spec = ArgsType::parse("val:l,size:i,filename:s").unwrap();
/// let args = spec.parse_line("memsave", "0x1000 4096 \"/tmp/a b\"", &NoCpu).unwrap();
/// assert_eq!(args.int("val"), Some(0x1000));
/// assert_eq!(args.int("size"), Some(4096));
/// assert_eq!(args.str("filename"), Some("/tmp/a b"));
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Args {
    values: Vec<(String, ArgValue)>,
    warnings: Vec<String>,
}

impl Args {
    pub(crate) fn insert(&mut self, name: &str, value: ArgValue) {
        self.values.push((name.to_owned(), value));
    }

    pub(crate) fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    /// The value of parameter `name`, if present.
    pub fn get(&self, name: &str) -> Option<&ArgValue> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Whether parameter `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A string argument (`s S F B`, `-xs`).
    pub fn str(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            ArgValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// An integer argument (`i l`).
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.get(name)? {
            ArgValue::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// A size argument (`o M`), in bytes.
    pub fn size(&self, name: &str) -> Option<u64> {
        match self.get(name)? {
            ArgValue::Size(n) => Some(*n),
            _ => None,
        }
    }

    /// An `on`/`off` argument (`b`).
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name)? {
            ArgValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Whether option `name` (`-x`) was given.
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some(ArgValue::Flag(true)))
    }

    /// A `/fmt` argument.
    pub fn format(&self, name: &str) -> Option<Format> {
        match self.get(name)? {
            ArgValue::Format(f) => Some(*f),
            _ => None,
        }
    }

    /// The arguments in `args_type` order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ArgValue)> {
        self.values.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// How many arguments are present (flags included).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no argument is present.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Warnings QEMU 7.2 prints on stderr while accepting the line:
    /// short-form booleans in `O` values, hexadecimal sizes with a suffix.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The dictionary QEMU hands the command handler: absent flags are
    /// left out, given ones are `true`; `O` options are merged in at the
    /// top level as strings; a `/fmt` becomes `count`, `format` (character
    /// code) and `size` (-1 for none); sizes are integers.
    ///
    /// # Examples
    ///
    /// ```
    /// use monitor_hmp::args::{ArgsType, NoCpu};
    /// use serde_json::json;
    ///
    /// let spec = ArgsType::parse("fmt:/,addr:l").unwrap();
    /// let args = spec.parse_line("x", "/2xb 0x10", &NoCpu).unwrap();
    /// assert_eq!(
    ///     serde_json::Value::Object(args.to_qdict()),
    ///     json!({"count": 2, "format": 120, "size": 1, "addr": 16})
    /// );
    /// ```
    pub fn to_qdict(&self) -> Map<String, Json> {
        let mut map = Map::new();
        for (name, value) in &self.values {
            let json = match value {
                ArgValue::Str(s) => Json::from(s.as_str()),
                ArgValue::Int(n) => Json::from(*n),
                // QEMU stores the bits in an int64.
                ArgValue::Size(n) => Json::from(*n as i64),
                ArgValue::Float(f) => Json::from(*f),
                ArgValue::Bool(b) | ArgValue::Flag(b @ true) => Json::from(*b),
                ArgValue::Flag(false) => continue,
                ArgValue::Json(j) => j.clone(),
                ArgValue::Opts(opts) => {
                    for (k, v) in opts {
                        map.insert(k.clone(), Json::from(v.as_str()));
                    }
                    continue;
                }
                ArgValue::Format(f) => {
                    map.insert("count".into(), Json::from(f.count));
                    map.insert("format".into(), Json::from(u32::from(f.format)));
                    map.insert("size".into(), Json::from(f.size.map_or(-1, i64::from)));
                    continue;
                }
            };
            map.insert(name.clone(), json);
        }
        map
    }
}
