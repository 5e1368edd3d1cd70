//! serde attributes the schema must honour, and serde's rename rules.

use syn::{Attribute, LitStr};

/// serde's `rename_all` rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

impl RenameRule {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "lowercase" => RenameRule::Lower,
            "UPPERCASE" => RenameRule::Upper,
            "PascalCase" => RenameRule::Pascal,
            "camelCase" => RenameRule::Camel,
            "snake_case" => RenameRule::Snake,
            "SCREAMING_SNAKE_CASE" => RenameRule::ScreamingSnake,
            "kebab-case" => RenameRule::Kebab,
            "SCREAMING-KEBAB-CASE" => RenameRule::ScreamingKebab,
            _ => return None,
        })
    }

    /// For struct fields (written in snake_case).
    pub(crate) fn field(self, name: &str) -> String {
        match self {
            RenameRule::Lower | RenameRule::Snake => name.to_owned(),
            RenameRule::Upper | RenameRule::ScreamingSnake => name.to_ascii_uppercase(),
            RenameRule::Pascal => pascal(name),
            RenameRule::Camel => {
                let p = pascal(name);
                let mut c = p.chars();
                match c.next() {
                    Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
                    None => p,
                }
            }
            RenameRule::Kebab => name.replace('_', "-"),
            RenameRule::ScreamingKebab => name.to_ascii_uppercase().replace('_', "-"),
        }
    }

    /// For enum variants (written in PascalCase).
    pub(crate) fn variant(self, name: &str) -> String {
        match self {
            RenameRule::Pascal => name.to_owned(),
            RenameRule::Lower => name.to_ascii_lowercase(),
            RenameRule::Upper => name.to_ascii_uppercase(),
            RenameRule::Camel => {
                let mut c = name.chars();
                match c.next() {
                    Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            }
            RenameRule::Snake => snake(name),
            RenameRule::ScreamingSnake => snake(name).to_ascii_uppercase(),
            RenameRule::Kebab => snake(name).replace('_', "-"),
            RenameRule::ScreamingKebab => snake(name).to_ascii_uppercase().replace('_', "-"),
        }
    }
}

fn pascal(name: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// PascalCase to snake_case, as serde does it.
pub(crate) fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.char_indices() {
        if c.is_uppercase() && i != 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The serde attributes of a container, field or variant that matter here.
#[derive(Debug, Default)]
pub(crate) struct SerdeAttrs {
    pub(crate) rename: Option<String>,
    pub(crate) rename_all: Option<RenameRule>,
    pub(crate) tag: Option<String>,
    pub(crate) content: bool,
    pub(crate) untagged: bool,
    pub(crate) transparent: bool,
    pub(crate) skip: bool,
    pub(crate) default: bool,
    pub(crate) skip_serializing_if: bool,
    pub(crate) flatten: bool,
}

impl SerdeAttrs {
    /// Reads every `#[serde(...)]`; unknown keys are skipped.
    pub(crate) fn parse(attrs: &[Attribute]) -> syn::Result<Self> {
        let mut out = SerdeAttrs::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
            attr.parse_nested_meta(|meta| {
                let key = meta
                    .path
                    .get_ident()
                    .map(|i| i.to_string())
                    .unwrap_or_default();
                match key.as_str() {
                    "rename" => {
                        if meta.input.peek(syn::Token![=]) {
                            out.rename = Some(meta.value()?.parse::<LitStr>()?.value());
                        } else {
                            // rename(serialize = "..", deserialize = "..")
                            meta.parse_nested_meta(|inner| {
                                let v = inner.value()?.parse::<LitStr>()?.value();
                                if inner.path.is_ident("deserialize") || out.rename.is_none() {
                                    out.rename = Some(v);
                                }
                                Ok(())
                            })?;
                        }
                    }
                    "rename_all" => {
                        if meta.input.peek(syn::Token![=]) {
                            let lit = meta.value()?.parse::<LitStr>()?;
                            out.rename_all =
                                Some(RenameRule::parse(&lit.value()).ok_or_else(|| {
                                    syn::Error::new(lit.span(), "unknown rename_all rule")
                                })?);
                        } else {
                            meta.parse_nested_meta(|inner| {
                                let lit = inner.value()?.parse::<LitStr>()?;
                                let rule = RenameRule::parse(&lit.value()).ok_or_else(|| {
                                    syn::Error::new(lit.span(), "unknown rename_all rule")
                                })?;
                                if inner.path.is_ident("deserialize") || out.rename_all.is_none() {
                                    out.rename_all = Some(rule);
                                }
                                Ok(())
                            })?;
                        }
                    }
                    "tag" => out.tag = Some(meta.value()?.parse::<LitStr>()?.value()),
                    "content" => {
                        meta.value()?.parse::<LitStr>()?;
                        out.content = true;
                    }
                    "untagged" => out.untagged = true,
                    "transparent" => out.transparent = true,
                    "skip" | "skip_deserializing" | "skip_serializing" => out.skip = true,
                    "flatten" => out.flatten = true,
                    "default" => {
                        out.default = true;
                        skip_value(&meta)?;
                    }
                    "skip_serializing_if" => {
                        out.skip_serializing_if = true;
                        skip_value(&meta)?;
                    }
                    _ => skip_value(&meta)?,
                }
                Ok(())
            })?;
        }
        Ok(out)
    }
}

/// Consumes `= value` or `(...)` after a key we do not interpret.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<proc_macro2::TokenStream>()?;
    }
    Ok(())
}

/// The `#[doc = "..."]` lines of an item, joined.
pub(crate) fn doc_comment(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("doc")) {
        if let syn::Meta::NameValue(nv) = &attr.meta {
            if let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
            {
                lines.push(s.value().trim().to_owned());
            }
        }
    }
    lines.join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_rules_match_serde() {
        assert_eq!(RenameRule::Kebab.field("cpu_index"), "cpu-index");
        assert_eq!(RenameRule::Camel.field("cpu_index"), "cpuIndex");
        assert_eq!(RenameRule::Kebab.variant("GuestPanicked"), "guest-panicked");
        assert_eq!(
            RenameRule::ScreamingSnake.variant("RtcChange"),
            "RTC_CHANGE"
        );
        assert_eq!(RenameRule::Lower.variant("Oob"), "oob");
    }
}
