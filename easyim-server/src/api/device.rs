//! Push devices: register, remove, list (the caller's own).

use axum::extract::State;

use super::admin_view::DeviceView;
use super::params::Params;
use super::view::{Empty, Items};
use super::{ok, ApiResult, AppState};

/// POST `/api/user/device`: registers (or registers again) the caller's device.
pub(crate) async fn register(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let platform = p.str("platform")?;
    let token = p.str("token")?;
    let device = state.im.devices().register(me, &platform, &token).await?;
    ok(DeviceView::from(device))
}

/// POST `/api/user/device/remove`.
pub(crate) async fn remove(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    state.im.devices().remove(me, &p.str("token")?).await?;
    ok(Empty {})
}

/// GET `/api/user/devices`: the caller's devices, oldest first.
pub(crate) async fn list(State(state): State<AppState>, p: Params) -> ApiResult {
    let me = p.caller(&state).await?;
    let devices = state.im.devices().list(me).await?;
    ok(Items::<DeviceView>::of(devices))
}
