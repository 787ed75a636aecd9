// Makes `.next/standalone` runnable as it is (`npm start`, the integration test): the standalone
// server serves `.next/static` and `public` from its own directory but `next build` leaves them
// outside it, and it needs the optional manifests and the entry point of runtime/. The Dockerfile
// does the same steps itself.
import { cpSync, existsSync } from "node:fs";
import { completeStandalone } from "../runtime/complete-standalone.mjs";

const standalone = ".next/standalone";
if (!existsSync(`${standalone}/server.js`)) {
  console.error("postbuild: .next/standalone/server.js is missing; is `output: \"standalone\"` set?");
  process.exit(1);
}
cpSync(".next/static", `${standalone}/.next/static`, { recursive: true });
if (existsSync("public")) cpSync("public", `${standalone}/public`, { recursive: true });
completeStandalone(standalone);
cpSync("runtime", `${standalone}/runtime`, { recursive: true });
