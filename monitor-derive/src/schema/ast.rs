//! The model of a `#[derive(Schema)]` type: the QAPI shape that
//! [`parse`](super::parse) reads and [`expand`](mod@super::expand) describes.
//! Plain data; only shapes QAPI can express have a place here.

use proc_macro2::Ident;
use syn::Type;

/// A type to describe, read.
pub(crate) struct Container<'a> {
    /// The type's name.
    pub(crate) ident: &'a Ident,
    /// What it looks like on the wire.
    pub(crate) shape: Shape,
}

/// A type's QAPI shape.
pub(crate) enum Shape {
    /// A newtype or `#[serde(transparent)]` struct: the type of its field.
    Transparent {
        /// The field described: the first that serde does not skip.
        ty: Box<Type>,
        /// The first field, whose type says whether the member is optional.
        first: Box<Type>,
    },
    /// A unit struct: the empty object.
    Unit,
    /// A struct with named fields: an object.
    Object(Vec<Member>),
    /// An enum of unit variants: the names of those not skipped.
    Enumeration(Vec<String>),
    /// `#[serde(tag = "...")]`: a flat union on `tag`.
    FlatUnion {
        /// The tag member's name.
        tag: String,
        /// One case per variant not skipped.
        cases: Vec<Case>,
    },
    /// `#[serde(untagged)]`: an alternate of the variants not skipped.
    Alternate(Vec<Branch>),
}

/// One member of an object, from a field that serde does not skip.
pub(crate) enum Member {
    /// `#[serde(flatten)]`: the members of the field's type.
    Flatten(Type),
    /// A member of its own.
    Named {
        /// The name on the wire.
        name: String,
        /// The field's type.
        ty: Type,
        /// Optional whatever the type: `default` or `skip_serializing_if`.
        forced_optional: bool,
    },
}

/// One case of a flat union.
pub(crate) struct Case {
    /// The tag's value.
    pub(crate) name: String,
    /// The members the case adds.
    pub(crate) branch: Branch,
}

/// The type of a union case or an alternate's branch, from a variant.
pub(crate) enum Branch {
    /// A unit variant of an alternate: `null`.
    Null,
    /// A unit variant of a flat union: the empty object.
    Empty,
    /// A newtype variant: its type.
    Type(Type),
    /// A variant with named fields: an object named after the variant.
    Object {
        /// The variant's name as written.
        variant: String,
        /// Its members.
        members: Vec<Member>,
    },
}
