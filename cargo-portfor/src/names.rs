//! The one rule for a port's name, wherever `cargo portfor` takes one (the
//! command line and `[package.metadata.portfor]`): the store's rules, and
//! no `/` or `@`, which split a store key `<package>/<name>@<checkout>`.

use crate::error::{CliError, CliResult};

/// Checks `name` against the rule.
pub(crate) fn validate(name: &str) -> CliResult<()> {
    portfor_test::validate_name(name)?;
    if name.contains(['/', '@']) {
        return Err(CliError::new(format!(
            "invalid name {name:?}: a name cannot contain '/' or '@', which separate the package, \
             the name and the checkout in store keys"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_key_separators_or_store_syntax_are_refused() {
        for bad in ["x/y", "x@y", "@", "/", "a=b", "", " lead", "#x"] {
            assert!(validate(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["db", "DB", "db.main", "a b", "Ünïcode"] {
            validate(good).unwrap();
        }
    }
}
