//! `nexus graphql-schema`: prints the GraphQL schema in SDL, the same text as
//! `docs/schema.graphql` (a test fails when the two drift apart).

use std::io::Write;

/// Writes the SDL to `out`.
pub fn run(out: &mut impl Write) -> std::io::Result<()> {
    out.write_all(crate::graphql::sdl().as_bytes())
}
