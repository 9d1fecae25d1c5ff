// What the live pipeline says about its configuration: one start-up line, warnings about
// USER_TRACING_* variables that are unknown or set while tracing is disabled; and what static
// header values become on the wire.
import { describe, expect, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Layer, Logger } from "effect"
import * as Net from "node:net"
import { RoutingMetadata, TestUserTracing, UserTracing, UserTracingSettings } from "../src/index.js"
import { routing } from "./utils/helpers.js"
import { ExportTraceServiceRequest } from "./utils/receiver.js"

type Line = readonly [level: string, message: string]

/** Builds `layer` and closes it, keeping what was logged (and the error, if it failed). */
const logsOf = <A, E>(layer: Layer.Layer<A, E>, env?: ReadonlyArray<readonly [string, string]>, pathDelim = ".") =>
  Effect.gen(function*() {
    const lines: Array<Line> = []
    const logger = Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ logLevel, message }) => {
        lines.push([logLevel.label, String(message)])
      })
    )
    const built = Effect.scoped(Layer.build(layer)).pipe(
      Effect.provide(logger),
      env === undefined
        ? (self) => self
        : Effect.withConfigProvider(ConfigProvider.fromMap(new Map(env), { pathDelim }))
    )
    const error = yield* Effect.flip(built).pipe(Effect.orElseSucceed(() => undefined))
    return { lines, error }
  })

const socket = [["USER_TRACING_SOCKET_PATH", "/run/otlp.sock"], [
  "USER_TRACING_ROUTING_HEADER_NAME",
  "x-route"
]] as const
const enabledEnv = [["USER_TRACING_ENABLED", "true"], ["USER_TRACING_SERVICE_NAME", "checkout"]] as const

const disabledLine = (why: string): Line => [
  "INFO",
  `user tracing is disabled (${why}): no user span is recorded or exported`
]

describe("the start-up line", () => {
  it.effect("from the environment: disabled because USER_TRACING_ENABLED is not set", () =>
    Effect.gen(function*() {
      const { lines } = yield* logsOf(UserTracing.layerConfig(), [])
      expect(lines).toEqual([disabledLine("USER_TRACING_ENABLED is not set")])
    }))

  it.effect("from the environment: disabled by USER_TRACING_ENABLED=false, with no warning about the rest", () =>
    Effect.gen(function*() {
      const { lines } = yield* logsOf(UserTracing.layerConfig(), [["USER_TRACING_ENABLED", "false"], ...socket])
      expect(lines).toEqual([disabledLine("USER_TRACING_ENABLED=false")])
    }))

  it.effect("from code: disabled because enabled is not set, or is false", () =>
    Effect.gen(function*() {
      expect((yield* logsOf(UserTracing.layer({}))).lines).toEqual([disabledLine("enabled is not set")])
      expect((yield* logsOf(UserTracing.layer({ enabled: false }))).lines).toEqual([disabledLine("enabled is false")])
    }))

  it.effect("enabled over a Unix socket: the service, the socket, the routing header", () =>
    Effect.gen(function*() {
      const { lines } = yield* logsOf(UserTracing.layerConfig(), [...enabledEnv, ...socket])
      expect(lines).toEqual([[
        "INFO",
        "user tracing is enabled: service \"checkout\", OTLP/HTTP over the Unix socket /run/otlp.sock, routing header x-route"
      ]])
    }))

  it.effect("enabled over TCP: the URL without its query, header names but never their values", () =>
    Effect.gen(function*() {
      const { lines } = yield* logsOf(UserTracing.layer({
        enabled: true,
        serviceName: "checkout",
        output: {
          otlpHttp: {
            url: "https://otlp.example.com:4318/v1/traces?token=q-s3cret",
            routingHeaderName: "x-route",
            headers: { authorization: "Bearer s3cret", "x-team": "a" },
            compression: "gzip"
          }
        }
      }))
      expect(lines).toEqual([[
        "INFO",
        "user tracing is enabled: service \"checkout\", OTLP/HTTP to https://otlp.example.com:4318/v1/traces?… " +
        "(static headers: authorization, x-team), routing header x-route, gzip"
      ]])
      expect(lines.join("\n")).not.toContain("s3cret")
    }))

  it.effect("text from the environment is escaped", () =>
    Effect.gen(function*() {
      const { lines } = yield* logsOf(UserTracing.layerConfig(), [
        ["USER_TRACING_ENABLED", "true"],
        ["USER_TRACING_SERVICE_NAME", "svc\u001b[2J"],
        ["USER_TRACING_SOCKET_PATH", "/run/a\u200b.sock"],
        ["USER_TRACING_ROUTING_HEADER_NAME", "x-route"]
      ])
      expect(lines[0][1]).toContain("service \"svc\\u001b[2J\", OTLP/HTTP over the Unix socket /run/a\\u200b.sock")
    }))

  it.effect("none when the settings are bad: the error says it", () =>
    Effect.gen(function*() {
      const { error, lines } = yield* logsOf(UserTracing.layerConfig(), [["USER_TRACING_ENABLED", "true"]])
      expect(error).toMatchObject({ message: "USER_TRACING_SERVICE_NAME is required when USER_TRACING_ENABLED=true" })
      expect(lines).toEqual([])
    }))
})

