// Serves @octokit/fixtures-server's middleware on 127.0.0.1 only (its CLI listens on every
// interface), on a free port that it prints as "PORT <n>". Usage: node serve-fixtures.mjs DIR
// where DIR holds one nock fixture file per scenario (NAME.json). Exits when stdin closes, so
// it never outlives the test process.
import express from "express";
import fixturesServer from "@octokit/fixtures-server";
import { readdirSync, readFileSync } from "node:fs";

const dir = process.argv[2];
const fixtures = {};
for (const f of readdirSync(dir)) {
  if (f.endsWith(".json")) fixtures[f.slice(0, -5)] = JSON.parse(readFileSync(`${dir}/${f}`, "utf8"));
}
const app = express();
app.get("/ping", (req, res) => res.json({ ok: true }));
const server = app.listen(0, "127.0.0.1", () => {
  const port = server.address().port;
  app.use(fixturesServer({ port, fixturesUrl: `http://127.0.0.1:${port}`, logLevel: "warn", ttl: 600000, fixtures }));
  process.stdout.write(`PORT ${port}\n`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
