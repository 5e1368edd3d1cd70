//! Checks a read `#[qmp_command]` before anything is generated.
//!
//! Two rounds, each reporting all its mistakes as one combined error: the
//! signature, the parameters that could not be read, and the parameters
//! together; then, once those are sound, what an `async fn` may take.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{ReturnType, Signature, Type};

use super::ast::{Command, Extractor, Param, Parameter};

/// Errors gathered so that every mistake of a round shows at once.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds `e` after those already there.
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    /// The combined error, if there was any.
    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Whether `c` can be expanded.
pub(crate) fn command(c: &Command<'_>) -> syn::Result<()> {
    let mut errors = Errors::default();
    signature(c.sig, &mut errors);
    for e in &c.unreadable {
        errors.push(e.clone());
    }
    parameters(&c.params, &mut errors);
    errors.finish()?;
    asynchronous(c)
}

/// What the signature itself may not be: generic, `unsafe`, variadic, or
/// returning `impl Trait`.
fn signature(sig: &Signature, errors: &mut Errors) {
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "QMP commands cannot be generic",
        ));
    } else if let Some(w) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(w, "QMP commands cannot be generic"));
    }
    if let Some(u) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(
            u,
            "QMP commands cannot be `unsafe`",
        ));
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        if matches!(**ty, Type::ImplTrait(_)) {
            errors.push(syn::Error::new_spanned(
                ty,
                "return a concrete type: its schema is part of the command",
            ));
        }
    }
    if let Some(v) = &sig.variadic {
        errors.push(syn::Error::new(v.span(), "QMP commands cannot be variadic"));
    }
}

/// At most one `#[args]` struct, never with argument parameters, and no
/// QMP argument twice.
fn parameters(params: &[Parameter], errors: &mut Errors) {
    let struct_args: Vec<Span> = params
        .iter()
        .filter(|p| matches!(p.param, Param::Args(_)))
        .map(|p| p.span)
        .collect();
    if struct_args.len() > 1 {
        errors.push(syn::Error::new(
            struct_args[1],
            "only one parameter can be #[args]",
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for p in params {
        let Param::Arg { member, .. } = &p.param else {
            continue;
        };
        if !struct_args.is_empty() {
            errors.push(syn::Error::new(
                p.span,
                "an #[args] struct holds all the arguments; it cannot be combined with argument parameters",
            ));
        }
        if seen.contains(&member.as_str()) {
            errors.push(syn::Error::new(
                p.span,
                format!("two parameters are both the QMP argument `{member}`"),
            ));
        }
        seen.push(member);
    }
}

/// An `async fn`'s future outlives the call: it cannot borrow `&Context`,
/// and answers with its return value, not through a `Completion`.
fn asynchronous(c: &Command<'_>) -> syn::Result<()> {
    let mut errors = Errors::default();
    if !c.is_async() {
        return errors.finish();
    }
    for p in &c.params {
        if matches!(p.param, Param::Extract(Extractor::Context)) {
            errors.push(syn::Error::new(
                p.span,
                "an async command cannot take `&Context`: it lives only during the call; take `&T` or `State<T>` for VMM state, `&SessionInfo` or `&Emitter` instead",
            ));
        }
    }
    let deferred = c
        .params
        .iter()
        .any(|p| matches!(p.param, Param::Extract(Extractor::Completion(_))));
    if deferred {
        errors.push(syn::Error::new_spanned(
            c.sig.asyncness,
            "an async command answers with its return value; it takes no Completion",
        ));
    }
    errors.finish()
}

#[cfg(test)]
mod tests {
    use syn::ItemFn;

    use super::*;
    use crate::command::ast::Options;
    use crate::command::{attr, parse};

    /// The messages validation gives for `item`, in order.
    fn errors(item: &str) -> Vec<String> {
        let mut func: ItemFn = syn::parse_str(item).unwrap();
        let attrs = attr::take_param_attrs(&mut func);
        let c = parse::command(&func, attrs, &Options::default());
        match command(&c) {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn starts(errors: &[String], prefixes: &[&str]) {
        assert_eq!(errors.len(), prefixes.len(), "{errors:?}");
        for (e, p) in errors.iter().zip(prefixes) {
            assert!(e.starts_with(p), "{errors:?}");
        }
    }

    #[test]
    fn every_mistake_of_the_first_round_in_order() {
        let e = errors("unsafe fn f<T>(self, #[args] a: A, #[args] b: B, x: u8, x: u8) {}");
        starts(
            &e,
            &[
                "QMP commands cannot be generic",
                "QMP commands cannot be `unsafe`",
                "QMP commands are plain functions",
                "only one parameter can be #[args]",
                "an #[args] struct holds all the arguments",
                "an #[args] struct holds all the arguments",
                "two parameters are both the QMP argument `x`",
            ],
        );
    }

    #[test]
    fn async_rules_only_once_the_rest_is_sound() {
        let e = errors("async fn f(c: &Context<'_>, d: Completion<u8>) {}");
        starts(
            &e,
            &[
                "an async command cannot take `&Context`",
                "an async command answers with its return value",
            ],
        );
        let e = errors("async fn f<T>(c: &Context<'_>) {}");
        starts(&e, &["QMP commands cannot be generic"]);
    }

    #[test]
    fn a_sound_command_passes() {
        assert!(errors("fn f(vm: &Vm, x: u8) -> Result<u8, E> { todo!() }").is_empty());
        assert!(errors("async fn f(vm: &Vm, s: &SessionInfo) -> u8 { 0 }").is_empty());
    }
}
