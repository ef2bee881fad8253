//! Who is calling: bearer API keys (scanning clients, automation). Permission checks happen in
//! the extractors below and nowhere else; a handler that takes `AdminUser` cannot be reached
//! by anyone without the right to see personal data.

use std::marker::PhantomData;

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};
use common::auth::{self, Permission, Role};
use uuid::Uuid;

use crate::{AppState, error::ApiError};

/// The authenticated caller.
#[derive(Debug, Clone, Copy)]
pub struct Principal {
    pub role: Role,
    pub api_key_id: Option<Uuid>,
}

/// A permission an extractor demands, as a type.
pub trait Requirement {
    const PERMISSION: Permission;
}

/// Demands `P` of the caller: 401 without valid credentials, 403 without the permission.
pub struct Authorized<P: Requirement> {
    pub principal: Principal,
    _permission: PhantomData<P>,
}

macro_rules! requirement {
    ($marker:ident, $permission:ident) => {
        #[doc = concat!("Marker for [`Permission::", stringify!($permission), "`].")]
        pub struct $marker;
        impl Requirement for $marker {
            const PERMISSION: Permission = Permission::$permission;
        }
    };
}
requirement!(ManageCatalogue, ManageCatalogue);
requirement!(ViewPersonalData, ViewPersonalData);
requirement!(CheckIn, CheckIn);
requirement!(WatchOperations, WatchOperations);

/// May manage rooms, shows and performances (`editor`, `admin`).
pub type CatalogueEditor = Authorized<ManageCatalogue>;
/// May see personal data and manage staff (`admin`).
pub type AdminUser = Authorized<ViewPersonalData>;
/// May check tickets in (`door`, `admin`).
pub type CheckinStaff = Authorized<CheckIn>;
/// May watch the job queue and metrics (`operator`, `admin`).
pub type Operator = Authorized<WatchOperations>;

impl<P: Requirement> FromRequestParts<AppState> for Authorized<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = authenticate(parts, state)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if !principal.role.can(P::PERMISSION) {
            return Err(ApiError::Forbidden);
        }
        Ok(Authorized {
            principal,
            _permission: PhantomData,
        })
    }
}

/// Resolves the credentials of a request, if any are valid.
pub async fn authenticate(parts: &Parts, state: &AppState) -> Result<Option<Principal>, ApiError> {
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(presented) = bearer else {
        return Ok(None);
    };
    let mut conn = state.db.acquire().await?;
    let key = auth::authenticate_api_key(&mut conn, presented).await?;
    Ok(key.map(|key| Principal {
        role: key.role,
        api_key_id: Some(key.id),
    }))
}
