//! Writes the code of a checked `#[qmp_command]`: the handler that binds
//! arguments and extractors and calls the function, the hook describing
//! the arguments, and the `inventory` registration. Nothing here fails:
//! [`valid`](super::valid) has ruled out what could not be written.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ReturnType, Type};

use super::ast::{Command, Extractor, Param, Returns};

/// Everything the command adds next to the function, in one `const _`.
pub(crate) fn command(c: &Command<'_>) -> TokenStream {
    let handler = handler(c);
    let arg_type = arg_type(c);
    let registration = registration(c);
    quote! {
        const _: () = {
            #handler

            fn __monitor_arg_type(__monitor_gen: &mut ::monitor_core::__private::SchemaGen) -> ::std::string::String {
                #arg_type
            }

            ::monitor_core::__private::inventory::submit! {
                #registration
            }
        };
    }
}

/// How one parameter is bound in the handler, and what is passed for it.
struct Bound {
    /// The `let` that binds it.
    binding: TokenStream,
    /// The expression passed to the function.
    passed: TokenStream,
}

/// The handler: arguments are bound (and checked) first, extractors after,
/// then the function is called.
fn handler(c: &Command<'_>) -> TokenStream {
    let bound: Vec<Bound> = c
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| bind(i, &p.param, c.is_async()))
        .collect();
    let is_extractor = |p: &Param| matches!(p, Param::Extract(_));
    let pairs = || c.params.iter().zip(&bound);
    let bind: Vec<&TokenStream> = pairs()
        .filter(|(p, _)| !is_extractor(&p.param))
        .chain(pairs().filter(|(p, _)| is_extractor(&p.param)))
        .map(|(_, b)| &b.binding)
        .collect();
    let call: Vec<&TokenStream> = bound.iter().map(|b| &b.passed).collect();
    let has_struct = c.params.iter().any(|p| matches!(p.param, Param::Args(_)));
    let check_rest = if has_struct {
        quote! {}
    } else {
        quote! { __monitor_members.finish()?; }
    };
    let body = body(c, &call);
    quote! {
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
    }
}

