//! DRF permission expressions (`A | B & ~(C | D)`): any text parses or fails at an offset
//! inside it; what parses prints back to an expression that parses to the same tree (or is
//! refused for nesting too deep).
#![no_main]

use drfgate::permissions::{parse_expression, ExprError, Permission, PermissionClass};
use libfuzzer_sys::fuzz_target;

fn resolve(name: &str, at: usize) -> Result<Permission, ExprError> {
    PermissionClass::ALL
        .into_iter()
        .find(|class| class.short_name() == name || class.dotted_name() == name)
        .map(Permission::Class)
        .ok_or_else(|| ExprError {
            offset: at,
            message: format!("unknown class {name:?}"),
        })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_expression(text, &mut resolve) {
        Ok(permission) => {
            // The printed form parenthesises every operator, so it may nest deeper than the
            // parser admits (MAX_EXPRESSION_NESTING) where the input did not; that is a refusal,
            // never a different tree.
            let printed = permission.to_string();
            match parse_expression(&printed, &mut resolve) {
                Ok(reparsed) => assert_eq!(reparsed, permission),
                Err(error) => assert!(error.message.contains("nest"), "{error}: {printed}"),
            }
        }
        Err(error) => assert!(error.offset <= text.len(), "{error}"),
    }
});
