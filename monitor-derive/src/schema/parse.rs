//! Reads a `#[derive(Schema)]` type and its serde attributes into the
//! [`Container`] model, rejecting the shapes QAPI cannot express.
//!
//! The first mistake, in declaration order, is the error: a serde attribute
//! that does not parse, or a shape with no QAPI equivalent. Shapes are
//! therefore checked as they are met, not in a pass of their own.

use proc_macro2::Ident;
use syn::spanned::Spanned;
use syn::{Data, DataEnum, DeriveInput, Fields, Variant};

use super::ast::{Branch, Case, Container, Member, Shape};
use crate::attrs::SerdeAttrs;

/// Reads `input`: not generic, not a union.
pub(crate) fn container(input: &DeriveInput) -> syn::Result<Container<'_>> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "#[derive(Schema)] does not support generic types; implement monitor_core::Schema by hand",
        ));
    }
    let container = SerdeAttrs::parse(&input.attrs)?;
    let ident = &input.ident;
    let shape = match &input.data {
        Data::Struct(s) => structure(&s.fields, &container, ident)?,
        Data::Enum(e) => enumeration(e, &container, ident)?,
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span(),
                "unions have no QAPI equivalent",
            ))
        }
    };
    Ok(Container { ident, shape })
}

/// Whether the fields are those of a newtype: one, unnamed.
fn is_newtype(fields: &Fields) -> bool {
    matches!(fields, Fields::Unnamed(f) if f.unnamed.len() == 1)
}

/// A struct: transparent, unit, or an object.
fn structure(fields: &Fields, container: &SerdeAttrs, ident: &Ident) -> syn::Result<Shape> {
    if container.transparent || is_newtype(fields) {
        return transparent(fields, ident);
    }
    match fields {
        Fields::Unit => Ok(Shape::Unit),
        Fields::Unnamed(f) => Err(syn::Error::new(
            f.span(),
            "tuple structs have no QAPI equivalent; use named fields",
        )),
        Fields::Named(_) => Ok(Shape::Object(members(fields, container)?)),
    }
}

/// A newtype or transparent struct: its first field that serde does not
/// skip (a field whose attributes do not parse counts as not skipped).
fn transparent(fields: &Fields, ident: &Ident) -> syn::Result<Shape> {
    let Some(field) = fields
        .iter()
        .find(|f| !SerdeAttrs::parse(&f.attrs).map(|a| a.skip).unwrap_or(false))
    else {
        return Err(syn::Error::new(
            ident.span(),
            "a transparent struct needs a field",
        ));
    };
    let first = fields.iter().next().unwrap_or(field);
    Ok(Shape::Transparent {
        ty: Box::new(field.ty.clone()),
        first: Box::new(first.ty.clone()),
    })
}

/// The members of named fields, named by serde's rules.
fn members(fields: &Fields, container: &SerdeAttrs) -> syn::Result<Vec<Member>> {
    let mut members = Vec::new();
    for field in fields {
        let attrs = SerdeAttrs::parse(&field.attrs)?;
        if attrs.skip {
            continue;
        }
        let ty = field.ty.clone();
        if attrs.flatten {
            members.push(Member::Flatten(ty));
            continue;
        }
        let Some(ident) = &field.ident else {
            return Err(syn::Error::new(field.span(), "fields need names"));
        };
        let raw = ident.to_string();
        let raw = raw.trim_start_matches("r#");
        let name = match (&attrs.rename, container.rename_all) {
            (Some(r), _) => r.clone(),
            (None, Some(rule)) => rule.field(raw),
            (None, None) => raw.to_owned(),
        };
        let forced_optional = attrs.default || attrs.skip_serializing_if || container.default;
        members.push(Member::Named {
            name,
            ty,
            forced_optional,
        });
    }
    Ok(members)
}

/// A variant's name on the wire, and its serde attributes.
fn variant_name(v: &Variant, container: &SerdeAttrs) -> syn::Result<(String, SerdeAttrs)> {
    let attrs = SerdeAttrs::parse(&v.attrs)?;
    let raw = v.ident.to_string();
    let name = match (&attrs.rename, container.rename_all) {
        (Some(r), _) => r.clone(),
        (None, Some(rule)) => rule.variant(&raw),
        (None, None) => raw,
    };
    Ok((name, attrs))
}

