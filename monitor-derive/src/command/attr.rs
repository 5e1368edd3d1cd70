//! The macro's own attributes: the `#[qmp_command(...)]` options and the
//! `#[args]` and `#[arg(name = "...")]` parameter attributes.

use proc_macro2::TokenStream;
use syn::meta::ParseNestedMeta;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, ItemFn, LitStr, PatType};

use super::ast::{Options, ParamAttrs};
use crate::names::valid_name;

/// Reads the options; the first mistake is the error.
pub(crate) fn options(attr: TokenStream) -> syn::Result<Options> {
    let mut o = Options::default();
    let mut seen: Vec<String> = Vec::new();
    let parser = syn::meta::parser(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        if seen.contains(&key) {
            return Err(meta.error(format!("option `{key}` is given twice")));
        }
        seen.push(key.clone());
        match key.as_str() {
            "name" => o.name = Some(command_name(&meta)?),
            "allow_oob" => o.allow_oob = true,
            "deprecated" => o.deprecated = true,
            "features" => o.features = features(&meta)?,
            _ => {
                return Err(meta.error(
                    "unknown option; expected `name = \"...\"`, `allow_oob`, `deprecated` or `features = [...]`",
                ))
            }
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(o)
}

/// `name = "..."`: a valid QMP name.
fn command_name(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    let lit: LitStr = meta.value()?.parse()?;
    if !valid_name(&lit.value()) {
        return Err(syn::Error::new(
            lit.span(),
            "command names are not empty and use letters, digits, `-`, `_` and `.`",
        ));
    }
    Ok(lit)
}

/// `features = ["...", ...]`: valid QMP names.
fn features(meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<LitStr>> {
    let array: syn::ExprArray = meta.value()?.parse()?;
    let mut features = Vec::new();
    for elem in array.elems {
        match elem {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) if valid_name(&s.value()) => features.push(s),
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    "features are non-empty string literals",
                ))
            }
        }
    }
    Ok(features)
}

/// Removes `#[args]` and `#[arg]` from every parameter and says what they
/// held, one entry per parameter. They must go whatever happens next, or
/// rustc would report them too.
pub(crate) fn take_param_attrs(func: &mut ItemFn) -> Vec<ParamAttrs> {
    func.sig
        .inputs
        .iter_mut()
        .map(|input| match input {
            FnArg::Typed(pt) => take(pt),
            FnArg::Receiver(_) => ParamAttrs::default(),
        })
        .collect()
}

/// Our attributes of one parameter, removed; the others stay.
fn take(pt: &mut PatType) -> ParamAttrs {
    let mut p = ParamAttrs::default();
    let mut keep = Vec::new();
    for attr in pt.attrs.drain(..) {
        if attr.path().is_ident("args") {
            p.args = Some(attr.span());
        } else if attr.path().is_ident("arg") {
            if let Err(e) = arg(&attr, &mut p) {
                p.error = Some(e);
            }
        } else {
            keep.push(attr);
        }
    }
    pt.attrs = keep;
    p
}

/// `#[arg(name = "...")]`: the argument's name, once, valid.
fn arg(attr: &Attribute, p: &mut ParamAttrs) -> syn::Result<()> {
    attr.parse_nested_meta(|meta| {
        if meta.path.is_ident("name") {
            let lit: LitStr = meta.value()?.parse()?;
            if !valid_name(&lit.value()) {
                return Err(syn::Error::new(
                    lit.span(),
                    "argument names are not empty and use letters, digits, `-`, `_` and `.`",
                ));
            }
            if p.rename.is_some() {
                return Err(syn::Error::new(lit.span(), "this argument is named twice"));
            }
            p.rename = Some(lit);
            Ok(())
        } else {
            Err(meta.error("unknown #[arg] option; expected `name = \"...\"`"))
        }
    })
}
