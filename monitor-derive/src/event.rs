//! `#[derive(Event)]`: a named event type, declared for `query-events`.
//!
//! In two steps: [`parse`] reads the type and its `#[event(...)]` into an
//! [`Event`], rejecting what cannot be one, and [`generate`] writes the
//! declaration from it.

use proc_macro2::{Ident, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Fields, LitStr};

use crate::attrs::{snake, SerdeAttrs};
use crate::names::valid_name;

/// The macro: `input` is the type.
pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match syn::parse2::<DeriveInput>(input).and_then(|i| derive(&i)) {
        Ok(tokens) => tokens,
        Err(e) => e.to_compile_error(),
    }
}

/// Parse, then generate.
fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let event = parse(input)?;
    Ok(generate(&event))
}

/// An event type, read.
struct Event<'a> {
    /// The type.
    ident: &'a Ident,
    /// The event's name: `#[event(name = "...")]`, or the type's name in
    /// `SCREAMING_SNAKE_CASE`.
    name: String,
    /// Feature flags (`deprecated`).
    features: Vec<String>,
    /// Whether the type's `Serialize` output is the event's `data`: a unit
    /// struct has none, unless it is `#[serde(transparent)]`.
    has_data: bool,
}

/// Reads the type: not generic, with valid options.
fn parse(input: &DeriveInput) -> syn::Result<Event<'_>> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "event types cannot be generic",
        ));
    }
    let (name, features) = options(&input.attrs)?;
    let ident = &input.ident;
    let name = name.unwrap_or_else(|| snake(&ident.to_string()).to_ascii_uppercase());
    let container = SerdeAttrs::parse(&input.attrs)?;
    let unit = matches!(&input.data, Data::Struct(s) if matches!(s.fields, Fields::Unit));
    Ok(Event {
        ident,
        name,
        features,
        has_data: !unit || container.transparent,
    })
}

/// Every `#[event(...)]`: the name (once, valid) and the feature flags.
fn options(attrs: &[Attribute]) -> syn::Result<(Option<String>, Vec<String>)> {
    let mut name = None;
    let mut features = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("event")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                let lit: LitStr = meta.value()?.parse()?;
                if !valid_name(&lit.value()) {
                    return Err(syn::Error::new(
                        lit.span(),
                        "event names use letters, digits, `_`, `-` and `.`",
                    ));
                }
                if name.is_some() {
                    return Err(syn::Error::new(lit.span(), "the event is named twice"));
                }
                name = Some(lit.value());
                Ok(())
            } else if meta.path.is_ident("deprecated") {
                features.push("deprecated".to_owned());
                Ok(())
            } else {
                Err(meta.error("unknown event option; expected `name = \"...\"` or `deprecated`"))
            }
        })?;
    }
    Ok((name, features))
}

/// The `TypedEvent` impl and the `inventory` registration.
fn generate(event: &Event<'_>) -> TokenStream {
    let Event {
        ident,
        name,
        features,
        has_data,
    } = event;
    let data = if *has_data {
        quote! { ::std::option::Option::Some(::monitor_core::__private::schema_of::<#ident>) }
    } else {
        quote! { ::std::option::Option::None }
    };
    let origin = format!("::{ident}");
    quote! {
        impl ::monitor_core::__private::TypedEvent for #ident {
            const NAME: &'static str = #name;
        }

        const _: () = {
            ::monitor_core::__private::inventory::submit! {
                ::monitor_core::__private::EventRegistration {
                    name: #name,
                    data: #data,
                    origin: ::std::concat!(::std::module_path!(), #origin),
                    features: &[#(#features),*],
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_name_is_screaming_snake() {
        let out = expand("struct RtcChange { offset: i64 }".parse().unwrap()).to_string();
        assert!(out.contains("\"RTC_CHANGE\""), "{out}");
    }

    #[test]
    fn bad_options_give_errors() {
        for input in [
            "#[event(nam = \"X\")] struct A;",
            "#[event(name = \"\")] struct A;",
            "#[event(name = \"A B\")] struct A;",
            "#[event(name = 3)] struct A;",
            "struct A<T>(T);",
        ] {
            let out = expand(input.parse().unwrap()).to_string();
            assert!(out.contains("compile_error"), "{input}: {out}");
        }
    }
}
