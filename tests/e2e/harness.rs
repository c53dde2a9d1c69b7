//! The checks themselves: a page check that saw no foreign request, or an axe run that found
//! nothing, proves something only if they do catch what they look for.

use std::time::Duration;

use crate::Env;
use crate::axe;
use crate::browser::Browser;

/// A request to another origin made by a page, and an image without a text alternative, are
/// both reported.
pub async fn page_checks_catch_a_foreign_request_and_an_axe_violation(env: &Env) {
    let b = Browser::open(env, "a probe browser").await;
    b.goto("/healthz").await;
    assert!(b.page_problems().await.is_empty());

    b.js(
        "const img = document.createElement('img');
         img.src = 'http://elsewhere.example/pixel.png';
         document.body.appendChild(img);",
        vec![],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let problems = b.page_problems().await;
    assert!(
        problems.iter().any(|p| p.contains("elsewhere.example")),
        "the foreign image must be reported, got {problems:?}"
    );

    let violations = axe::violations(&b).await;
    assert!(
        violations.iter().any(|v| v.contains("image-alt")),
        "axe must report the image without alt, got {violations:?}"
    );
    b.close().await;
}