/// Parameter `i`, bound to `__monitor_p{i}`.
fn bind(i: usize, param: &Param, is_async: bool) -> Bound {
    let var = format_ident!("__monitor_p{}", i);
    match param {
        Param::Arg { member, ty } => Bound {
            binding: quote_spanned! {ty.span()=>
                let #var: #ty = __monitor_members.member::<#ty>(#member)?;
            },
            passed: quote! { #var },
        },
        Param::Args(ty) => Bound {
            binding: quote_spanned! {ty.span()=>
                let #var: #ty = ::monitor_core::__private::from_arguments::<#ty>(
                    __monitor_members.into_map(),
                )?;
            },
            passed: quote! { #var },
        },
        Param::Extract(x) => extract(x, &var, is_async),
    }
}

/// An extractor. An async command's future outlives the call, so what it
/// borrows is held by the future itself: state as an `Arc`, the session
/// and the emitter as clones.
fn extract(x: &Extractor, var: &Ident, is_async: bool) -> Bound {
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
        Extractor::State(ty) if is_async => (
            quote_spanned! {ty.span()=>
                let #var: ::monitor_core::__private::State<#ty> =
                    __monitor_ctx.state_handle::<#ty>()?;
            },
            quote! { &*#var },
        ),
        Extractor::State(ty) => (
            quote_spanned! {ty.span()=>
                let #var: &#ty = __monitor_ctx.state::<#ty>()?;
            },
            quote! { #var },
        ),
        Extractor::StateHandle(ty) => (
            quote_spanned! {ty.span()=>
                let #var: ::monitor_core::__private::State<#ty> =
                    __monitor_ctx.state_handle::<#ty>()?;
            },
            quote! { #var },
        ),
        Extractor::Completion(ty) => (
            quote_spanned! {ty.span()=>
                let #var = __monitor_ctx.defer::<#ty>();
            },
            quote! { #var },
        ),
    };
    Bound { binding, passed }
}

/// The call, and the reply made of its result (at once, or from the
/// spawned future of an async command).
fn body(c: &Command<'_>, call: &[&TokenStream]) -> TokenStream {
    let fn_ident = &c.sig.ident;
    let finish = finish(c);
    if c.is_async() {
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
    }
}

/// Where errors about the result point: the return type, or the name.
fn ret_span(c: &Command<'_>) -> Span {
    match &c.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => c.sig.ident.span(),
    }
}

/// `__monitor_ret` made into the reply. Spanned at the return type, so
/// a type that is not `Serialize`, `Schema` or `Into<CommandError>` is
/// reported there, once.
fn finish(c: &Command<'_>) -> TokenStream {
    let ret_span = ret_span(c);
    match &c.returns {
        Returns::Unit => {
            quote! { let () = __monitor_ret; ::std::result::Result::Ok(::monitor_core::__private::Reply::empty()) }
        }
        Returns::Result(_) => quote_spanned! {ret_span=>
            match __monitor_ret {
                ::std::result::Result::Ok(__monitor_v) => ::monitor_core::__private::Reply::new(&__monitor_v),
                ::std::result::Result::Err(__monitor_e) => ::std::result::Result::Err(
                    ::std::convert::Into::<::monitor_core::__private::CommandError>::into(__monitor_e),
                ),
            }
        },
        Returns::Bare(_) => {
            quote_spanned! {ret_span=> ::monitor_core::__private::Reply::new(&__monitor_ret) }
        }
    }
}

/// The schema's result type: a `Completion`'s `T` (the last one), else
/// what the function returns.
fn result_type(c: &Command<'_>) -> TokenStream {
    let deferred = c.params.iter().rev().find_map(|p| match &p.param {
        Param::Extract(Extractor::Completion(ty)) => Some(&**ty),
        _ => None,
    });
    match (deferred, &c.returns) {
        (Some(t), _) => quote! { #t },
        (None, Returns::Unit) => quote! { () },
        (None, Returns::Result(ok)) => quote! { #ok },
        (None, Returns::Bare(ty)) => quote! { #ty },
    }
}

/// The body of `__monitor_arg_type`: the arguments as one object type,
/// the `#[args]` struct's type, or the empty object.
fn arg_type(c: &Command<'_>) -> TokenStream {
    let mut members = Vec::new();
    let mut args_struct: Option<&Type> = None;
    for p in &c.params {
        match &p.param {
            Param::Arg { member, ty } => members.push(quote_spanned! {ty.span()=>
                ::monitor_core::__private::Member {
                    name: ::std::string::String::from(#member),
                    type_name: __monitor_gen.describe::<#ty>(),
                    optional: <#ty as ::monitor_core::__private::Schema>::optional(),
                    features: ::std::vec::Vec::new(),
                }
            }),
            Param::Args(ty) => args_struct = Some(ty),
            Param::Extract(_) => {}
        }
    }
    if !members.is_empty() {
        let key = format!("arguments of {}", c.name);
        return quote! {
            __monitor_gen.object_keyed(
                ::monitor_core::__private::TypeKey::Named(::std::string::String::from(#key)),
                |__monitor_gen| ::monitor_core::__private::ObjectInfo::new(::std::vec![#(#members),*]),
            )
        };
    }
    match args_struct {
        Some(ty) => quote_spanned! {ty.span()=> __monitor_gen.describe::<#ty>() },
        None => quote! { __monitor_gen.empty_object() },
    }
}

/// The state type a parameter needs registered, as a requirement.
fn state_requirement(param: &Param) -> Option<TokenStream> {
    match param {
        Param::Extract(Extractor::State(ty) | Extractor::StateHandle(ty)) => {
            Some(quote_spanned! {ty.span()=>
                ::monitor_core::__private::StateRequirement::of::<#ty>()
            })
        }
        _ => None,
    }
}

/// The `Registration` submitted to `inventory`.
fn registration(c: &Command<'_>) -> TokenStream {
    let name = &c.name;
    let allow_oob = c.allow_oob;
    let origin = format!("::{}", c.sig.ident);
    let doc = &c.doc;
    let ret_ty = result_type(c);
    let ret_hook = quote_spanned! {ret_span(c)=> ::monitor_core::__private::schema_of::<#ret_ty> };
    let features = &c.features;
    let states = c.params.iter().filter_map(|p| state_requirement(&p.param));
    quote! {
        ::monitor_core::__private::Registration {
            name: #name,
            handler: __monitor_handler,
            allow_oob: #allow_oob,
            origin: ::std::concat!(::std::module_path!(), #origin),
            doc: #doc,
            arg_type: ::std::option::Option::Some(__monitor_arg_type),
            ret_type: ::std::option::Option::Some(#ret_hook),
            features: &[#(#features),*],
            state: &[#(#states),*],
        }
    }
}

#[cfg(test)]
mod tests {
    use syn::ItemFn;

    use super::*;
    use crate::command::ast::Options;
    use crate::command::{attr, parse};

    /// The code for `item`, which must be sound.
    fn code(item: &str) -> String {
        let mut func: ItemFn = syn::parse_str(item).unwrap();
        let attrs = attr::take_param_attrs(&mut func);
        command(&parse::command(&func, attrs, &Options::default())).to_string()
    }

    #[test]
    fn arguments_are_bound_before_extractors() {
        let out = code("fn f(vm: &Vm, x: u8) {}");
        let arg = out.find("member :: < u8 >").unwrap();
        let state = out.find("state :: < Vm >").unwrap();
        assert!(arg < state, "{out}");
        assert!(out.contains("f (__monitor_p0 , __monitor_p1)"), "{out}");
    }

    #[test]
    fn async_commands_hold_what_they_borrow() {
        let out = code("async fn f(s: &SessionInfo, vm: &Vm) {}");
        assert!(
            out.contains("Clone :: clone (__monitor_ctx . session ())"),
            "{out}"
        );
        assert!(out.contains("state_handle :: < Vm >"), "{out}");
        assert!(
            out.contains("f (& __monitor_p0 , & * __monitor_p1) . await"),
            "{out}"
        );
    }
}
