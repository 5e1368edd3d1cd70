//! The built-in descriptor commands (QEMU 7.2's `misc.json`): `getfd`,
//! `closefd`, `add-fd`, `remove-fd`, `query-fdsets`, with QEMU's messages
//! (listed in `docs/PROTOCOL.md`, section 15).

use crate::args::Arguments;
use crate::command::Command;
use crate::dispatch::Context;
use crate::dispatch::Handler;
use crate::error::CommandError;
use crate::introspect::schema_of;
use crate::reply::{Outcome, Reply};
use crate::schema::{Member, ObjectInfo, SchemaGen};
use crate::value::Map;
use crate::Schema;

/// `getfd` and `closefd` arguments.
#[derive(Schema)]
struct FdName {
    fdname: String,
}

/// `add-fd` arguments.
#[derive(Schema)]
struct AddFdArgs {
    #[serde(rename = "fdset-id")]
    fdset_id: Option<i64>,
    opaque: Option<String>,
}

/// `remove-fd` arguments.
#[derive(Schema)]
struct RemoveFdArgs {
    #[serde(rename = "fdset-id")]
    fdset_id: i64,
    fd: Option<i64>,
}

// Arguments are taken member by member, in declaration order, as QEMU's
// visitor does: a missing `fdset-id` is reported before a badly typed
// `fd` (a serde struct would see the members present first).

impl FdName {
    fn take(arguments: Map) -> Result<Self, CommandError> {
        let mut args = Arguments::new(arguments);
        let fdname = args.member("fdname")?;
        args.finish()?;
        Ok(FdName { fdname })
    }
}

impl AddFdArgs {
    fn take(arguments: Map) -> Result<Self, CommandError> {
        let mut args = Arguments::new(arguments);
        let fdset_id = args.member("fdset-id")?;
        let opaque = args.member("opaque")?;
        args.finish()?;
        Ok(AddFdArgs { fdset_id, opaque })
    }
}

impl RemoveFdArgs {
    fn take(arguments: Map) -> Result<Self, CommandError> {
        let mut args = Arguments::new(arguments);
        let fdset_id = args.member("fdset-id")?;
        let fd = args.member("fd")?;
        args.finish()?;
        Ok(RemoveFdArgs { fdset_id, fd })
    }
}

// The results are described by hand: QEMU's schema lists their members
// in declaration order (`fdset-id` first), while the public types in
// `fds` serialise them in QEMU's wire order (its hash order), which a
// derived description would copy.

/// `add-fd`'s result, `fds::AddfdInfo`, described (a private type, so
/// that the public one adds nothing to the `Schema` implementors).
struct AddfdInfo;

impl Schema for AddfdInfo {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        schema_gen.object::<Self>(|schema_gen| {
            let int = schema_gen.describe::<i64>();
            ObjectInfo::new(vec![
                Member::new("fdset-id", int.clone()),
                Member::new("fd", int),
            ])
        })
    }
}

/// `fds::FdsetFdInfo`, described.
struct FdsetFdInfo;

impl Schema for FdsetFdInfo {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        schema_gen.object::<Self>(|schema_gen| {
            ObjectInfo::new(vec![
                Member::new("fd", schema_gen.describe::<i64>()),
                Member::optional("opaque", schema_gen.describe::<String>()),
            ])
        })
    }
}

/// `fds::FdsetInfo`, described.
struct FdsetInfo;

impl Schema for FdsetInfo {
    fn schema(schema_gen: &mut SchemaGen) -> String {
        schema_gen.object::<Self>(|schema_gen| {
            ObjectInfo::new(vec![
                Member::new("fdset-id", schema_gen.describe::<i64>()),
                Member::new("fds", schema_gen.describe::<Vec<FdsetFdInfo>>()),
            ])
        })
    }
}

fn getfd(ctx: &Context<'_>, arguments: Map) -> Outcome {
    let FdName { fdname: name } = FdName::take(arguments)?;
    let fd = ctx.session_fds().take_received_or_error()?;
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(CommandError::generic(
            "Parameter 'fdname' expects a name not starting with a digit",
        ));
    }
    ctx.session_fds().insert(&name, fd)?;
    Ok(Reply::empty())
}

fn closefd(ctx: &Context<'_>, arguments: Map) -> Outcome {
    let FdName { fdname: name } = FdName::take(arguments)?;
    match ctx.session_fds().remove(&name) {
        Some(_closed) => Ok(Reply::empty()),
        None => Err(CommandError::generic(format!(
            "File descriptor named '{name}' not found"
        ))),
    }
}

fn add_fd(ctx: &Context<'_>, arguments: Map) -> Outcome {
    let AddFdArgs { fdset_id, opaque } = AddFdArgs::take(arguments)?;
    let fd = ctx.session_fds().take_received_or_error()?;
    Reply::new(&ctx.fd_sets().add(fd, fdset_id, opaque)?)
}

fn remove_fd(ctx: &Context<'_>, arguments: Map) -> Outcome {
    let RemoveFdArgs { fdset_id, fd } = RemoveFdArgs::take(arguments)?;
    ctx.fd_sets().remove(fdset_id, fd)?;
    Ok(Reply::empty())
}

fn query_fdsets(ctx: &Context<'_>, arguments: Map) -> Outcome {
    crate::args::expect_none(&arguments)?;
    Reply::new(&ctx.fd_sets().query())
}

/// The descriptor commands, in QEMU's documentation order.
pub(crate) fn commands() -> Vec<Command> {
    let builtin = |name: &str, handler: fn(&Context<'_>, Map) -> Outcome, doc: &str| {
        Command::new(name, Handler::Fn(handler))
            .origin(format!("the built-in `{name}`"))
            .doc(doc)
    };
    vec![
        builtin(
            "getfd",
            getfd,
            "Receive a file descriptor via SCM_RIGHTS and assign it a name.",
        )
        .schema(schema_of::<FdName>, schema_of::<()>),
        builtin(
            "closefd",
            closefd,
            "Close a file descriptor previously passed via SCM_RIGHTS.",
        )
        .schema(schema_of::<FdName>, schema_of::<()>),
        builtin(
            "add-fd",
            add_fd,
            "Add a file descriptor, passed via SCM_RIGHTS, to an fd set.",
        )
        .schema(schema_of::<AddFdArgs>, schema_of::<AddfdInfo>),
        builtin(
            "remove-fd",
            remove_fd,
            "Remove a file descriptor from an fd set.",
        )
        .schema(schema_of::<RemoveFdArgs>, schema_of::<()>),
        builtin(
            "query-fdsets",
            query_fdsets,
            "Return information describing all fd sets.",
        )
        .schema(schema_of::<()>, schema_of::<Vec<FdsetInfo>>),
    ]
}