/// An enum: a flat union (`tag`), an alternate (`untagged`), or an
/// enumeration of unit variants.
fn enumeration(data: &DataEnum, container: &SerdeAttrs, ident: &Ident) -> syn::Result<Shape> {
    let all_unit = data
        .variants
        .iter()
        .all(|v| matches!(v.fields, Fields::Unit));
    if container.content {
        return Err(syn::Error::new(
            ident.span(),
            "adjacently tagged enums have no QAPI equivalent; drop `content` for a flat union",
        ));
    }
    if let Some(tag) = &container.tag {
        return flat_union(data, container, tag);
    }
    if container.untagged {
        return alternate(data, container);
    }
    if !all_unit {
        return Err(syn::Error::new(
            ident.span(),
            "enums with data need #[serde(tag = \"...\")] (a QAPI flat union) or #[serde(untagged)] (an alternate)",
        ));
    }
    let mut values = Vec::new();
    for v in &data.variants {
        let (name, attrs) = variant_name(v, container)?;
        if !attrs.skip {
            values.push(name);
        }
    }
    Ok(Shape::Enumeration(values))
}

/// `#[serde(tag = "...")]`: one case per variant not skipped.
fn flat_union(data: &DataEnum, container: &SerdeAttrs, tag: &str) -> syn::Result<Shape> {
    let mut cases = Vec::new();
    for v in &data.variants {
        let (name, attrs) = variant_name(v, container)?;
        if attrs.skip {
            continue;
        }
        let branch = branch(v, false)?;
        cases.push(Case { name, branch });
    }
    Ok(Shape::FlatUnion {
        tag: tag.to_owned(),
        cases,
    })
}

/// `#[serde(untagged)]`: one branch per variant not skipped.
fn alternate(data: &DataEnum, container: &SerdeAttrs) -> syn::Result<Shape> {
    let mut branches = Vec::new();
    for v in &data.variants {
        let (_, attrs) = variant_name(v, container)?;
        if !attrs.skip {
            branches.push(branch(v, true)?);
        }
    }
    Ok(Shape::Alternate(branches))
}

/// A variant's type. Its fields' names follow only their own `rename`,
/// as serde's do.
fn branch(v: &Variant, null_for_unit: bool) -> syn::Result<Branch> {
    Ok(match &v.fields {
        Fields::Unit if null_for_unit => Branch::Null,
        Fields::Unit => Branch::Empty,
        Fields::Unnamed(f) if f.unnamed.len() == 1 => Branch::Type(f.unnamed[0].ty.clone()),
        Fields::Unnamed(f) => {
            return Err(syn::Error::new(
                f.span(),
                "tuple variants have no QAPI equivalent; use named fields",
            ))
        }
        Fields::Named(_) => Branch::Object {
            variant: v.ident.to_string(),
            members: members(&v.fields, &SerdeAttrs::default())?,
        },
    })
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn read(input: &str) -> syn::Result<Shape> {
        let input: DeriveInput = syn::parse_str(input).unwrap();
        container(&input).map(|c| c.shape)
    }

    #[test]
    fn a_tagged_enum_is_a_flat_union() {
        let input = "#[serde(tag = \"type\", rename_all = \"lowercase\")] \
                     enum S { Unix { path: String }, Inet(I), #[serde(skip)] No }";
        let Ok(Shape::FlatUnion { tag, cases }) = read(input) else {
            panic!("not a flat union");
        };
        assert_eq!(tag, "type");
        let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["unix", "inet"]);
        assert!(matches!(&cases[0].branch, Branch::Object { variant, .. } if variant == "Unix"));
        assert!(matches!(cases[1].branch, Branch::Type(_)));
    }

    #[test]
    fn a_transparent_struct_is_its_first_field_not_skipped() {
        let input = "#[serde(transparent)] struct T { #[serde(skip)] a: u8, b: Option<u16> }";
        let Ok(Shape::Transparent { ty, first }) = read(input) else {
            panic!("not transparent");
        };
        assert_eq!(quote!(#ty).to_string(), "Option < u16 >");
        assert_eq!(quote!(#first).to_string(), "u8");
    }

    #[test]
    fn the_first_mistake_in_declaration_order_is_the_error() {
        let input = "#[serde(tag = \"t\")] enum A { B(u8, u8), #[serde(rename = 1)] C }";
        let Err(e) = read(input) else {
            panic!("accepted");
        };
        assert_eq!(
            e.to_string(),
            "tuple variants have no QAPI equivalent; use named fields"
        );
    }
}
