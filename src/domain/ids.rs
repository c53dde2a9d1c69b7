//! Typed ids, so one kind of id can never be passed where another is expected.

use serde::{Deserialize, Serialize};

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(minimum = 1)]
        pub struct $name(pub u64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

typed_id!(
    /// A user's id.
    UserId
);
typed_id!(
    /// A sign-in session's id (carried in tokens as `sid`).
    SessionId
);
typed_id!(
    /// An activity's id.
    ActivityId
);
typed_id!(
    /// A project's id.
    ProjectId
);
typed_id!(
    /// An update's (announcement's) id.
    UpdateId
);
typed_id!(
    /// A notification's id.
    NotificationId
);
typed_id!(
    /// A chat message's id.
    MessageId
);
typed_id!(
    /// An audit entry's id.
    AuditId
);
typed_id!(
    /// An asset's id (site, area, line, workstation or machine).
    AssetId
);
typed_id!(
    /// A shift's id.
    ShiftId
);
typed_id!(
    /// A downtime reason's id.
    ReasonId
);
typed_id!(
    /// A downtime event's id.
    DowntimeId
);
typed_id!(
    /// A production count's id.
    ProductionId
);
typed_id!(
    /// A machine key's id.
    KeyId
);
typed_id!(
    /// A shift handover's id.
    HandoverId
);
typed_id!(
    /// An andon call's id.
    AndonId
);
