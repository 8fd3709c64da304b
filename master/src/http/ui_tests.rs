use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use super::{ASSETS, Asset, routes};

const SVG_NAMESPACE: &str = "http://www.w3.org/2000/svg";

fn path_of(asset: &Asset) -> String {
    if asset.name == "index.html" {
        "/".to_string()
    } else {
        format!("/ui/{}", asset.name)
    }
}

async fn get(path: &str, if_none_match: Option<&str>) -> axum::response::Response {
    let mut request = Request::get(path);
    if let Some(tag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, tag);
    }
    let request = request.body(Body::empty()).expect("a valid request");
    routes().oneshot(request).await.expect("the router answers")
}

fn header_text(response: &axum::response::Response, name: header::HeaderName) -> &str {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
}

fn expected_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "unknown extension",
    }
}

#[tokio::test]
async fn every_asset_is_served_with_its_content_type_and_revalidation_headers() {
    for asset in ASSETS {
        let response = get(&path_of(asset), None).await;
        assert_eq!(response.status(), StatusCode::OK, "{}", asset.name);
        assert_eq!(
            header_text(&response, header::CONTENT_TYPE),
            expected_type(asset.name),
            "{}",
            asset.name
        );
        assert_eq!(header_text(&response, header::CACHE_CONTROL), "no-cache");
        assert_eq!(
            header_text(&response, header::X_CONTENT_TYPE_OPTIONS),
            "nosniff"
        );
        let etag = header_text(&response, header::ETAG).to_string();
        assert!(etag.starts_with('"') && etag.len() == 18, "{etag}");
        let body = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body");
        assert_eq!(&body[..], asset.body, "{}", asset.name);

        let again = get(&path_of(asset), Some(&etag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{}", asset.name);
        let stale = get(&path_of(asset), Some("\"0000000000000000\"")).await;
        assert_eq!(stale.status(), StatusCode::OK, "{}", asset.name);
    }
}

#[tokio::test]
async fn the_page_may_only_talk_to_its_own_origin() {
    let response = get("/", None).await;
    let policy = header_text(&response, header::CONTENT_SECURITY_POLICY);
    assert!(policy.starts_with("default-src 'self'"), "{policy}");
    assert!(policy.contains("connect-src 'self'"), "{policy}");
}

#[tokio::test]
async fn unknown_ui_files_are_404() {
    for path in ["/ui/nope.js", "/ui/index.htm", "/ui/..%2Fsrc%2Flib.rs"] {
        assert_eq!(
            get(path, None).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[test]
fn every_file_in_the_ui_directory_is_embedded() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let entries = std::fs::read_dir(&dir).expect("master/ui exists");
    for entry in entries {
        let name = entry.expect("a directory entry").file_name();
        let name = name.to_string_lossy();
        assert!(
            super::find(&name).is_some(),
            "master/ui/{name} is not in ASSETS"
        );
    }
}

/// The values of `attribute="..."` in `text`.
fn attribute_values<'a>(text: &'a str, attribute: &str) -> Vec<&'a str> {
    let marker = format!("{attribute}=\"");
    text.match_indices(&marker)
        .filter_map(|(at, _)| {
            let rest = &text[at + marker.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn the_page_references_only_embedded_assets_and_hash_routes() {
    let html =
        std::str::from_utf8(super::find("index.html").expect("index").body).expect("UTF-8 HTML");
    let mut references = attribute_values(html, "src");
    references.extend(attribute_values(html, "href"));
    assert!(references.len() >= 5, "{references:?}");
    for reference in references {
        if reference.starts_with("#/") {
            continue;
        }
        let name = reference
            .strip_prefix("ui/")
            .unwrap_or_else(|| panic!("{reference} is not a relative ui/ path"));
        assert!(super::find(name).is_some(), "{reference} is not embedded");
    }
}

#[test]
fn scripts_import_only_embedded_modules() {
    let mut imports = 0;
    for asset in ASSETS.iter().filter(|asset| asset.name.ends_with(".js")) {
        let text = std::str::from_utf8(asset.body).expect("UTF-8 script");
        for (at, _) in text.match_indices(" from \"") {
            let rest = &text[at + " from \"".len()..];
            let target = rest.split('"').next().unwrap_or("");
            let name = target
                .strip_prefix("./")
                .unwrap_or_else(|| panic!("{} imports {target}", asset.name));
            assert!(
                super::find(name).is_some(),
                "{} imports {target}",
                asset.name
            );
            imports += 1;
        }
    }
    assert!(imports >= 5, "only {imports} imports found");
}

#[test]
fn no_asset_names_a_remote_url() {
    for asset in ASSETS {
        let text = String::from_utf8_lossy(asset.body).replace(SVG_NAMESPACE, "");
        for scheme in ["http://", "https://", "//cdn", "url(http"] {
            assert!(
                !text.contains(scheme),
                "{} contains {scheme}: the UI must work offline",
                asset.name
            );
        }
    }
}
