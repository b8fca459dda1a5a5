//! The route table: every route of the HTTP API, written once. [`routes!`] turns each table
//! into the function that adds its routes to the router and into the list the OpenAPI
//! document is built from ([`ROUTES`], [`ADMIN_ROUTES`]), so the document cannot miss a route
//! the router serves.

use axum::routing::{get, post};
use axum::Router;

use super::{
    admin, block, conversation, device, friend, group, group_admin, history, openapi, ops,
    presence, user, AppState,
};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// Anybody.
    None,
    /// A user's access token (`Authorization: Bearer`, `Token`, `Auth-Token` or
    /// `access_token`).
    User,
    /// `ADMIN_TOKEN` as `Authorization: Bearer` (the server API).
    Admin,
    /// Loopback with the local stop key.
    StopKey,
}

/// One route as the OpenAPI document describes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    /// `get` or `post`.
    pub(crate) method: &'static str,
    pub(crate) path: &'static str,
    /// The group it is listed under.
    pub(crate) tag: &'static str,
    pub(crate) auth: Auth,
    pub(crate) summary: &'static str,
    /// Its arguments (query string, JSON or form body): `name`, `name!` when required,
    /// `name[]` for a list of ids.
    pub(crate) args: &'static [&'static str],
}

/// `routes!(LIST, add_fn; method "path" => handler, "tag", Auth, "summary", [args];...)`.
macro_rules! routes {
    ($list:ident, $add:ident;
     $( $method:ident $path:literal => $handler:path, $tag:literal, $auth:ident, $summary:literal,
        [$($arg:literal),*] );* $(;)?) => {
        /// The routes of this table, in the order the router gets them.
        pub(crate) const $list: &[Route] = &[
            $( Route {
                method: stringify!($method),
                path: $path,
                tag: $tag,
                auth: Auth::$auth,
                summary: $summary,
                args: &[$($arg),*],
            } ),*
        ];

        /// Adds the routes of this table to `router`.
        pub(crate) fn $add(router: Router<AppState>) -> Router<AppState> {
            router $( .route($path, $method($handler)) )*
        }
    };
}

