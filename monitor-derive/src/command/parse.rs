//! Reads a `#[qmp_command]` function into the [`Command`] model: the
//! options resolved, each parameter an extractor or a QMP argument, and
//! the return type.
//!
//! A parameter that is neither is not in the model: its error is kept,
//! in order, for validation to report with the rest.

use proc_macro2::Ident;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, Pat, PatType, ReturnType, Type, TypePath, TypeReference};

use super::ast::{Command, Extractor, Options, Param, ParamAttrs, Parameter, Returns};
use crate::attrs::doc_comment;

/// The error for a parameter that fits nowhere.
const NEITHER: &str = "this parameter is neither an extractor (`&T` or `State<T>` for registered state, `&SessionInfo`, `&Emitter`, `&Context`, `Completion<T>`) nor a QMP argument (an owned `Deserialize` type)";

/// Reads `func`, whose parameters carried `attrs` (one entry each).
pub(crate) fn command<'a>(
    func: &'a ItemFn,
    attrs: Vec<ParamAttrs>,
    options: &Options,
) -> Command<'a> {
    let sig = &func.sig;
    let mut params = Vec::new();
    let mut unreadable = Vec::new();
    for (input, attrs) in sig.inputs.iter().zip(attrs) {
        match parameter(input, attrs) {
            Ok(param) => params.push(Parameter {
                span: input.span(),
                param,
            }),
            Err(e) => unreadable.push(e),
        }
    }
    let mut features: Vec<String> = Vec::new();
    if options.deprecated {
        features.push("deprecated".to_owned());
    }
    features.extend(options.features.iter().map(LitStr::value));
    Command {
        sig,
        name: options
            .name
            .as_ref()
            .map(LitStr::value)
            .unwrap_or_else(|| kebab(&sig.ident)),
        features,
        allow_oob: options.allow_oob,
        doc: doc_comment(&func.attrs),
        params,
        unreadable,
        returns: returns(&sig.output),
    }
}

/// `cpu_index` (or `r#cpu_index`) is `cpu-index`.
fn kebab(ident: &Ident) -> String {
    ident.to_string().trim_start_matches("r#").replace('_', "-")
}

/// What one parameter is, or why it is none of the things a command takes.
fn parameter(input: &FnArg, attrs: ParamAttrs) -> syn::Result<Param> {
    let pt = match input {
        FnArg::Receiver(r) => {
            return Err(syn::Error::new_spanned(
                r,
                "QMP commands are plain functions: `self` is not allowed",
            ))
        }
        FnArg::Typed(pt) => pt,
    };
    if let Some(e) = attrs.error {
        return Err(e);
    }
    let ty = &*pt.ty;
    if attrs.args.is_some() {
        return args_struct(ty);
    }
    match ty {
        Type::Reference(r) => reference(r, &attrs),
        Type::ImplTrait(_)
        | Type::TraitObject(_)
        | Type::Infer(_)
        | Type::Never(_)
        | Type::BareFn(_)
        | Type::Ptr(_) => Err(syn::Error::new_spanned(ty, NEITHER)),
        Type::Path(p) => {
            if let Some(inner) = state_handle(p) {
                state(inner, &attrs)
            } else if is_completion(p) {
                Ok(completion(p))
            } else {
                argument(pt, &attrs)
            }
        }
        _ => argument(pt, &attrs),
    }
}

/// `#[args] args: T`: the struct of all arguments, taken by value.
fn args_struct(ty: &Type) -> syn::Result<Param> {
    if matches!(ty, Type::Reference(_)) {
        return Err(syn::Error::new_spanned(
            ty,
            "the #[args] parameter is taken by value",
        ));
    }
    Ok(Param::Args(ty.clone()))
}

/// `&T`: an extractor, by the last segment of `T`'s path.
fn reference(r: &TypeReference, attrs: &ParamAttrs) -> syn::Result<Param> {
    if r.mutability.is_some() {
        return Err(syn::Error::new_spanned(
            r,
            "handlers get shared references: use `&T` (with interior mutability) instead of `&mut T`",
        ));
    }
    if let Some(lit) = &attrs.rename {
        return Err(syn::Error::new(
            lit.span(),
            "#[arg] names QMP arguments; `&T` parameters are extractors",
        ));
    }
    let Type::Path(path) = &*r.elem else {
        return Err(syn::Error::new_spanned(&r.elem, NEITHER));
    };
    if path.path.is_ident("str") {
        return Err(syn::Error::new_spanned(
            r,
            "`&str` is not VMM state; take `String` for a QMP argument",
        ));
    }
    let last = path
        .path
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    Ok(Param::Extract(match last.as_str() {
        "SessionInfo" => Extractor::Session,
        "Emitter" => Extractor::Emitter,
        "Context" => Extractor::Context,
        _ => Extractor::State(r.elem.clone()),
    }))
}

