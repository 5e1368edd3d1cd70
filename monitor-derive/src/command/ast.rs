//! The model of a `#[qmp_command]` function: what [`parse`](super::parse)
//! reads, [`valid`](super::valid) checks and [`expand`](mod@super::expand)
//! writes from. Plain data; nothing here reports errors or makes tokens.

use proc_macro2::Span;
use syn::{LitStr, Signature, Type};

/// The options of `#[qmp_command(...)]`.
#[derive(Default)]
pub(crate) struct Options {
    /// `name = "..."`: the QMP name.
    pub(crate) name: Option<LitStr>,
    /// `allow_oob`: the command may run with `exec-oob`.
    pub(crate) allow_oob: bool,
    /// `deprecated`: the `deprecated` feature flag.
    pub(crate) deprecated: bool,
    /// `features = [...]`: further feature flags.
    pub(crate) features: Vec<LitStr>,
}

/// What a parameter carried: `#[args]`, `#[arg(name = ...)]`.
#[derive(Default)]
pub(crate) struct ParamAttrs {
    /// Where `#[args]` was, when it was there.
    pub(crate) args: Option<Span>,
    /// `#[arg(name = "...")]`: the QMP argument's name.
    pub(crate) rename: Option<LitStr>,
    /// A malformed `#[arg]`, reported as the parameter's error.
    pub(crate) error: Option<syn::Error>,
}

/// A parameter that the monitor fills in, not the client.
pub(crate) enum Extractor {
    /// `&SessionInfo`: the calling session.
    Session,
    /// `&Emitter`: the event emitter.
    Emitter,
    /// `&Context<'_>`: everything about the call.
    Context,
    /// `&T`: registered VMM state, borrowed.
    State(Box<Type>),
    /// `State<T>`: registered VMM state as an owned `Arc`.
    StateHandle(Box<Type>),
    /// `Completion<T>`: the answer is deferred; `T` is the result type.
    Completion(Box<Type>),
}

/// What one parameter of the function is.
pub(crate) enum Param {
    /// Filled in by the monitor.
    Extract(Extractor),
    /// The QMP argument `member`, of type `ty`.
    Arg {
        /// The argument's name on the wire.
        member: String,
        /// The parameter's type.
        ty: Type,
    },
    /// `#[args]`: one struct holding every argument.
    Args(Type),
}

/// A parameter read, with the span its errors point at (the whole
/// `pattern: Type`).
pub(crate) struct Parameter {
    /// Where the parameter is.
    pub(crate) span: Span,
    /// What it is.
    pub(crate) param: Param,
}

/// The `Ok` type of a `Result<T, E>` return, or the bare type.
pub(crate) enum Returns {
    /// No return type: `{}` on the wire.
    Unit,
    /// `Result<T, E>`: `T` is the result.
    Result(Type),
    /// Any other type, the result itself.
    Bare(Type),
}

/// A `#[qmp_command]` function, read.
pub(crate) struct Command<'a> {
    /// The function's signature.
    pub(crate) sig: &'a Signature,
    /// The QMP name: the `name` option, or the function's name in
    /// kebab-case.
    pub(crate) name: String,
    /// Feature flags: `deprecated` first, then `features`.
    pub(crate) features: Vec<String>,
    /// Whether the command may run with `exec-oob`.
    pub(crate) allow_oob: bool,
    /// The doc comment: the command's documentation.
    pub(crate) doc: String,
    /// The parameters that could be read, in order.
    pub(crate) params: Vec<Parameter>,
    /// Why each of the others could not be, in order; validation reports
    /// them with its own findings, so that every mistake shows at once.
    pub(crate) unreadable: Vec<syn::Error>,
    /// The return type.
    pub(crate) returns: Returns,
}

impl Command<'_> {
    /// Whether the function is an `async fn`.
    pub(crate) fn is_async(&self) -> bool {
        self.sig.asyncness.is_some()
    }
}
