//! `#[derive(Schema)]`: parse (serde attributes), validate, expand.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields};

use crate::attrs::SerdeAttrs;

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match syn::parse2::<DeriveInput>(input).and_then(|i| derive(&i)) {
        Ok(tokens) => tokens,
        Err(e) => e.to_compile_error(),
    }
}

fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "#[derive(Schema)] does not support generic types; implement monitor_core::Schema by hand",
        ));
    }
    let container = SerdeAttrs::parse(&input.attrs)?;
    let ident = &input.ident;
    let body = match &input.data {
        Data::Struct(s) => struct_body(&s.fields, &container, input)?,
        Data::Enum(e) => enum_body(e, &container, input)?,
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span(),
                "unions have no QAPI equivalent",
            ))
        }
    };
    let optional = match &input.data {
        Data::Struct(s) if is_newtype(&s.fields) || container.transparent => {
            let ty = &s.fields.iter().next().map(|f| f.ty.clone());
            quote! {
                fn optional() -> bool {
                    <#ty as ::monitor_core::__private::Schema>::optional()
                }
            }
        }
        _ => quote! {},
    };
    Ok(quote! {
        impl ::monitor_core::__private::Schema for #ident {
            fn schema(__monitor_gen: &mut ::monitor_core::__private::SchemaGen) -> ::std::string::String {
                #body
            }
            #optional
        }
    })
}

fn is_newtype(fields: &Fields) -> bool {
    matches!(fields, Fields::Unnamed(f) if f.unnamed.len() == 1)
}