describe("unknown USER_TRACING_* variables", () => {
  it.effect("a typo of USER_TRACING_ENABLED is named, with the right name", () =>
    Effect.gen(function*() {
      const { lines } = yield* logsOf(UserTracing.layerConfig(), [["USER_TRACING_ENABLE", "true"]])
      expect(lines).toEqual([
        [
          "WARN",
          "USER_TRACING_ENABLE is not a user tracing setting and is ignored; did you mean USER_TRACING_ENABLED?"
        ],
        disabledLine("USER_TRACING_ENABLED is not set")
      ])
    }))

  it.effect("names split at _ as the environment provider does, one beside a longer known one included", () =>
    Effect.gen(function*() {
      const { lines } = yield* logsOf(
        UserTracing.layerConfig(),
        [
          ...enabledEnv,
          ...socket,
          ["USER_TRACING_MAX_QUEUE", "3"],
          ["USER_TRACING_MAX_QUEUE_SIZE", "4"],
          ["USER_TRACING_NUMTASKS", "2"],
          ["USER", "someone"],
          ["USERS_TRACING_X", "1"]
        ],
        "_"
      )
      expect(lines.filter(([level]) => level === "WARN")).toEqual([
        [
          "WARN",
          "USER_TRACING_MAX_QUEUE is not a user tracing setting and is ignored; did you mean USER_TRACING_MAX_QUEUE_SIZE?"
        ],
        [
          "WARN",
          "USER_TRACING_NUMTASKS is not a user tracing setting and is ignored; did you mean USER_TRACING_NUM_TASKS?"
        ]
      ])
      expect(lines.at(-1)?.[1]).toMatch(/^user tracing is enabled/)
    }))

  it.effect("warned before a settings error they may explain", () =>
    Effect.gen(function*() {
      const { error, lines } = yield* logsOf(UserTracing.layerConfig(), [
        ["USER_TRACING_SOCKET_PATH", "/run/otlp.sock"],
        ["USER_TRACING_ROUTING_HEADER", "x-route"]
      ])
      expect(error).toMatchObject({
        message: "USER_TRACING_ROUTING_HEADER_NAME is required when USER_TRACING_SOCKET_PATH is set"
      })
      expect(lines).toEqual([[
        "WARN",
        "USER_TRACING_ROUTING_HEADER is not a user tracing setting and is ignored; did you mean USER_TRACING_ROUTING_HEADER_NAME?"
      ]])
    }))

  it.effect("a name with control characters is escaped", () =>
    Effect.gen(function*() {
      const { lines } = yield* logsOf(UserTracing.layerConfig(), [["USER_TRACING_\u001b[2J", "1"]])
      expect(lines[0][1]).toMatch(/^USER_TRACING_\\u001b\[2J is not a user tracing setting/)
    }))

  it.effect("past 20, the rest are counted in one line", () =>
    Effect.gen(function*() {
      const names = Array.from({ length: 25 }, (_, i) => [`USER_TRACING_X${String(i).padStart(2, "0")}`, "1"] as const)
      const { lines } = yield* logsOf(UserTracing.layerConfig(), names)
      const warnings = lines.filter(([level]) => level === "WARN").map(([, message]) => message)
      expect(warnings).toHaveLength(21)
      expect(warnings[0]).toMatch(/^USER_TRACING_X00 is not a user tracing setting/)
      expect(warnings[20]).toBe("5 more USER_TRACING_* variables are not user tracing settings and are ignored")
    }))

  it.effect("with the default provider: process.env, a name in lower case included (it is not read)", () =>
    Effect.gen(function*() {
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          process.env.USER_TRACING_ENABLE = "true"
          process.env.user_tracing_service_name = "checkout"
        }),
        () =>
          Effect.sync(() => {
            delete process.env.USER_TRACING_ENABLE
            delete process.env.user_tracing_service_name
          })
      )
      const { lines } = yield* logsOf(UserTracing.layerConfig())
      const mine = lines.filter(([, message]) => /USER_TRACING_(ENABLE |SERVICE_NAME )/.test(message))
      expect(mine).toEqual([
        [
          "WARN",
          "USER_TRACING_SERVICE_NAME is set in another case and is ignored: variable names are case-sensitive"
        ],
        [
          "WARN",
          "USER_TRACING_ENABLE is not a user tracing setting and is ignored; did you mean USER_TRACING_ENABLED?"
        ]
      ])
    }).pipe(Effect.scoped))

  it.effect("the settings layer alone warns too (and has no start-up line)", () =>
    Effect.gen(function*() {
      const { lines } = yield* logsOf(UserTracingSettings.layerConfig(), [["USER_TRACING_ENABLE", "true"]])
      expect(lines).toEqual([[
        "WARN",
        "USER_TRACING_ENABLE is not a user tracing setting and is ignored; did you mean USER_TRACING_ENABLED?"
      ]])
    }))

  it.effect("not with a Config of the application's own, nor with a provider that renames", () =>
    Effect.gen(function*() {
      const own = yield* logsOf(UserTracing.layerConfig(Config.succeed({})), [["USER_TRACING_ENABLE", "true"]])
      expect(own.lines).toEqual([disabledLine("enabled is not set")])
      const nested = yield* UserTracing.layerConfig().pipe(
        (layer) => logsOf(layer),
        Effect.withConfigProvider(
          ConfigProvider.fromMap(new Map([["APP.USER_TRACING_ENABLE", "true"], ["USER_TRACING_ENABLE", "true"]])).pipe(
            ConfigProvider.nested("APP")
          )
        )
      )
      expect(nested.lines).toEqual([disabledLine("USER_TRACING_ENABLED is not set")])
    }))
})

