//! Django's `AUTHENTICATION_BACKENDS`, the ones DRF's classes reach through `authenticate()`.

/// The backends drfgate can stand in for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `ModelBackend`: username + password; refuses inactive users.
    Model,
    /// `AllowAllUsersModelBackend`: as Model, but returns inactive users too.
    AllowAllUsersModel,
    /// `RemoteUserBackend`: trusts `REMOTE_USER`; refuses inactive users.
    RemoteUser,
    /// `AllowAllUsersRemoteUserBackend`.
    AllowAllUsersRemoteUser,
}

impl Backend {
    pub const ALL: [Backend; 4] = [
        Backend::Model,
        Backend::AllowAllUsersModel,
        Backend::RemoteUser,
        Backend::AllowAllUsersRemoteUser,
    ];

    pub fn setting_name(self) -> &'static str {
        match self {
            Backend::Model => "django.contrib.auth.backends.ModelBackend",
            Backend::AllowAllUsersModel => "django.contrib.auth.backends.AllowAllUsersModelBackend",
            Backend::RemoteUser => "django.contrib.auth.backends.RemoteUserBackend",
            Backend::AllowAllUsersRemoteUser => {
                "django.contrib.auth.backends.AllowAllUsersRemoteUserBackend"
            }
        }
    }

    pub fn from_setting(name: &str) -> Option<Backend> {
        Backend::ALL
            .into_iter()
            .find(|b| b.setting_name() == name || b.setting_name().rsplit('.').next() == Some(name))
    }

    /// Whether `authenticate(username=…, password=…)` reaches this backend.
    pub fn takes_password(self) -> bool {
        matches!(self, Backend::Model | Backend::AllowAllUsersModel)
    }

    /// Whether `authenticate(remote_user=…)` reaches this backend.
    pub fn takes_remote_user(self) -> bool {
        matches!(self, Backend::RemoteUser | Backend::AllowAllUsersRemoteUser)
    }

    /// `user_can_authenticate`: the AllowAllUsers variants accept inactive users.
    pub fn accepts_inactive(self) -> bool {
        matches!(
            self,
            Backend::AllowAllUsersModel | Backend::AllowAllUsersRemoteUser
        )
    }
}

/// The configured list, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backends(pub Vec<Backend>);

impl Default for Backends {
    /// Django's default: `ModelBackend` alone.
    fn default() -> Self {
        Backends(vec![Backend::Model])
    }
}

impl Backends {
    pub fn password_backends(&self) -> impl Iterator<Item = Backend> + '_ {
        self.0.iter().copied().filter(|b| b.takes_password())
    }

    pub fn remote_user_backends(&self) -> impl Iterator<Item = Backend> + '_ {
        self.0.iter().copied().filter(|b| b.takes_remote_user())
    }
}
