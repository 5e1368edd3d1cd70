//! `#[hmp_command]`: registers an HMP handler with its `args_type`,
//! `params` and `help`, as QEMU's command tables do.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{ItemFn, LitStr};

#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    args_type: Option<LitStr>,
    params: Option<LitStr>,
    help: Option<LitStr>,
}

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
    match parse(attr).and_then(|o| generate(&func, o)) {
        Ok(generated) => quote! { #func #generated },
        Err(e) => {
            let e = e.to_compile_error();
            quote! { #e #func }
        }
    }
}

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

fn generate(func: &ItemFn, o: Options) -> syn::Result<TokenStream> {
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
    let args_type = o.args_type.unwrap_or_else(|| LitStr::new("", ident.span()));
    let params = o.params.unwrap_or_else(|| LitStr::new("", ident.span()));
    let origin = format!("::{ident}");
    Ok(quote! {
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
    })
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
