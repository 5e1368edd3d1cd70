//! `#[qmp_command]`: parse the options and the signature, validate, expand.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, LitStr, Pat, ReturnType, Type};

use crate::attrs::doc_comment;
use crate::event::valid_name;

#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    allow_oob: bool,
    deprecated: bool,
    features: Vec<LitStr>,
}

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
    let params = take_param_attrs(&mut func);
    let result = parse_options(attr).and_then(|options| generate(&func, params, options));
    match result {
        Ok(generated) => quote! { #func #generated },
        Err(e) => {
            let e = e.to_compile_error();
            quote! { #e #func }
        }
    }
}

fn parse_options(attr: TokenStream) -> syn::Result<Options> {
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
            "name" => {
                let lit: LitStr = meta.value()?.parse()?;
                if !valid_name(&lit.value()) {
                    return Err(syn::Error::new(
                        lit.span(),
                        "command names are not empty and use letters, digits, `-`, `_` and `.`",
                    ));
                }
                o.name = Some(lit);
            }
            "allow_oob" => o.allow_oob = true,
            "deprecated" => o.deprecated = true,
            "features" => {
                let array: syn::ExprArray = meta.value()?.parse()?;
                for elem in array.elems {
                    match elem {
                        syn::Expr::Lit(syn::ExprLit {
                            lit: syn::Lit::Str(s),
                            ..
                        }) if valid_name(&s.value()) => o.features.push(s),
                        other => {
                            return Err(syn::Error::new(other.span(), "features are non-empty string literals"))
                        }
                    }
                }
            }
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

/// What a parameter carried: `#[args]`, `#[arg(name = ...)]`.
#[derive(Default)]
struct ParamAttrs {
    args: Option<Span>,
    rename: Option<LitStr>,
    error: Option<syn::Error>,
}

fn take_param_attrs(func: &mut ItemFn) -> Vec<ParamAttrs> {
    let mut out = Vec::new();
    for input in &mut func.sig.inputs {
        let mut p = ParamAttrs::default();
        if let FnArg::Typed(pt) = input {
            let mut keep = Vec::new();
            for attr in pt.attrs.drain(..) {
                if attr.path().is_ident("args") {
                    p.args = Some(attr.span());
                } else if attr.path().is_ident("arg") {
                    let r = attr.parse_nested_meta(|meta| {
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
                    });
                    if let Err(e) = r {
                        p.error = Some(e);
                    }
                } else {
                    keep.push(attr);
                }
            }
            pt.attrs = keep;
        }
        out.push(p);
    }
    out
}

enum Extractor {
    Session,
    Emitter,
    Context,
    /// `&T`: registered VMM state, borrowed.
    State(Box<Type>),
    /// `State<T>`: registered VMM state as an owned `Arc`.
    StateHandle(Box<Type>),
    /// `Completion<T>`: the answer is deferred; `T` is the result type.
    Completion(Box<Type>),
}

enum Param {
    Extract(Extractor),
    Arg { member: String, ty: Type },
    Args(Type),
}

fn classify(input: &FnArg, attrs: ParamAttrs) -> syn::Result<Param> {
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
        if matches!(ty, Type::Reference(_)) {
            return Err(syn::Error::new_spanned(
                ty,
                "the #[args] parameter is taken by value",
            ));
        }
        return Ok(Param::Args(ty.clone()));
    }
    match ty {
        Type::Reference(r) => {
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
        Type::ImplTrait(_)
        | Type::TraitObject(_)
        | Type::Infer(_)
        | Type::Never(_)
        | Type::BareFn(_)
        | Type::Ptr(_) => Err(syn::Error::new_spanned(ty, NEITHER)),
        Type::Path(p) if state_handle(p).is_some() => {
            if let Some(lit) = &attrs.rename {
                return Err(syn::Error::new(
                    lit.span(),
                    "#[arg] names QMP arguments; `State<T>` parameters are extractors",
                ));
            }
            let inner = state_handle(p).cloned().unwrap_or_else(|| ty.clone());
            Ok(Param::Extract(Extractor::StateHandle(Box::new(inner))))
        }
        Type::Path(p)
            if p.path
                .segments
                .last()
                .is_some_and(|l| l.ident == "Completion") =>
        {
            let last = p.path.segments.last().map(|l| &l.arguments);
            let result = match last {
                Some(syn::PathArguments::AngleBracketed(a)) => match a.args.first() {
                    Some(syn::GenericArgument::Type(t)) => t.clone(),
                    _ => syn::parse_quote!(()),
                },
                _ => syn::parse_quote!(()),
            };
            Ok(Param::Extract(Extractor::Completion(Box::new(result))))
        }
        _ => {
            let member = match (&attrs.rename, &*pt.pat) {
                (Some(lit), _) => lit.value(),
                (None, Pat::Ident(p)) => {
                    let raw = p.ident.to_string();
                    raw.trim_start_matches("r#").replace('_', "-")
                }
                (None, other) => {
                    return Err(syn::Error::new_spanned(
                        other,
                        "name this argument: use a plain identifier or #[arg(name = \"...\")]",
                    ))
                }
            };
            Ok(Param::Arg {
                member,
                ty: ty.clone(),
            })
        }
    }
}

/// `T` of a `State<T>` parameter: a path ending in `State` with exactly
/// one type argument. Anything else named `State` (a user's own enum, say)
/// is a QMP argument like any other type.
fn state_handle(p: &syn::TypePath) -> Option<&Type> {
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

const NEITHER: &str = "this parameter is neither an extractor (`&T` or `State<T>` for registered state, `&SessionInfo`, `&Emitter`, `&Context`, `Completion<T>`) nor a QMP argument (an owned `Deserialize` type)";

/// The `Ok` type of a `Result<T, E>` return, or the bare type.
enum Returns {
    Unit,
    Result(Type),
    Bare(Type),
}

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

fn generate(func: &ItemFn, attrs: Vec<ParamAttrs>, options: Options) -> syn::Result<TokenStream> {
    let sig = &func.sig;
    let mut errors: Option<syn::Error> = None;
    let mut push = |e: syn::Error| match &mut errors {
        Some(all) => all.combine(e),
        None => errors = Some(e),
    };
    if !sig.generics.params.is_empty() {
        push(syn::Error::new_spanned(
            &sig.generics,
            "QMP commands cannot be generic",
        ));
    } else if let Some(w) = &sig.generics.where_clause {
        push(syn::Error::new_spanned(w, "QMP commands cannot be generic"));
    }
    if let Some(u) = &sig.unsafety {
        push(syn::Error::new_spanned(
            u,
            "QMP commands cannot be `unsafe`",
        ));
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        if matches!(**ty, Type::ImplTrait(_)) {
            push(syn::Error::new_spanned(
                ty,
                "return a concrete type: its schema is part of the command",
            ));
        }
    }
    if let Some(v) = &sig.variadic {
        push(syn::Error::new(v.span(), "QMP commands cannot be variadic"));
    }
    let mut params = Vec::new();
    for (input, attrs) in sig.inputs.iter().zip(attrs) {
        match classify(input, attrs) {
            Ok(p) => params.push((input.span(), p)),
            Err(e) => push(e),
        }
    }
    let struct_args: Vec<Span> = params
        .iter()
        .filter(|(_, p)| matches!(p, Param::Args(_)))
        .map(|(s, _)| *s)
        .collect();
    if struct_args.len() > 1 {
        push(syn::Error::new(
            struct_args[1],
            "only one parameter can be #[args]",
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (span, p) in &params {
        if let Param::Arg { member, .. } = p {
            if let Some(first) = struct_args.first() {
                let _ = first;
                push(syn::Error::new(
                    *span,
                    "an #[args] struct holds all the arguments; it cannot be combined with argument parameters",
                ));
            }
            if seen.contains(&member.as_str()) {
                push(syn::Error::new(
                    *span,
                    format!("two parameters are both the QMP argument `{member}`"),
                ));
            }
            seen.push(member);
        }
    }
    if let Some(e) = errors {
        return Err(e);
    }

    let fn_ident = &sig.ident;
    let name = options.name.as_ref().map(LitStr::value).unwrap_or_else(|| {
        fn_ident
            .to_string()
            .trim_start_matches("r#")
            .replace('_', "-")
    });
    let mut features: Vec<String> = Vec::new();
    if options.deprecated {
        features.push("deprecated".to_owned());
    }
    features.extend(options.features.iter().map(LitStr::value));
    let allow_oob = options.allow_oob;
    let doc = doc_comment(&func.attrs);
    let origin = format!("::{fn_ident}");

    let mut bind = Vec::new();
    let mut call = Vec::new();
    let mut arg_members = Vec::new();
    let mut arg_type = quote! { __monitor_gen.empty_object() };
    let mut has_struct = false;
    let mut states = Vec::new();
    for (i, (_, p)) in params.iter().enumerate() {
        let var = format_ident!("__monitor_p{}", i);
        match p {
            Param::Arg { member, ty } => {
                bind.push(quote_spanned! {ty.span()=>
                    let #var: #ty = __monitor_members.member::<#ty>(#member)?;
                });
                arg_members.push(quote_spanned! {ty.span()=>
                    ::monitor_core::__private::Member {
                        name: ::std::string::String::from(#member),
                        type_name: __monitor_gen.describe::<#ty>(),
                        optional: <#ty as ::monitor_core::__private::Schema>::optional(),
                        features: ::std::vec::Vec::new(),
                    }
                });
                call.push(quote! { #var });
            }
            Param::Args(ty) => {
                has_struct = true;
                bind.push(quote_spanned! {ty.span()=>
                    let #var: #ty = ::monitor_core::__private::from_arguments::<#ty>(
                        __monitor_members.into_map(),
                    )?;
                });
                arg_type = quote_spanned! {ty.span()=> __monitor_gen.describe::<#ty>() };
                call.push(quote! { #var });
            }
            Param::Extract(_) => {}
        }
    }
    // Extractors after argument checks: validation happens before anything
    // else. An async command's future outlives the call, so what it borrows
    // is held by the future itself: state as an `Arc`, the session and the
    // emitter as clones.
    let is_async = sig.asyncness.is_some();
    let mut deferred_result: Option<Type> = None;
    let mut extract_errors: Option<syn::Error> = None;
    let mut calls = Vec::new();
    let mut arg_calls = call.into_iter();
    for (i, (span, p)) in params.iter().enumerate() {
        let var = format_ident!("__monitor_p{}", i);
        let Param::Extract(x) = p else {
            calls.push(arg_calls.next().unwrap_or_default());
            continue;
        };
        if is_async && matches!(x, Extractor::Context) {
            let e = syn::Error::new(
                *span,
                "an async command cannot take `&Context`: it lives only during the call; take `&T` or `State<T>` for VMM state, `&SessionInfo` or `&Emitter` instead",
            );
            match &mut extract_errors {
                Some(all) => all.combine(e),
                None => extract_errors = Some(e),
            }
            continue;
        }
        let (binding, passed) = match x {
            Extractor::Session if is_async => (
                quote! { let #var = ::std::clone::Clone::clone(__monitor_ctx.session()); },
                quote! { &#var },
            ),
            Extractor::Emitter if is_async => (
                quote! { let #var = ::std::clone::Clone::clone(__monitor_ctx.emitter()); },
                quote! { &#var },
            ),
            Extractor::Session => (
                quote! { let #var = __monitor_ctx.session(); },
                quote! { #var },
            ),
            Extractor::Emitter => (
                quote! { let #var = __monitor_ctx.emitter(); },
                quote! { #var },
            ),
            Extractor::Context => (quote! { let #var = __monitor_ctx; }, quote! { #var }),
            Extractor::State(ty) if is_async => {
                states.push(quote_spanned! {ty.span()=>
                    ::monitor_core::__private::StateRequirement::of::<#ty>()
                });
                (
                    quote_spanned! {ty.span()=>
                        let #var: ::monitor_core::__private::State<#ty> =
                            __monitor_ctx.state_handle::<#ty>()?;
                    },
                    quote! { &*#var },
                )
            }
            Extractor::State(ty) => {
                states.push(quote_spanned! {ty.span()=>
                    ::monitor_core::__private::StateRequirement::of::<#ty>()
                });
                (
                    quote_spanned! {ty.span()=>
                        let #var: &#ty = __monitor_ctx.state::<#ty>()?;
                    },
                    quote! { #var },
                )
            }
            Extractor::StateHandle(ty) => {
                states.push(quote_spanned! {ty.span()=>
                    ::monitor_core::__private::StateRequirement::of::<#ty>()
                });
                (
                    quote_spanned! {ty.span()=>
                        let #var: ::monitor_core::__private::State<#ty> =
                            __monitor_ctx.state_handle::<#ty>()?;
                    },
                    quote! { #var },
                )
            }
            Extractor::Completion(ty) => {
                deferred_result = Some((**ty).clone());
                (
                    quote_spanned! {ty.span()=>
                        let #var = __monitor_ctx.defer::<#ty>();
                    },
                    quote! { #var },
                )
            }
        };
        bind.push(binding);
        calls.push(passed);
    }
    let call = calls;
    if is_async && deferred_result.is_some() {
        let e = syn::Error::new_spanned(
            sig.asyncness,
            "an async command answers with its return value; it takes no Completion",
        );
        match &mut extract_errors {
            Some(all) => all.combine(e),
            None => extract_errors = Some(e),
        }
    }
    if let Some(e) = extract_errors {
        return Err(e);
    }
    if !arg_members.is_empty() {
        let key = format!("arguments of {name}");
        arg_type = quote! {
            __monitor_gen.object_keyed(
                ::monitor_core::__private::TypeKey::Named(::std::string::String::from(#key)),
                |__monitor_gen| ::monitor_core::__private::ObjectInfo::new(::std::vec![#(#arg_members),*]),
            )
        };
    }
    let check_rest = if has_struct {
        quote! {}
    } else {
        quote! { __monitor_members.finish()?; }
    };
    let ret_span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    };
    // Spanned at the return type, so a type that is not Serialize, Schema or
    // Into<CommandError> is reported there, once.
    let (finish, ret_ty) = match returns(&sig.output) {
        Returns::Unit => (
            quote! { let () = __monitor_ret; ::std::result::Result::Ok(::monitor_core::__private::Reply::empty()) },
            quote! { () },
        ),
        Returns::Result(ok) => (
            quote_spanned! {ret_span=>
                match __monitor_ret {
                    ::std::result::Result::Ok(__monitor_v) => ::monitor_core::__private::Reply::new(&__monitor_v),
                    ::std::result::Result::Err(__monitor_e) => ::std::result::Result::Err(
                        ::std::convert::Into::<::monitor_core::__private::CommandError>::into(__monitor_e),
                    ),
                }
            },
            quote! { #ok },
        ),
        Returns::Bare(ty) => (
            quote_spanned! {ret_span=> ::monitor_core::__private::Reply::new(&__monitor_ret) },
            quote! { #ty },
        ),
    };
    let ret_ty = match &deferred_result {
        Some(t) => quote! { #t },
        None => ret_ty,
    };
    let ret_hook = quote_spanned! {ret_span=> ::monitor_core::__private::schema_of::<#ret_ty> };
    let body = if is_async {
        quote! {
            __monitor_ctx.spawn(async move {
                let __monitor_ret = #fn_ident(#(#call),*).await;
                #finish
            });
            ::std::result::Result::Ok(::monitor_core::__private::Reply::empty())
        }
    } else {
        quote! {
            let __monitor_ret = #fn_ident(#(#call),*);
            #finish
        }
    };
    let features_lits = features.iter();
    Ok(quote! {
        const _: () = {
            #[allow(unused_mut, clippy::needless_question_mark)]
            fn __monitor_handler(
                __monitor_ctx: &::monitor_core::__private::Context<'_>,
                __monitor_args: ::monitor_core::__private::Map,
            ) -> ::monitor_core::__private::Outcome {
                let mut __monitor_members = ::monitor_core::__private::Arguments::new(__monitor_args);
                #(#bind)*
                #check_rest
                #body
            }

            fn __monitor_arg_type(__monitor_gen: &mut ::monitor_core::__private::SchemaGen) -> ::std::string::String {
                #arg_type
            }

            ::monitor_core::__private::inventory::submit! {
                ::monitor_core::__private::Registration {
                    name: #name,
                    handler: __monitor_handler,
                    allow_oob: #allow_oob,
                    origin: ::std::concat!(::std::module_path!(), #origin),
                    doc: #doc,
                    arg_type: ::std::option::Option::Some(__monitor_arg_type),
                    ret_type: ::std::option::Option::Some(#ret_hook),
                    features: &[#(#features_lits),*],
                    state: &[#(#states),*],
                }
            }
        };
    })
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
