//! Writes the `Schema` impl of a read type: its shape as calls on the
//! schema generator. Nothing here fails.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::ast::{Branch, Case, Container, Member, Shape};

/// `impl Schema for T`.
pub(crate) fn container(c: &Container<'_>) -> TokenStream {
    let ident = c.ident;
    let body = body(&c.shape);
    let optional = optional(&c.shape);
    quote! {
        impl ::monitor_core::__private::Schema for #ident {
            fn schema(__monitor_gen: &mut ::monitor_core::__private::SchemaGen) -> ::std::string::String {
                #body
            }
            #optional
        }
    }
}

/// A transparent type is optional when its first field's type is; other
/// types keep the default.
fn optional(shape: &Shape) -> TokenStream {
    match shape {
        Shape::Transparent { first, .. } => quote! {
            fn optional() -> bool {
                <#first as ::monitor_core::__private::Schema>::optional()
            }
        },
        _ => quote! {},
    }
}

/// The body of `schema()`: registers the type and returns its name.
fn body(shape: &Shape) -> TokenStream {
    match shape {
        Shape::Transparent { ty, .. } => {
            quote_spanned! {ty.span()=> __monitor_gen.describe::<#ty>() }
        }
        Shape::Unit => quote! { __monitor_gen.empty_object() },
        Shape::Object(members) => {
            let members = self::members(members);
            quote! {
                __monitor_gen.object::<Self>(|__monitor_gen| {
                    #members
                    ::monitor_core::__private::ObjectInfo::new(__monitor_members)
                })
            }
        }
        Shape::Enumeration(values) => {
            quote! { __monitor_gen.enumeration::<Self>(&[#(#values),*]) }
        }
        Shape::FlatUnion { tag, cases } => flat_union(tag, cases),
        Shape::Alternate(branches) => {
            let types = branches.iter().map(branch);
            quote! {
                __monitor_gen.alternate::<Self>(|__monitor_gen| ::std::vec![#(#types),*])
            }
        }
    }
}

/// Code that builds `let mut __monitor_members: Vec<Member>`.
fn members(members: &[Member]) -> TokenStream {
    let pushes = members.iter().map(|m| match m {
        Member::Flatten(ty) => quote_spanned! {ty.span()=>
            let __monitor_flat = __monitor_gen.describe::<#ty>();
            __monitor_members.extend(__monitor_gen.members_of(&__monitor_flat));
        },
        Member::Named {
            name,
            ty,
            forced_optional,
        } => quote_spanned! {ty.span()=>
            __monitor_members.push(::monitor_core::__private::Member {
                name: ::std::string::String::from(#name),
                type_name: __monitor_gen.describe::<#ty>(),
                optional: #forced_optional || <#ty as ::monitor_core::__private::Schema>::optional(),
                features: ::std::vec::Vec::new(),
            });
        },
    });
    quote! {
        let mut __monitor_members: ::std::vec::Vec<::monitor_core::__private::Member> = ::std::vec::Vec::new();
        #(#pushes)*
    }
}

/// The type of a union case or an alternate's branch.
fn branch(b: &Branch) -> TokenStream {
    match b {
        Branch::Null => quote! { __monitor_gen.builtin("null", "null") },
        Branch::Empty => quote! { __monitor_gen.empty_object() },
        Branch::Type(ty) => quote_spanned! {ty.span()=> __monitor_gen.describe::<#ty>() },
        Branch::Object { variant, members } => {
            let members = self::members(members);
            quote! {
                __monitor_gen.object_keyed(
                    ::monitor_core::__private::TypeKey::Named(::std::format!(
                        "{}::{}", ::std::any::type_name::<Self>(), #variant
                    )),
                    |__monitor_gen| {
                        #members
                        ::monitor_core::__private::ObjectInfo::new(__monitor_members)
                    },
                )
            }
        }
    }
}

/// A flat union: an object with the tag as its one member and a variant
/// per case.
fn flat_union(tag: &str, cases: &[Case]) -> TokenStream {
    let names: Vec<&String> = cases.iter().map(|c| &c.name).collect();
    let types = cases.iter().map(|c| branch(&c.branch));
    quote! {
        __monitor_gen.object::<Self>(|__monitor_gen| {
            let __monitor_tag = __monitor_gen.enumeration_keyed(
                ::monitor_core::__private::TypeKey::Named(::std::format!(
                    "{} tag", ::std::any::type_name::<Self>()
                )),
                &[#(#names),*],
            );
            let mut __monitor_variants = ::std::vec::Vec::new();
            #(
                __monitor_variants.push(::monitor_core::__private::Variant {
                    case: ::std::string::String::from(#names),
                    type_name: #types,
                });
            )*
            ::monitor_core::__private::ObjectInfo {
                members: ::std::vec![::monitor_core::__private::Member::new(#tag, __monitor_tag)],
                tag: ::std::option::Option::Some(::std::string::String::from(#tag)),
                variants: __monitor_variants,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enumeration_lists_its_values() {
        let ident: proc_macro2::Ident = syn::parse_str("RunState").unwrap();
        let shape = Shape::Enumeration(vec!["running".into(), "paused".into()]);
        let out = container(&Container {
            ident: &ident,
            shape,
        })
        .to_string();
        assert!(out.contains("Schema for RunState"), "{out}");
        assert!(
            out.contains("enumeration :: < Self > (& [\"running\" , \"paused\"])"),
            "{out}"
        );
    }
}
