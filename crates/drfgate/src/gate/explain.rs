//! The explain text: how a route is named in a trace, and the hints `drfgate explain` adds when
//! a request is refused for a reason an operator can fix (a missing or misspelt `Authorization`
//! header, `IsAdminUser` on a superuser who is not staff, a missing model permission).

use super::{Gate, GateRoute, Policy};
use crate::decision::Identity;
use crate::permissions::Permission;
use crate::request::Request;
use crate::trace::Tracer;

impl Gate {
    pub(super) fn hint_missing_credentials(
        &self,
        policy: &Policy,
        request: &Request<'_>,
        trace: &mut Tracer<'_>,
    ) {
        match request.header("Authorization") {
            None => trace.hint(|| {
                "the request has no Authorization header at all. If a client did send one, the server \
                 in front is not passing it on: mod_wsgi needs `WSGIPassAuthorization On`, and a proxy \
                 must forward the header"
                    .into()
            }),
            Some(value) => {
                let first = crate::header::split_ascii_whitespace(&value).next().map(<[u8]>::to_vec);
                let keywords: Vec<String> = policy
                    .authenticators
                    .iter()
                    .filter_map(|a| a.authenticate_header())
                    .map(|h| h.split(' ').next().unwrap_or("").to_string())
                    .collect();
                if let Some(first) = first {
                    let sent = String::from_utf8_lossy(&first).into_owned();
                    trace.hint(|| {
                        format!(
                            "the Authorization header uses the keyword {sent:?}, which no configured class \
                             accepts (they expect: {}); e.g. DRF's TokenAuthentication wants `Token <key>`, \
                             not `Bearer <key>` — configure a subclass with keyword = \"Bearer\" if clients send Bearer",
                            if keywords.is_empty() { "none".to_string() } else { keywords.join(", ") }
                        )
                    });
                }
            }
        }
    }
}

pub(super) fn describe_route(route: &GateRoute) -> String {
    let mut out = format!("route {:?}", route.pattern.source());
    if let Some(name) = &route.name {
        out.push_str(&format!(" ({name})"));
    }
    if let Some(line) = route.line {
        out.push_str(&format!(" at line {line}"));
    }
    out
}

pub(super) fn hint_permission(
    permission: &Permission,
    identity: Option<&Identity>,
    trace: &mut Tracer<'_>,
) {
    use crate::permissions::PermissionClass;
    let Some(identity) = identity else { return };
    let classes = permission.classes();
    if classes.contains(&PermissionClass::IsAdminUser) && !identity.user.is_staff {
        trace.hint(|| {
            if identity.user.is_superuser {
                format!(
                    "IsAdminUser checks is_staff only: user {:?} is a superuser but not staff",
                    identity.user.username
                )
            } else {
                format!(
                    "IsAdminUser needs is_staff: user {:?} is not staff",
                    identity.user.username
                )
            }
        });
    }
    if classes.iter().any(|c| c.needs_model()) {
        trace.hint(|| {
            format!(
                "DjangoModelPermissions: user {:?} lacks the model permission for this method \
                 (directly or through a group)",
                identity.user.username
            )
        });
    }
}