describe("variables set while USER_TRACING_ENABLED is not", () => {
  it.effect("are named in one warning", () =>
    Effect.gen(function*() {
      const { lines } = yield* logsOf(UserTracing.layerConfig(), [...socket, ["USER_TRACING_SERVICE_NAME", "checkout"]])
      expect(lines).toEqual([
        [
          "WARN",
          "USER_TRACING_SERVICE_NAME, USER_TRACING_SOCKET_PATH, USER_TRACING_ROUTING_HEADER_NAME are set but " +
          "USER_TRACING_ENABLED is not, so user tracing is disabled: set USER_TRACING_ENABLED=true to export"
        ],
        disabledLine("USER_TRACING_ENABLED is not set")
      ])
    }))

  it.effect("one output variable alone is named too (USER_TRACING_NUM_TASKS=4)", () =>
    Effect.gen(function*() {
      const { lines } = yield* logsOf(UserTracing.layerConfig(), [["USER_TRACING_NUM_TASKS", "4"]])
      expect(lines[0]).toEqual([
        "WARN",
        "USER_TRACING_NUM_TASKS is set but USER_TRACING_ENABLED is not, so user tracing is disabled: " +
        "set USER_TRACING_ENABLED=true to export"
      ])
    }))

  it.effect("a bad one fails rather than being ignored (USER_TRACING_NUM_TASKS=abc)", () =>
    Effect.gen(function*() {
      const { error } = yield* logsOf(UserTracing.layerConfig(), [["USER_TRACING_NUM_TASKS", "abc"]])
      expect(error).toBeInstanceOf(UserTracingSettings.UserTracingSettingsError)
      expect(error).toMatchObject({
        path: "output.*.numTasks",
        message: "USER_TRACING_NUM_TASKS must be a decimal integer (got \"abc\")"
      })
    }))
})

