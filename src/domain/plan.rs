//! A workspace's plan and the seat limit it brings.

/// The plans on offer (`None` in a workspace: no plan chosen yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    Starter,
    Professional,
    Enterprise,
}

impl Plan {
    pub const ALL: [Plan; 3] = [Plan::Starter, Plan::Professional, Plan::Enterprise];

    /// As stored and as a form or the command line sends it.
    pub fn key(self) -> &'static str {
        match self {
            Plan::Starter => "starter",
            Plan::Professional => "professional",
            Plan::Enterprise => "enterprise",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            Plan::Starter => "Starter",
            Plan::Professional => "Professional",
            Plan::Enterprise => "Enterprise",
        }
    }

    /// `None`: unlimited.
    pub fn seat_limit(self) -> Option<i32> {
        match self {
            Plan::Starter => Some(5),
            Plan::Professional => Some(25),
            Plan::Enterprise => None,
        }
    }
}
