// Makes `.next/standalone` runnable as it is (`npm start`, the integration test): the standalone
// server serves `.next/static` and `public` from its own directory but `next build` leaves them
// outside it. The Dockerfile copies the same two directories the same way.
import { cpSync, existsSync } from "node:fs";

const standalone = ".next/standalone";
if (!existsSync(`${standalone}/server.js`)) {
  console.error("postbuild: .next/standalone/server.js is missing; is `output: \"standalone\"` set?");
  process.exit(1);
}
cpSync(".next/static", `${standalone}/.next/static`, { recursive: true });
if (existsSync("public")) cpSync("public", `${standalone}/public`, { recursive: true });