fn struct_body(
    fields: &Fields,
    container: &SerdeAttrs,
    input: &DeriveInput,
) -> syn::Result<TokenStream> {
    if container.transparent || is_newtype(fields) {
        let Some(field) = fields
            .iter()
            .find(|f| !SerdeAttrs::parse(&f.attrs).map(|a| a.skip).unwrap_or(false))
        else {
            return Err(syn::Error::new(
                input.ident.span(),
                "a transparent struct needs a field",
            ));
        };
        let ty = &field.ty;
        return Ok(quote_spanned! {ty.span()=> __monitor_gen.describe::<#ty>() });
    }
    match fields {
        Fields::Unit => Ok(quote! { __monitor_gen.empty_object() }),
        Fields::Unnamed(f) => Err(syn::Error::new(
            f.span(),
            "tuple structs have no QAPI equivalent; use named fields",
        )),
        Fields::Named(_) => {
            let members = members(fields, container)?;
            Ok(quote! {
                __monitor_gen.object::<Self>(|__monitor_gen| {
                    #members
                    ::monitor_core::__private::ObjectInfo::new(__monitor_members)
                })
            })
        }
    }
}

/// Code that builds `let mut members: Vec<Member>` for named fields.
fn members(fields: &Fields, container: &SerdeAttrs) -> syn::Result<TokenStream> {
    let mut pushes = Vec::new();
    for field in fields {
        let attrs = SerdeAttrs::parse(&field.attrs)?;
        if attrs.skip {
            continue;
        }
        let ty = &field.ty;
        if attrs.flatten {
            pushes.push(quote_spanned! {ty.span()=>
                let __monitor_flat = __monitor_gen.describe::<#ty>();
                __monitor_members.extend(__monitor_gen.members_of(&__monitor_flat));
            });
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
        pushes.push(quote_spanned! {ty.span()=>
            __monitor_members.push(::monitor_core::__private::Member {
                name: ::std::string::String::from(#name),
                type_name: __monitor_gen.describe::<#ty>(),
                optional: #forced_optional || <#ty as ::monitor_core::__private::Schema>::optional(),
                features: ::std::vec::Vec::new(),
            });
        });
    }
    Ok(quote! {
        let mut __monitor_members: ::std::vec::Vec<::monitor_core::__private::Member> = ::std::vec::Vec::new();
        #(#pushes)*
    })
}

fn variant_name(v: &syn::Variant, container: &SerdeAttrs) -> syn::Result<(String, SerdeAttrs)> {
    let attrs = SerdeAttrs::parse(&v.attrs)?;
    let raw = v.ident.to_string();
    let name = match (&attrs.rename, container.rename_all) {
        (Some(r), _) => r.clone(),
        (None, Some(rule)) => rule.variant(&raw),
        (None, None) => raw,
    };
    Ok((name, attrs))
}

fn enum_body(
    data: &syn::DataEnum,
    container: &SerdeAttrs,
    input: &DeriveInput,
) -> syn::Result<TokenStream> {
    let all_unit = data
        .variants
        .iter()
        .all(|v| matches!(v.fields, Fields::Unit));
    if container.content {
        return Err(syn::Error::new(
            input.ident.span(),
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
            input.ident.span(),
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
    Ok(quote! { __monitor_gen.enumeration::<Self>(&[#(#values),*]) })
}

fn branch_type(
    v: &syn::Variant,
    container: &SerdeAttrs,
    null_for_unit: bool,
) -> syn::Result<TokenStream> {
    let ident = v.ident.to_string();
    Ok(match &v.fields {
        Fields::Unit if null_for_unit => quote! { __monitor_gen.builtin("null", "null") },
        Fields::Unit => quote! { __monitor_gen.empty_object() },
        Fields::Unnamed(f) if f.unnamed.len() == 1 => {
            let ty = &f.unnamed[0].ty;
            quote_spanned! {ty.span()=> __monitor_gen.describe::<#ty>() }
        }
        Fields::Unnamed(f) => {
            return Err(syn::Error::new(
                f.span(),
                "tuple variants have no QAPI equivalent; use named fields",
            ))
        }
        Fields::Named(_) => {
            let members = members(
                &v.fields,
                &SerdeAttrs {
                    rename_all: None,
                    ..SerdeAttrs::default()
                },
            )?;
            let _ = container;
            quote! {
                __monitor_gen.object_keyed(
                    ::monitor_core::__private::TypeKey::Named(::std::format!(
                        "{}::{}", ::std::any::type_name::<Self>(), #ident
                    )),
                    |__monitor_gen| {
                        #members
                        ::monitor_core::__private::ObjectInfo::new(__monitor_members)
                    },
                )
            }
        }
    })
}

fn flat_union(data: &syn::DataEnum, container: &SerdeAttrs, tag: &str) -> syn::Result<TokenStream> {
    let mut cases = Vec::new();
    let mut types = Vec::new();
    for v in &data.variants {
        let (name, attrs) = variant_name(v, container)?;
        if attrs.skip {
            continue;
        }
        types.push(branch_type(v, container, false)?);
        cases.push(name);
    }
    Ok(quote! {
        __monitor_gen.object::<Self>(|__monitor_gen| {
            let __monitor_tag = __monitor_gen.enumeration_keyed(
                ::monitor_core::__private::TypeKey::Named(::std::format!(
                    "{} tag", ::std::any::type_name::<Self>()
                )),
                &[#(#cases),*],
            );
            let mut __monitor_variants = ::std::vec::Vec::new();
            #(
                __monitor_variants.push(::monitor_core::__private::Variant {
                    case: ::std::string::String::from(#cases),
                    type_name: #types,
                });
            )*
            ::monitor_core::__private::ObjectInfo {
                members: ::std::vec![::monitor_core::__private::Member::new(#tag, __monitor_tag)],
                tag: ::std::option::Option::Some(::std::string::String::from(#tag)),
                variants: __monitor_variants,
            }
        })
    })
}

fn alternate(data: &syn::DataEnum, container: &SerdeAttrs) -> syn::Result<TokenStream> {
    let mut types = Vec::new();
    for v in &data.variants {
        let (_, attrs) = variant_name(v, container)?;
        if !attrs.skip {
            types.push(branch_type(v, container, true)?);
        }
    }
    Ok(quote! {
        __monitor_gen.alternate::<Self>(|__monitor_gen| ::std::vec![#(#types),*])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(input: &str) -> String {
        expand(input.parse().unwrap()).to_string()
    }

    #[test]
    fn bad_inputs_give_errors_not_panics() {
        for input in [
            "struct A<T>(T);",
            "struct A(i32, i32);",
            "enum A { B(i32) }",
            "#[serde(tag = \"t\", content = \"c\")] enum A { B { x: i32 } }",
            "union U { a: u32 }",
            "#[serde(rename_all = \"bogus\")] struct A { a: i32 }",
            "#[serde(rename = 1)] struct A { a: i32 }",
            "struct",
            "",
        ] {
            assert!(errors(input).contains("compile_error"), "{input}");
        }
    }

    #[test]
    fn serde_keys_we_do_not_use_are_skipped() {
        let out = errors(
            "#[serde(deny_unknown_fields, crate = \"x\", bound(serialize = \"\"))] struct A { #[serde(with = \"m\", alias = \"b\")] a: i32 }",
        );
        assert!(!out.contains("compile_error"), "{out}");
    }
}
