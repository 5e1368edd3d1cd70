//! Helpers shared by the integration tests. Each test file includes this
//! module (`mod util;`) and uses a different part:
//!
//! - the differential harness, which runs QEMU 7.2 and `minimal` side by
//!   side, replays the same bytes to each on a fresh connection, and
//!   compares the normalised answers: what a case is ([`case`]), the pair
//!   of servers and [`run_group`] ([`pair`]), one server's replay of a
//!   case ([`server`]), and the comparison of two transcripts
//!   ([`compare`]);
//! - [`Minimal`]: `minimal` on a socket of its own, for the tests that
//!   drive it directly ([`minimal`]);
//! - [`vmm`]: the reference VMM as a child process.
//!
//! What every test crate of the workspace shares (socket paths, waits,
//! reproducible randomness) is in the `monitor-test-util` crate.

#![allow(dead_code)] // each test file uses a different part

pub mod vmm;

mod case;
mod compare;
mod minimal;
mod pair;
mod server;

use std::time::Duration;

// What the test files use, each a different part of it.
#[allow(unused_imports)]
pub use self::case::{Case, End, Nego};
#[allow(unused_imports)]
pub use self::minimal::Minimal;
#[allow(unused_imports)]
pub use self::pair::{run_group, Pair};

/// How long a server may take to start accepting connections.
const STARTUP: Duration = Duration::from_secs(20);
