// `allow_oob`, `deprecated`, `features = [...]`, and doc comments.
use monitor_core::Registry;
use monitor_core::qmp_command;

/// Resume guest execution.
///
/// Does nothing if the guest is running.
#[qmp_command(name = "cont", allow_oob)]
fn cont() {}

/// An old spelling.
#[qmp_command(name = "x-old", deprecated, features = ["unstable", "x-feature.1"])]
fn x_old() {}

#[qmp_command(features = [])]
fn x_no_features() {}

fn main() {
    let registry = Registry::with_inventory().unwrap();

    let cont = registry.get("cont").unwrap();
    assert!(cont.allows_oob());
    assert_eq!(
        cont.documentation(),
        "Resume guest execution.\n\nDoes nothing if the guest is running."
    );
    assert!(cont.feature_flags().is_empty());

    let old = registry.get("x-old").unwrap();
    assert!(!old.allows_oob());
    assert_eq!(old.feature_flags(), ["deprecated", "unstable", "x-feature.1"]);
    assert_eq!(old.documentation(), "An old spelling.");

    let none = registry.get("x-no-features").unwrap();
    assert!(none.feature_flags().is_empty());
    assert_eq!(none.documentation(), "");
}