/** A TCP receiver that keeps each request's raw head (bytes as sent) and body, and answers 200. */
const rawReceiver = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly requests: Array<{ head: Buffer; body: Buffer }>; close: () => void }>(
    (resume) => {
      const requests: Array<{ head: Buffer; body: Buffer }> = []
      const server = Net.createServer((connection) => {
        let pending = Buffer.alloc(0)
        connection.on("data", (chunk: Buffer) => {
          pending = Buffer.concat([pending, chunk])
          for (;;) {
            const end = pending.indexOf("\r\n\r\n")
            if (end < 0) return
            const head = pending.subarray(0, end)
            const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head.toString("latin1"))?.[1] ?? 0)
            if (pending.length < end + 4 + length) return
            requests.push({ head, body: pending.subarray(end + 4, end + 4 + length) })
            pending = pending.subarray(end + 4 + length)
            connection.write("HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
          }
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as Net.AddressInfo
        resume(Effect.succeed({
          url: `http://127.0.0.1:${port}/v1/traces`,
          requests,
          close: () => server.close()
        }))
      })
    }
  ),
  (receiver) => Effect.sync(receiver.close)
)

/** The lines of a request head whose name is `name`, as bytes. */
const headerLines = (head: Buffer, name: string): Array<Buffer> => {
  const lines: Array<Buffer> = []
  let start = head.indexOf("\r\n") + 2
  while (start > 1 && start < head.length) {
    const end = head.indexOf("\r\n", start)
    const line = head.subarray(start, end < 0 ? head.length : end)
    if (line.toString("latin1").toLowerCase().startsWith(`${name}:`)) lines.push(line)
    start = end < 0 ? head.length : end + 2
  }
  return lines
}

describe("static header values on the wire", () => {
  const traced = UserTracing.withUserTrace("root", { routing })(Effect.void).pipe(
    Effect.zipRight(UserTracing.forceFlush)
  )

  it.effect("percent-escapes from USER_TRACING_HEADERS go out as the UTF-8 bytes they spell, once each", () =>
    Effect.scoped(Effect.gen(function*() {
      const receiver = yield* rawReceiver
      yield* Effect.provide(traced, UserTracing.layerConfig()).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(
          new Map([
            ...enabledEnv,
            ["USER_TRACING_URL", receiver.url],
            ["USER_TRACING_ROUTING_HEADER_NAME", "x-route"],
            ["USER_TRACING_HEADERS", "x-tenant=caf%C3%A9,Authorization=Bearer%20t"]
          ])
        ))
      )
      expect(receiver.requests).toHaveLength(1)
      const [{ body, head }] = receiver.requests
      expect(ExportTraceServiceRequest.decode(body).resourceSpans[0].scopeSpans[0].spans[0].name).toBe("root")
      expect(headerLines(head, "x-tenant").map((line) => line.toString("hex"))).toEqual([
        Buffer.from("x-tenant: caf\u00c3\u00a9", "latin1").toString("hex")
      ])
      expect(headerLines(head, "authorization").map((line) => line.toString("latin1"))).toEqual([
        "Authorization: Bearer t"
      ])
    })))

  it.effect("a non-ASCII value given in code goes out as its UTF-8 bytes", () =>
    Effect.scoped(Effect.gen(function*() {
      const receiver = yield* rawReceiver
      yield* Effect.provide(
        traced,
        UserTracing.layer({
          enabled: true,
          serviceName: "checkout",
          output: { otlpHttp: { url: receiver.url, routingHeaderName: "x-route", headers: { "x-city": "東京" } } }
        })
      )
      expect(receiver.requests).toHaveLength(1)
      expect(headerLines(receiver.requests[0].head, "x-city")[0]).toEqual(
        Buffer.concat([Buffer.from("x-city: "), Buffer.from("東京", "utf8")])
      )
    })))
})

describe("no layer at all", () => {
  const said = (globalThis as Record<symbol, { said: boolean }>)[Symbol.for("effect-user-tracing/span/noHarnessSaid")]

  it.effect("the first root opened with no user tracing layer provided says so once; with a layer, nothing", () =>
    Effect.gen(function*() {
      said.said = false
      const lines: Array<string> = []
      const logger = Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => lines.push(String(message))))
      const root = Effect.void.pipe(UserTracing.withUserTrace("request", { routing: RoutingMetadata.json({ t: "a" }) }))
      yield* Effect.provide(Effect.all([root, root, Effect.void.pipe(UserTracing.withDeferredUserTrace())]), logger)
      expect(lines).toEqual([
        "user tracing: a user trace was opened, but no user tracing layer is provided (UserTracingLive, " +
        "UserTracing.layer or TestUserTracing): nothing is recorded"
      ])
      said.said = false
      lines.length = 0
      yield* root.pipe(Effect.provide(TestUserTracing), Effect.provide(logger))
      expect(lines).toEqual([])
    }))
})
