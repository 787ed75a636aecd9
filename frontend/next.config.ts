import type { NextConfig } from "next";

const TRACE_EXCLUDES = [
  "**/node_modules/**/*.map",
  "**/node_modules/typescript/**",
  "**/node_modules/sharp/**",
  "**/node_modules/@img/**",
  "**/node_modules/next/dist/compiled/amphtml-validator/**",
  "**/node_modules/next/dist/compiled/@next/font/**",
  "**/node_modules/next/dist/server/capsize-font-metrics.json",
];

const nextConfig: NextConfig = {
  // One self-contained server directory for the container image (see docs/contract.md, "Images").
  output: "standalone",
  // pg stays a plain node_modules package (its optional native binding must not be bundled).
  // The embedded PGlite is not part of the build at all: lib/auth-db.ts loads it from
  // node_modules when the local stack runs without PostgreSQL, and the standalone output (the
  // image) has none of it.
  serverExternalPackages: ["pg"],
  // Kept out of the image (SC-003o): source maps;
  // `typescript`, which the server trace pulls in only because this file is TypeScript (the
  // standalone server embeds the compiled config); sharp, since images are not optimised; and
  // parts of Next that only AMP pages and build-time font optimisation use.
  // The "*" key is the one Next applies to its own server trace, "/**" covers every route.
  outputFileTracingExcludes: {
    "*": TRACE_EXCLUDES,
    "/**": TRACE_EXCLUDES,
  },
  images: { unoptimized: true },
  experimental: {
    // Next loads every page's and route's server code when it starts, by default. Here that is
    // work competing with the first requests for the CPU; each page instead loads on its first
    // request, and the auth stack (most of the code) when /api/ready first asks for it.
    preloadEntriesOnStart: false,
  },
  // `npm run lint` and `npm run typecheck` run before `next build` in every pipeline (xtask,
  // CI); repeating them inside the build doubles its time on a 2-core machine.
  eslint: { ignoreDuringBuilds: true },
  typescript: { ignoreBuildErrors: true },
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
