// Run after `next build`: gives the standalone server the two optional manifests Next 15 looks for
// on every request to an app route but does not write for this app (no subresource integrity, no
// pages directory). A manifest that is missing is not cached: each request tried to read both
// files again, failed, and built two errors — about 7 % of a trivial route's time. An empty one
// (`{}`, what Next uses when a file is missing) is read once and cached.
//
//   node runtime/complete-standalone.mjs [.next/standalone]
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

export const OPTIONAL_MANIFESTS = ["server/subresource-integrity-manifest.json", "dynamic-css-manifest"];

/** Writes each optional manifest the standalone tree lacks; returns the ones written. */
export function completeStandalone(standaloneDir) {
  const distDir = path.join(standaloneDir, ".next");
  if (!existsSync(path.join(distDir, "BUILD_ID"))) {
    throw new Error(`${distDir} is not a Next.js build (no BUILD_ID); run next build with output: "standalone" first`);
  }
  const written = [];
  for (const manifest of OPTIONAL_MANIFESTS) {
    const file = path.join(distDir, manifest);
    if (existsSync(file)) continue;
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, "{}\n");
    written.push(manifest);
  }
  return written;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    completeStandalone(process.argv[2] ?? ".next/standalone");
  } catch (error) {
    console.error(`complete-standalone: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
