//! `#[hmp_command]`: registers an HMP handler with its `args_type`,
//! `params` and `help`, as QEMU's command tables do.
//!
//! In three steps: [`parse`] reads the options, [`valid`] checks them and
//! fills in the defaults, making a [`Registration`], and [`generate`]
//! writes it.

use proc_macro2::{Ident, TokenStream};
use quote::quote;
use syn::{ItemFn, LitStr};

/// The options of `#[hmp_command(...)]`, as written.
#[derive(Default)]
struct Options {
    /// `name = "..."`: the command, with `|aliases`.
    name: Option<LitStr>,
    /// `args_type = "..."`: QEMU's argument mini-language.
    args_type: Option<LitStr>,
    /// `params = "..."`: the arguments as `help` shows them.
    params: Option<LitStr>,
    /// `help = "..."`: what the command does.
    help: Option<LitStr>,
}

/// A checked command: every field the registration needs.
struct Registration<'a> {
    /// The handler function.
    ident: &'a Ident,
    /// The command's name, not empty.
    name: LitStr,
    /// `args_type` (default empty).
    args_type: LitStr,
    /// `params` (default empty).
    params: LitStr,
    /// `help`, which is required.
    help: LitStr,
}

/// The macro: `attr` is what the parentheses held, `item` the function,
/// which is re-emitted whatever happens.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let mut out = syn::Error::new(e.span(), "#[hmp_command] applies to a function")
                .to_compile_error();
            out.extend(item);
            return out;
        }
    };
    match parse(attr).and_then(|o| valid(&func, o)) {
        Ok(registration) => {
            let generated = generate(&registration);
            quote! { #func #generated }
        }
        Err(e) => {
            let e = e.to_compile_error();
            quote! { #e #func }
        }
    }
}

/// Reads the options, each at most once.
fn parse(attr: TokenStream) -> syn::Result<Options> {
    let mut o = Options::default();
    let parser = syn::meta::parser(|meta| {
        let slot = if meta.path.is_ident("name") {
            &mut o.name
        } else if meta.path.is_ident("args_type") {
            &mut o.args_type
        } else if meta.path.is_ident("params") {
            &mut o.params
        } else if meta.path.is_ident("help") {
            &mut o.help
        } else {
            return Err(
                meta.error("unknown option; expected `name`, `args_type`, `params` or `help`")
            );
        };
        if slot.is_some() {
            return Err(meta.error("this option is given twice"));
        }
        *slot = Some(meta.value()?.parse()?);
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(o)
}

/// Checks the options of `func`'s command (a name that is not empty, a
/// `help`) and fills in the defaults.
fn valid(func: &ItemFn, o: Options) -> syn::Result<Registration<'_>> {
    let ident = &func.sig.ident;
    let name = match o.name {
        Some(n) if !n.value().trim().is_empty() => n,
        Some(n) => return Err(syn::Error::new(n.span(), "HMP command names are not empty")),
        None => LitStr::new(&ident.to_string(), ident.span()),
    };
    let Some(help) = o.help else {
        return Err(syn::Error::new_spanned(
            ident,
            "give the command a `help = \"...\"` text",
        ));
    };
    Ok(Registration {
        ident,
        name,
        args_type: o.args_type.unwrap_or_else(|| LitStr::new("", ident.span())),
        params: o.params.unwrap_or_else(|| LitStr::new("", ident.span())),
        help,
    })
}

/// The `HmpRegistration` submitted to `inventory`.
fn generate(r: &Registration<'_>) -> TokenStream {
    let Registration {
        ident,
        name,
        args_type,
        params,
        help,
    } = r;
    let origin = format!("::{ident}");
    quote! {
        const _: () = {
            ::monitor_hmp::__private::inventory::submit! {
                ::monitor_hmp::__private::HmpRegistration {
                    name: #name,
                    args_type: #args_type,
                    params: #params,
                    help: #help,
                    handler: #ident,
                    origin: ::std::concat!(::std::module_path!(), #origin),
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mistakes_are_errors_and_the_function_stays() {
        for attr in [
            "bogus = \"x\"",
            "name = \"\"",
            "",
            "help = 1",
            "help = \"a\", help = \"b\"",
        ] {
            let out = expand(
                attr.parse().unwrap_or_default(),
                "fn f() {}".parse().unwrap_or_default(),
            )
            .to_string();
            assert!(out.contains("compile_error"), "{attr}: {out}");
            assert!(out.contains("fn f"), "{attr}");
        }
    }
}
