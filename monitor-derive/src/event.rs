//! `#[derive(Event)]`: a named event type, declared for `query-events`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitStr};

use crate::attrs::{snake, SerdeAttrs};
use crate::names::valid_name;

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
            "event types cannot be generic",
        ));
    }
    let mut name = None;
    let mut features = Vec::new();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("event")) {
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
    let ident = &input.ident;
    let name = name.unwrap_or_else(|| snake(&ident.to_string()).to_ascii_uppercase());
    let container = SerdeAttrs::parse(&input.attrs)?;
    let unit = matches!(&input.data, Data::Struct(s) if matches!(s.fields, Fields::Unit));
    let data = if unit && !container.transparent {
        quote! { ::std::option::Option::None }
    } else {
        quote! { ::std::option::Option::Some(::monitor_core::__private::schema_of::<#ident>) }
    };
    let origin = format!("::{ident}");
    Ok(quote! {
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
    })
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