routes! { ROUTES, add_routes;
    get "/" => ops::index, "ops", None, "The web console", [];
    get "/console.js" => ops::console_js, "ops", None, "The web console's script", [];
    get "/console.css" => ops::console_css, "ops", None, "The web console's style sheet", [];
    get "/healthz" => ops::healthz, "ops", None, "Health: 200, or 503 while storage does not answer", [];
    get "/metrics" => ops::metrics, "ops", None, "Counters in the Prometheus text format", [];
    post "/api/local/stop" => ops::stop, "ops", StopKey, "Graceful stop (loopback, header X-Easyim-Stop-Key)", [];
    get "/api/openapi.json" => openapi::document, "docs", None, "This OpenAPI 3.1 document", [];
    get "/api/docs" => openapi::page, "docs", None, "A page that renders this document", [];
    post "/api/user/register" => user::register, "user", None, "Create an account and sign in", ["account!", "password!", "nickname"];
    post "/api/user/login" => user::login, "user", None, "Sign in with a password", ["account!", "password!"];
    post "/api/user/logout" => user::logout, "user", User, "Revoke every token of the caller and close its connections", [];
    get "/api/user/check_token" => user::check_token, "user", None, "The kind and remaining life of a token", ["token"];
    post "/api/user/refresh_token" => user::refresh_token, "user", None, "Spend a refresh token for a new token", ["refresh_token!", "grant_type!", "reset_secret"];
    get "/api/user/search" => user::search, "user", User, "Accounts whose name contains `account`", ["account!", "limit"];
    post "/api/user/device" => device::register, "devices", User, "Register (or register again) a push device of the caller", ["platform!", "token!"];
    post "/api/user/device/remove" => device::remove, "devices", User, "Remove a push device of the caller", ["token!"];
    get "/api/user/devices" => device::list, "devices", User, "The caller's push devices", [];
    get "/api/user/friends" => friend::friends, "friends", User, "The caller's friends, a page at a time", ["limit", "cursor"];
    post "/api/user/friend/add" => friend::add, "friends", User, "Send a friend request", ["to_user_id!", "msg"];
    post "/api/user/friend/accept" => friend::accept, "friends", User, "Accept a friend request", ["id!"];
    post "/api/user/friend/refuse" => friend::refuse, "friends", User, "Refuse a friend request", ["id!"];
    post "/api/user/friend/remove" => friend::remove, "friends", User, "End a friendship", ["friend_id!"];
    get "/api/user/friend/requests" => friend::requests, "friends", User, "Friend requests to the caller, newest first", ["limit", "cursor"];
    post "/api/user/friend/remark" => friend::remark, "friends", User, "Set the caller's remark on a friend", ["friend_id!", "remark"];
    post "/api/user/block" => block::block, "friends", User, "Block a user", ["user_id!"];
    post "/api/user/unblock" => block::unblock, "friends", User, "Unblock a user", ["user_id!"];
    get "/api/user/blocks" => block::blocks, "friends", User, "The users the caller blocked", ["limit", "cursor"];
    post "/api/group/create" => group::create, "groups", User, "Create a group", ["name!", "member_ids[]", "avatar", "notice", "join_policy", "invite_policy", "history_visible"];
    post "/api/group/invite" => group::invite, "groups", User, "Invite users into a group", ["group_id!", "user_ids[]"];
    post "/api/group/join" => group::join, "groups", User, "Join a group (or ask to)", ["group_id!"];
    post "/api/group/leave" => group::leave, "groups", User, "Leave a group", ["group_id!"];
    get "/api/groups" => group::groups, "groups", User, "The caller's groups", ["limit", "cursor"];
    get "/api/group/members" => group_admin::members, "groups", User, "A group's members with their roles", ["group_id!", "limit", "cursor"];
    get "/api/group/info" => group_admin::info, "groups", User, "A group's settings", ["group_id!"];
    post "/api/group/update" => group_admin::update, "groups", User, "Change a group's settings (owner, admins)", ["group_id!", "name", "avatar", "notice", "join_policy", "invite_policy", "history_visible"];
    post "/api/group/kick" => group_admin::kick, "groups", User, "Remove members (owner, admins)", ["group_id!", "user_ids[]"];
    post "/api/group/mute" => group_admin::mute, "groups", User, "Mute a member for `seconds` (0 lifts it)", ["group_id!", "user_id!", "seconds!"];
    post "/api/group/mute_all" => group_admin::mute_all, "groups", User, "Mute or unmute every member but the owner and admins", ["group_id!", "muted!"];
    post "/api/group/set_role" => group_admin::set_role, "groups", User, "Make a member an admin or a member (owner)", ["group_id!", "user_id!", "role!"];
    post "/api/group/transfer" => group_admin::transfer, "groups", User, "Hand the group to another member (owner)", ["group_id!", "user_id!"];
    post "/api/group/dismiss" => group_admin::dismiss, "groups", User, "Dismiss the group (owner)", ["group_id!"];
    get "/api/group/requests" => group_admin::requests, "groups", User, "Open requests to join a group (owner, admins)", ["group_id!", "limit", "cursor"];
    post "/api/group/approve" => group_admin::approve, "groups", User, "Approve a join request", ["id!"];
    post "/api/group/refuse" => group_admin::refuse, "groups", User, "Refuse a join request", ["id!"];
    get "/api/messages" => history::messages, "messages", User, "A page of a conversation's history", ["chat_type!", "peer_id!", "before_seq", "after_seq", "limit"];
    post "/api/messages/delete" => history::delete, "messages", User, "Remove messages from the caller's own view (delete for me)", ["chat_type!", "peer_id!", "ids[]"];
    get "/api/presence" => presence::presence, "presence", User, "Whether the caller's friends and co-members are online", ["user_ids[]"];
    get "/api/conversations" => conversation::list, "conversations", User, "The caller's conversation list with unread counts", ["limit", "cursor"];
    post "/api/conversation/read" => conversation::read, "conversations", User, "Move the caller's read position in a conversation", ["chat_type!", "peer_id!", "conv_seq"];
    post "/api/conversation/settings" => conversation::settings, "conversations", User, "Pin or mute a conversation", ["chat_type!", "peer_id!", "pinned", "muted"];
    post "/api/conversation/hide" => conversation::hide, "conversations", User, "Hide a conversation until its next message", ["chat_type!", "peer_id!"];
}

routes! { ADMIN_ROUTES, add_admin_routes;
    post "/api/admin/message/send" => admin::send, "server API", Admin, "Send a message as a user or as the system (`from_user_id` `system`, user id 0), to one user, several or a group; idempotent by `id`", ["id!", "from_user_id!", "to_user_id", "to_user_ids[]", "to_group_id", "msg_type", "content!"];
    post "/api/admin/users/create" => admin::create_users, "server API", Admin, "Create accounts without passwords (`users`: up to 100 objects {account, nickname}); idempotent by account name", ["users!"];
    post "/api/admin/user/token" => admin::token, "server API", Admin, "Issue a pair of tokens for a user (they log in on the IM port)", ["user_id!"];
    post "/api/admin/user/disable" => admin::disable, "server API", Admin, "Disable a user: tokens revoked, connections closed with E_AUTH_REVOKED, no login", ["user_id!"];
    post "/api/admin/user/enable" => admin::enable, "server API", Admin, "Enable a disabled user", ["user_id!"];
    post "/api/admin/user/kick" => admin::kick, "server API", Admin, "Close a user's connections and revoke its tokens", ["user_id!"];
    get "/api/admin/user/state" => admin::user_state, "server API", Admin, "A user's state: disabled, online, connections, groups, devices", ["user_id!"];
    get "/api/admin/group/state" => admin::group_state, "server API", Admin, "A group's state: members, online members", ["group_id!"];
    get "/api/admin/server/state" => admin::server_state, "server API", Admin, "This node's state: online users, connections", [];
}
