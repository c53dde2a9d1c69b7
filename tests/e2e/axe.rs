//! The axe-core accessibility engine (vendored under `vendor/axe-core/`, see its VERSION note),
//! injected into the page by the test; Nexus never serves it.

use serde_json::Value;

use crate::browser::Browser;

const AXE: &str = include_str!("vendor/axe-core/axe.min.js");

/// Runs axe on the document; returns its serious and critical violations, one readable
/// block each (rule, help, the failing nodes).
const RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ['violations'] })
  .then((r) => done(JSON.stringify(r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
                   nodes: v.nodes.slice(0, 8).map((n) => ({ target: n.target.join(' '),
                     html: n.html.slice(0, 160), summary: n.failureSummary })),
                   more: Math.max(0, v.nodes.length - 8) })))))
  .catch((e) => done(JSON.stringify({ error: String(e) })));
"#;

/// The serious and critical axe violations of the page `b` shows, as readable text (empty when
/// there are none).
pub async fn violations(b: &Browser) -> Vec<String> {
    let loaded = b
        .client()
        .execute(&format!("{AXE}\n;return typeof window.axe;"), vec![])
        .await
        .unwrap_or_else(|e| panic!("{}: inject axe-core: {e}", b.label));
    assert_eq!(loaded, "object", "axe-core did not load");
    let answer = b
        .client()
        .execute_async(RUN, vec![])
        .await
        .unwrap_or_else(|e| panic!("{}: run axe-core: {e}", b.label));
    let parsed: Value = answer
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null);
    if let Some(error) = parsed.get("error") {
        panic!("{}: axe-core failed: {error}", b.label);
    }
    parsed
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            let mut text = format!(
                "[{}] {}: {} ({})",
                v["impact"].as_str().unwrap_or_default(),
                v["id"].as_str().unwrap_or_default(),
                v["help"].as_str().unwrap_or_default(),
                v["url"].as_str().unwrap_or_default()
            );
            for node in v["nodes"].as_array().into_iter().flatten() {
                text.push_str(&format!(
                    "\n      at {}\n         {}\n         {}",
                    node["target"].as_str().unwrap_or_default(),
                    node["html"].as_str().unwrap_or_default(),
                    node["summary"]
                        .as_str()
                        .unwrap_or_default()
                        .replace('\n', "\n         ")
                ));
            }
            if let Some(more) = v["more"].as_u64().filter(|n| *n > 0) {
                text.push_str(&format!("\n      … and {more} more nodes"));
            }
            text
        })
        .collect()
}
