//! `#[qmp_command]`: a function becomes a registered QMP command.
//!
//! The work is split as thiserror splits its derive, so that each step can
//! be read and tested alone:
//! - [`attr`] reads the macro's own attributes;
//! - [`parse`] reads the function into the [`ast`] model;
//! - [`valid`] checks the model, reporting every mistake it finds;
//! - [`expand`](mod@expand) writes the code from a checked model.
//!
//! The function is re-emitted whatever happens, less our parameter
//! attributes, so that a mistake is one error and nothing cascades.

mod ast;
mod attr;
mod expand;
mod parse;
mod valid;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use ast::{Options, ParamAttrs};

/// The macro: `attr` is what the parentheses held, `item` the function.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let mut out = syn::Error::new(e.span(), "#[qmp_command] applies to a function")
                .to_compile_error();
            out.extend(item);
            return out;
        }
    };
    // Our parameter attributes must go whatever happens, or rustc would
    // report them too.
    let params = attr::take_param_attrs(&mut func);
    let result = attr::options(attr).and_then(|options| command(&func, params, &options));
    match result {
        Ok(generated) => quote! { #func #generated },
        Err(e) => {
            let e = e.to_compile_error();
            quote! { #e #func }
        }
    }
}

/// Parse, validate, expand.
fn command(func: &ItemFn, attrs: Vec<ParamAttrs>, options: &Options) -> syn::Result<TokenStream> {
    let command = parse::command(func, attrs, options);
    valid::command(&command)?;
    Ok(expand::command(&command))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(attr: &str, item: &str) -> String {
        expand(
            attr.parse().unwrap_or_default(),
            item.parse().unwrap_or_default(),
        )
        .to_string()
    }

    #[test]
    fn malformed_input_never_panics_and_reemits_the_function() {
        let attrs = [
            "",
            "name",
            "name =",
            "name = 3",
            "name = \"\"",
            "name = \"a b\"",
            "bogus",
            "allow_oob = 1",
            "features",
            "features = 3",
            "features = [1]",
            "name = \"a\", name = \"b\"",
            ",",
            "= =",
            "features = [\"\"]",
            "deprecated(x)",
        ];
        let items = [
            "fn f() {}",
            "fn f(self) {}",
            "fn f<T>(x: T) {}",
            "async fn f() {}",
            "fn f(x: &mut u32) {}",
            "fn f(x: impl Fn()) {}",
            "fn f((a, b): (u32, u32)) {}",
            "fn f(#[args] a: A, b: u32) {}",
            "fn f(#[args] a: A, #[args] b: B) {}",
            "fn f(#[arg(name = \"x\")] a: u32, x: u32) {}",
            "fn f(#[arg(nam = \"x\")] a: u32) {}",
            "fn f(#[arg(name = \"x\")] a: &State) {}",
            "fn f(s: &str) {}",
            "struct S;",
            "fn",
            "",
        ];
        for attr in attrs {
            for item in items {
                let out = run(attr, item);
                if item.starts_with("fn f(") || item == "fn f() {}" {
                    assert!(out.contains("fn f"), "{attr} / {item}: {out}");
                }
            }
        }
    }

    #[test]
    fn argument_names_are_kebab_case() {
        let out = run("", "fn query_cpu(cpu_index: Option<i64>) {}");
        assert!(out.contains("\"cpu-index\""), "{out}");
        assert!(out.contains("\"query-cpu\""), "{out}");
    }

    #[test]
    fn each_mistake_is_an_error() {
        for item in [
            "fn f(self) {}",
            "fn f<T>(x: T) {}",
            "fn f(x: &mut u32) {}",
            "fn f(x: impl Fn()) {}",
            "fn f(#[args] a: A, b: u32) {}",
            "fn f(a_b: u32, #[arg(name = \"a-b\")] c: u32) {}",
        ] {
            assert!(run("", item).contains("compile_error"), "{item}");
        }
        assert!(run("bogus", "fn f() {}").contains("compile_error"));
        assert!(run("name = \"\"", "fn f() {}").contains("compile_error"));
    }
}
