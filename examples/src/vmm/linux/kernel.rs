//! The kernel to boot: its image, command line and initrd
//! ([`KernelBoot`]), and which kind of image it is ([`KernelFormat`]).

use std::fmt;
use std::path::Path;

use super::cmdline::DEFAULT_CMDLINE;
use super::error::LinuxError;

/// A kernel to boot instead of the firmware, with its command line and
/// optional initrd. [`Machine::reset`](crate::vmm::Machine::reset) loads it
/// again from these bytes.
///
/// # Examples
///
/// ```
/// use examples::vmm::linux::{KernelBoot, DEFAULT_CMDLINE};
///
/// let mut kernel = KernelBoot::new(vec![0x7f, b'E', b'L', b'F']);
/// kernel.append_cmdline("virtio_mmio.device=4K@0xd0000000:5");
/// assert_eq!(
///     kernel.cmdline,
///     format!("{DEFAULT_CMDLINE} virtio_mmio.device=4K@0xd0000000:5")
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct KernelBoot {
    /// The kernel image: an ELF `vmlinux` or a `bzImage`.
    pub image: Vec<u8>,
    /// The command line ([`DEFAULT_CMDLINE`] unless replaced).
    pub cmdline: String,
    /// The initial ramdisk, if any.
    pub initrd: Option<Vec<u8>>,
}

impl KernelBoot {
    /// `image` with [`DEFAULT_CMDLINE`] and no initrd.
    pub fn new(image: Vec<u8>) -> Self {
        Self {
            image,
            cmdline: DEFAULT_CMDLINE.to_owned(),
            initrd: None,
        }
    }

    /// Reads the kernel (and the initrd) from files, with [`DEFAULT_CMDLINE`].
    ///
    /// # Errors
    ///
    /// [`LinuxError::Read`] if a file cannot be read, [`LinuxError::UnknownFormat`]
    /// if the kernel is neither ELF nor bzImage.
    pub fn from_files(
        kernel: &Path,
        initrd: Option<&Path>,
    ) -> std::result::Result<Self, LinuxError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| LinuxError::Read {
                path: path.to_owned(),
                source,
            })
        };
        let image = read(kernel)?;
        KernelFormat::detect(&image)?;
        let mut boot = Self::new(image);
        boot.initrd = initrd.map(read).transpose()?;
        Ok(boot)
    }

    /// Adds `text` to the command line, separated by a space.
    pub fn append_cmdline(&mut self, text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        if !self.cmdline.is_empty() && !self.cmdline.ends_with(' ') {
            self.cmdline.push(' ');
        }
        self.cmdline.push_str(text);
    }
}

impl fmt::Debug for KernelBoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KernelBoot")
            .field("image", &format_args!("{} bytes", self.image.len()))
            .field("cmdline", &self.cmdline)
            .field(
                "initrd",
                &self.initrd.as_ref().map(|i| format!("{} bytes", i.len())),
            )
            .finish()
    }
}

/// What kind of kernel image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelFormat {
    /// An ELF file (`vmlinux`).
    Elf,
    /// A bzImage (`vmlinuz`): the `HdrS` setup header at 0x202.
    BzImage,
}

impl KernelFormat {
    /// Tells the format by the magic numbers.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::vmm::linux::KernelFormat;
    ///
    /// assert_eq!(KernelFormat::detect(b"\x7fELF\x02\x01").unwrap(), KernelFormat::Elf);
    /// assert!(KernelFormat::detect(b"MZ").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`LinuxError::UnknownFormat`].
    pub fn detect(image: &[u8]) -> std::result::Result<Self, LinuxError> {
        if image.starts_with(b"\x7fELF") {
            Ok(Self::Elf)
        } else if image.get(0x202..0x206) == Some(b"HdrS") {
            Ok(Self::BzImage)
        } else {
            Err(LinuxError::UnknownFormat)
        }
    }
}
