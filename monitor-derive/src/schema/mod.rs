//! `#[derive(Schema)]`: describes a type for `query-qmp-schema`, as
//! serde puts it on the wire.
//!
//! In two steps, as thiserror splits its derive: [`parse`] reads the type
//! and its serde attributes into the [`ast`] model, rejecting shapes QAPI
//! cannot express, and [`expand`](mod@expand) writes the impl from it.

mod ast;
mod expand;
mod parse;

use proc_macro2::TokenStream;
use syn::DeriveInput;

/// The macro: `input` is the type.
pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match syn::parse2::<DeriveInput>(input).and_then(|i| derive(&i)) {
        Ok(tokens) => tokens,
        Err(e) => e.to_compile_error(),
    }
}

/// Parse, then expand.
fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let container = parse::container(input)?;
    Ok(expand::container(&container))
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
