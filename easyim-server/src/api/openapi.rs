//! The OpenAPI 3.1 document of the HTTP API, built with `utoipa` from the route table
//! (`routes`), served at `/api/openapi.json`, and a page that renders it at `/api/docs`, served
//! from the binary with no resource from another host.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ComponentsBuilder, ObjectBuilder, Ref, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Required, ResponseBuilder,
};

use super::routes::{Auth, Route, ADMIN_ROUTES, ROUTES};

/// The groups of routes, in the order the document lists them, and what each is.
const TAGS: &[(&str, &str)] = &[
    ("user", "Accounts and tokens"),
    (
        "devices",
        "Push devices of the caller (the backend sends the pushes)",
    ),
    ("friends", "Friends, friend requests, blocks"),
    ("groups", "Groups, members, roles, join requests"),
    ("messages", "History"),
    (
        "conversations",
        "Conversation lists, read positions, settings",
    ),
    (
        "server API",
        "For the team's backend: ADMIN_TOKEN as `Authorization: Bearer`, API port only, off when \
         ADMIN_TOKEN is empty (404). Wrong tokens are 401, then 429 per IP.",
    ),
    ("ops", "Health, metrics, the web console, the local stop"),
    ("docs", "This document"),
];

const DESCRIPTION: &str = "Every `/api/...` answer is the envelope `{code, msg, data}` with \
`code` equal to the HTTP status (or, under `API_ALWAYS_200`, status 200 and the real status in \
`code`); an error's `data` is `{}`. Arguments may come in the query string, as a JSON object \
or as a form; ids are decimal strings (numbers are accepted). A user's access token goes in \
`Authorization: Bearer`, `Token`, `Auth-Token` or `access_token`.";

/// The document, built once.
pub(crate) fn openapi() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(build)
}

/// GET `/api/openapi.json`.
pub(crate) async fn document() -> Response {
    let json = openapi()
        .to_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    ([(header::CONTENT_TYPE, "application/json")], json).into_response()
}

/// GET `/api/docs`: renders `/api/openapi.json` with the script inside the page; the policy
/// header lets it load nothing else (in particular nothing from another host).
pub(crate) async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 connect-src 'self'",
            ),
        ],
        include_str!("../../assets/docs.html"),
    )
        .into_response()
}

fn build() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for route in ROUTES.iter().chain(ADMIN_ROUTES) {
        let method = match route.method {
            "post" => HttpMethod::Post,
            _ => HttpMethod::Get,
        };
        paths = paths.path(route.path, PathItem::new(method, operation(route)));
    }
    let bearer = |what: &str| {
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some(what.to_owned());
        SecurityScheme::Http(http)
    };
    let components = ComponentsBuilder::new()
        .security_scheme("user_token", bearer("A user's access token"))
        .security_scheme("admin_token", bearer("ADMIN_TOKEN, for the server API"))
        .schema("Envelope", envelope("The answer's data"))
        .schema("Error", envelope("Always `{}`"))
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("easyim HTTP API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(DESCRIPTION))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .tags(Some(TAGS.iter().map(|(name, what)| {
            TagBuilder::new()
                .name(*name)
                .description(Some(*what))
                .build()
        })))
        .build()
}

fn envelope(data: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .property("code", ObjectBuilder::new().schema_type(Type::Integer))
        .property("msg", ObjectBuilder::new().schema_type(Type::String))
        .property(
            "data",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some(data)),
        )
        .required("code")
        .required("msg")
        .required("data")
}

fn operation(route: &Route) -> utoipa::openapi::path::Operation {
    let id = format!(
        "{}{}",
        route.method,
        route.path.replace(['/', '.'], "_").trim_end_matches('_')
    );
    let mut op = OperationBuilder::new()
        .tag(route.tag)
        .summary(Some(route.summary))
        .operation_id(Some(id));
    op = match route.auth {
        Auth::User => op.security(SecurityRequirement::new("user_token", Vec::<String>::new())),
        Auth::Admin => op.security(SecurityRequirement::new(
            "admin_token",
            Vec::<String>::new(),
        )),
        Auth::None | Auth::StopKey => op,
    };
    if route.method == "get" {
        for arg in route.args {
            let (name, required, schema) = arg_schema(arg);
            op = op.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Query)
                    .required(if required {
                        Required::True
                    } else {
                        Required::False
                    })
                    .schema(Some(schema)),
            );
        }
    } else if !route.args.is_empty() {
        let mut body = ObjectBuilder::new().schema_type(Type::Object);
        for arg in route.args {
            let (name, required, schema) = arg_schema(arg);
            body = body.property(name, schema);
            if required {
                body = body.required(name);
            }
        }
        op = op.request_body(Some(
            RequestBodyBuilder::new()
                .description(Some("Also accepted as a form or in the query string"))
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(body)).build(),
                )
                .build(),
        ));
    }
    let json = |name: &str| {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(name)))
            .build()
    };
    let api = route.path.starts_with("/api/") && route.tag != "docs";
    if api {
        op = op.response(
            "200",
            ResponseBuilder::new()
                .description("Done: the envelope with `data`")
                .content("application/json", json("Envelope")),
        );
        let mut errors = vec![("400", "A missing or malformed argument")];
        match route.auth {
            Auth::User | Auth::Admin => errors.push(("401", "A missing or wrong token")),
            Auth::StopKey => errors.push(("403", "Not loopback, or a wrong stop key")),
            Auth::None => {}
        }
        if route.auth == Auth::Admin {
            errors.push(("404", "The server API is off, or an unknown object"));
            errors.push(("429", "Too many wrong admin tokens from this IP"));
        } else {
            errors.push(("403", "Not allowed for the caller"));
            errors.push(("404", "An unknown object"));
        }
        errors.push(("500", "A failure of the server"));
        for (status, what) in errors {
            op = op.response(
                status,
                ResponseBuilder::new()
                    .description(what)
                    .content("application/json", json("Error")),
            );
        }
    } else {
        op = op.response("200", ResponseBuilder::new().description("The content"));
    }
    op.build()
}

/// The name, whether it is required, and the schema of one argument of the route table.
fn arg_schema(
    arg: &'static str,
) -> (
    &'static str,
    bool,
    utoipa::openapi::RefOr<utoipa::openapi::Schema>,
) {
    let (arg, required) = match arg.strip_suffix('!') {
        Some(a) => (a, true),
        None => (arg, false),
    };
    if let Some(name) = arg.strip_suffix("[]") {
        let ids = ArrayBuilder::new()
            .items(ObjectBuilder::new().schema_type(Type::String))
            .description(Some("Ids: a JSON array, or a comma-separated string"));
        return (name, required, ids.into());
    }
    let schema = match arg {
        "users" => ArrayBuilder::new()
            .items(
                ObjectBuilder::new()
                    .property("account", ObjectBuilder::new().schema_type(Type::String))
                    .property("nickname", ObjectBuilder::new().schema_type(Type::String))
                    .required("account"),
            )
            .into(),
        "limit" | "seconds" | "conv_seq" | "before_seq" | "after_seq" | "msg_type" => {
            ObjectBuilder::new().schema_type(Type::Integer).into()
        }
        "pinned" | "muted" | "reset_secret" => {
            ObjectBuilder::new().schema_type(Type::Boolean).into()
        }
        name if name == "id" || name.ends_with("_id") => ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A decimal id (a number is accepted too)"))
            .into(),
        _ => ObjectBuilder::new().schema_type(Type::String).into(),
    };
    (arg, required, schema)
}
