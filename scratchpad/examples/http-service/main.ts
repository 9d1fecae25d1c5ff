/**
 * Runs the service on Node: `PORT` (default 3000), `INVENTORY_URL`, and the `USER_TRACING_*`
 * variables for `UserTracingLive`, e.g.
 *
 *   USER_TRACING_ENABLED=true USER_TRACING_SERVICE_NAME=checkout \
 *   USER_TRACING_SOCKET_PATH=/tmp/otlp.sock USER_TRACING_ROUTING_HEADER_NAME=x-user-routing \
 *   INVENTORY_URL=http://127.0.0.1:3000 npx tsx main.ts
 *
 * with `npx user-tracing-sink --socket /tmp/otlp.sock` showing the traces. Ctrl-C stops the
 * server, then the tracing layer closes and flushes what is queued.
 */
import { HttpServer } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Config, Layer } from "effect"
import { UserTracingLive } from "effect-user-tracing"
import { createServer } from "node:http"
import { HttpLive, Inventory } from "./app.js"

const MainLive = HttpLive.pipe(
  HttpServer.withLogAddress,
  Layer.provide(Inventory.layerConfig),
  Layer.provide(NodeHttpClient.layerUndici),
  Layer.provide(NodeHttpServer.layerConfig(createServer, { port: Config.withDefault(Config.integer("PORT"), 3000) })),
  // Provided last, so it is built first and closed last: after the server has stopped.
  Layer.provide(UserTracingLive)
)

NodeRuntime.runMain(Layer.launch(MainLive))