/// `T` of a `State<T>` parameter: a path ending in `State` with exactly
/// one type argument. Anything else named `State` (a user's own enum, say)
/// is a QMP argument like any other type.
fn state_handle(p: &TypePath) -> Option<&Type> {
    let last = p.path.segments.last()?;
    if last.ident != "State" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(a) = &last.arguments else {
        return None;
    };
    match (a.args.len(), a.args.first()) {
        (1, Some(syn::GenericArgument::Type(t))) => Some(t),
        _ => None,
    }
}

/// `State<T>`: the state extractor, which no `#[arg]` may name.
fn state(inner: &Type, attrs: &ParamAttrs) -> syn::Result<Param> {
    if let Some(lit) = &attrs.rename {
        return Err(syn::Error::new(
            lit.span(),
            "#[arg] names QMP arguments; `State<T>` parameters are extractors",
        ));
    }
    Ok(Param::Extract(Extractor::StateHandle(Box::new(
        inner.clone(),
    ))))
}

/// Whether the path ends in `Completion`.
fn is_completion(p: &TypePath) -> bool {
    p.path
        .segments
        .last()
        .is_some_and(|l| l.ident == "Completion")
}

/// `Completion<T>`: the command answers later with a `T` (`()` when the
/// path gives no type).
fn completion(p: &TypePath) -> Param {
    let last = p.path.segments.last().map(|l| &l.arguments);
    let result = match last {
        Some(syn::PathArguments::AngleBracketed(a)) => match a.args.first() {
            Some(syn::GenericArgument::Type(t)) => t.clone(),
            _ => syn::parse_quote!(()),
        },
        _ => syn::parse_quote!(()),
    };
    Param::Extract(Extractor::Completion(Box::new(result)))
}

/// A QMP argument, named by `#[arg]` or by the parameter's identifier.
fn argument(pt: &PatType, attrs: &ParamAttrs) -> syn::Result<Param> {
    let member = match (&attrs.rename, &*pt.pat) {
        (Some(lit), _) => lit.value(),
        (None, Pat::Ident(p)) => kebab(&p.ident),
        (None, other) => {
            return Err(syn::Error::new_spanned(
                other,
                "name this argument: use a plain identifier or #[arg(name = \"...\")]",
            ))
        }
    };
    Ok(Param::Arg {
        member,
        ty: (*pt.ty).clone(),
    })
}

/// The `Ok` type of a `Result<T, E>` return, or the bare type.
fn returns(output: &ReturnType) -> Returns {
    let ReturnType::Type(_, ty) = output else {
        return Returns::Unit;
    };
    if let Type::Path(p) = &**ty {
        if let Some(last) = p.path.segments.last() {
            if last.ident == "Result" {
                if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                    if let Some(syn::GenericArgument::Type(ok)) = args.args.first() {
                        return Returns::Result(ok.clone());
                    }
                }
            }
        }
    }
    Returns::Bare((**ty).clone())
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;
    use crate::command::attr::take_param_attrs;

    /// Reads `item` with default options and hands the model to `check`.
    fn read(item: &str, check: impl FnOnce(&Command<'_>)) {
        let mut func: ItemFn = syn::parse_str(item).unwrap();
        let attrs = take_param_attrs(&mut func);
        check(&command(&func, attrs, &Options::default()));
    }

    fn kind(p: &Param) -> String {
        match p {
            Param::Extract(Extractor::Session) => "session".into(),
            Param::Extract(Extractor::Emitter) => "emitter".into(),
            Param::Extract(Extractor::Context) => "context".into(),
            Param::Extract(Extractor::State(t)) => format!("state {}", quote!(#t)),
            Param::Extract(Extractor::StateHandle(t)) => format!("handle {}", quote!(#t)),
            Param::Extract(Extractor::Completion(t)) => format!("completion {}", quote!(#t)),
            Param::Arg { member, .. } => format!("arg {member}"),
            Param::Args(_) => "args".into(),
        }
    }

    #[test]
    fn parameters_are_extractors_or_arguments() {
        let item = "fn query_cpu(vm: &Vm, h: State<Vm>, s: State, d: Completion, \
                    c: &monitor::Context<'_>, r#type: u8, #[arg(name = \"x\")] y: u8) {}";
        read(item, |c| {
            let kinds: Vec<String> = c.params.iter().map(|p| kind(&p.param)).collect();
            assert_eq!(
                kinds,
                [
                    "state Vm",
                    "handle Vm",
                    "arg s",
                    "completion ()",
                    "context",
                    "arg type",
                    "arg x"
                ]
            );
            assert_eq!(c.name, "query-cpu");
            assert!(c.unreadable.is_empty());
        });
    }

    #[test]
    fn unreadable_parameters_keep_their_errors_in_order() {
        read("fn f(self, x: &mut u8, y: u8) {}", |c| {
            let kinds: Vec<String> = c.params.iter().map(|p| kind(&p.param)).collect();
            assert_eq!(kinds, ["arg y"]);
            let errors: Vec<String> = c.unreadable.iter().map(|e| e.to_string()).collect();
            assert!(errors[0].contains("`self` is not allowed"), "{errors:?}");
            assert!(errors[1].contains("instead of `&mut T`"), "{errors:?}");
        });
    }
}
