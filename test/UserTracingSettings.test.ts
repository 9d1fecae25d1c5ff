import { describe, expect, it } from "@effect/vitest"
import type { Layer } from "effect"
import { ConfigProvider, Duration, Effect, Schema } from "effect"
import * as UserTracingSettings from "../src/UserTracingSettings.js"

const uds = { socketPath: "/run/otlp.sock", routingHeaderName: "x-route" }
const http = { url: "http://127.0.0.1:4318/v1/traces", routingHeaderName: "x-route" }
const enabled = { enabled: true, serviceName: "svc", output: { otlpUds: uds } }

const settingsOf = (layer: Layer.Layer<UserTracingSettings.UserTracingSettings, unknown>) =>
  Effect.provide(UserTracingSettings.UserTracingSettings, layer)

const fromEnv = (vars: ReadonlyArray<readonly [string, string]>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(vars)))

describe("defaults", () => {
  it.effect("disabled builds with nothing else", () =>
    Effect.gen(function*() {
      const settings = yield* settingsOf(UserTracingSettings.layer({}))
      expect(settings.enabled).toBe(false)
      expect(settings.serviceName).toBeUndefined()
      expect(settings.output).toBeUndefined()
      expect(settings.maxQueueSize).toBe(UserTracingSettings.defaultMaxQueueSize)
    }))

  it.effect("an enabled uds output gets every default", () =>
    Effect.gen(function*() {
      const settings = yield* UserTracingSettings.decode(enabled)
      expect(settings).toMatchObject({
        enabled: true,
        serviceName: "svc",
        maxQueueSize: 65_536,
        limits: { maxAttributes: 128, maxEvents: 128, maxAttributeValueLength: 4096 }
      })
      expect(Duration.toMillis(settings.shutdownTimeout)).toBe(10_000)
      const output = settings.output!
      if (!("otlpUds" in output)) throw new Error("expected otlpUds")
      expect(output.otlpUds).toMatchObject({ ...uds, numTasks: 1, maxBatchSize: 512, maxAttempts: 5 })
      expect(Duration.toMillis(output.otlpUds.requestTimeout)).toBe(10_000)
    }))

  it.effect("durations as milliseconds or strings, maxQueueSize null", () =>
    Effect.gen(function*() {
      const settings = yield* UserTracingSettings.decode({
        ...enabled,
        maxQueueSize: null,
        shutdownTimeout: "500 millis",
        output: { otlpHttp: { ...http, requestTimeout: 2500 } }
      })
      expect(settings.maxQueueSize).toBeNull()
      expect(Duration.toMillis(settings.shutdownTimeout)).toBe(500)
      expect(settings.output).toMatchObject({ otlpHttp: { url: http.url } })
      if (settings.output && "otlpHttp" in settings.output) {
        expect(Duration.toMillis(settings.output.otlpHttp.requestTimeout)).toBe(2500)
      }
    }))

  it.effect("encodes back to input, durations in milliseconds", () =>
    Effect.gen(function*() {
      const settings = yield* UserTracingSettings.decode(enabled)
      expect(yield* Schema.encode(UserTracingSettings.SettingsSchema)(settings)).toEqual({
        ...enabled,
        maxQueueSize: 65_536,
        maxQueueBytes: 64 * 1024 * 1024,
        maxRoutingValueBytes: 4_096,
        output: {
          otlpUds: {
            ...uds,
            numTasks: 1,
            maxBatchSize: 512,
            maxBatchBytes: 4 * 1024 * 1024,
            requestTimeout: 10_000,
            maxAttempts: 5,
            compression: "none"
          }
        },
        shutdownTimeout: 10_000,
        limits: {
          maxAttributes: 128,
          maxEvents: 128,
          maxEventAttributes: 128,
          maxLinks: 128,
          maxLinkAttributes: 128,
          maxAttributeValueLength: 4096
        }
      })
    }))
})

const bad: ReadonlyArray<readonly [string, UserTracingSettings.SettingsInput, string]> = [
  ["empty socketPath", { output: { otlpUds: { ...uds, socketPath: "" } } }, "output.otlpUds.socketPath"],
  ["empty serviceName while enabled", { ...enabled, serviceName: "" }, "serviceName"],
  ["empty serviceName while disabled", { serviceName: "" }, "serviceName"],
  ["missing serviceName while enabled", { enabled: true, output: { otlpUds: uds } }, "serviceName"],
  ["missing output while enabled", { enabled: true, serviceName: "svc" }, "output"],
  [
    "header name with a space",
    { output: { otlpUds: { ...uds, routingHeaderName: "bad header" } } },
    "output.otlpUds.routingHeaderName"
  ],
  [
    "header name with a newline",
    { output: { otlpHttp: { ...http, routingHeaderName: "x-route\n" } } },
    "output.otlpHttp.routingHeaderName"
  ],
  [
    "reserved header name",
    { output: { otlpUds: { ...uds, routingHeaderName: "Content-Type" } } },
    "output.otlpUds.routingHeaderName"
  ],
  ["numTasks 0", { output: { otlpUds: { ...uds, numTasks: 0 } } }, "output.otlpUds.numTasks"],
  ["numTasks 1.5", { output: { otlpUds: { ...uds, numTasks: 1.5 } } }, "output.otlpUds.numTasks"],
  ["maxBatchSize -1", { output: { otlpHttp: { ...http, maxBatchSize: -1 } } }, "output.otlpHttp.maxBatchSize"],
  ["maxAttempts 0", { output: { otlpUds: { ...uds, maxAttempts: 0 } } }, "output.otlpUds.maxAttempts"],
  ["maxQueueSize 0", { maxQueueSize: 0 }, "maxQueueSize"],
  ["negative limit", { limits: { maxEvents: -1 } }, "limits.maxEvents"],
  ["bad duration string", { shutdownTimeout: "10 parsecs" }, "shutdownTimeout"],
  ["negative duration", { output: { otlpUds: { ...uds, requestTimeout: -1 } } }, "output.otlpUds.requestTimeout"],
  ["non-http url", { output: { otlpHttp: { ...http, url: "ftp://example.com/v1/traces" } } }, "output.otlpHttp.url"],
  [
    "numTasks 1e9 (would fork a billion fibers)",
    { output: { otlpUds: { ...uds, numTasks: 1e9 } } },
    "output.otlpUds.numTasks"
  ],
  ["numTasks past the bound", { output: { otlpUds: { ...uds, numTasks: 257 } } }, "output.otlpUds.numTasks"],
  ["maxBatchSize 1e9", { output: { otlpHttp: { ...http, maxBatchSize: 1e9 } } }, "output.otlpHttp.maxBatchSize"],
  [
    "requestTimeout 30 days (past Node's timer range)",
    { output: { otlpUds: { ...uds, requestTimeout: "30 days" } } },
    "output.otlpUds.requestTimeout"
  ],
  ["shutdownTimeout 2^31 ms", { shutdownTimeout: 2 ** 31 }, "shutdownTimeout"],
  ["shutdownTimeout infinite", { shutdownTimeout: "Infinity" }, "shutdownTimeout"],
  ["a 140-byte socketPath (the kernel would cut it)", {
    output: { otlpUds: { ...uds, socketPath: `/${"s".repeat(139)}` } }
  }, "output.otlpUds.socketPath"],
  [
    "a socketPath of 36 characters but 108 bytes",
    { output: { otlpUds: { ...uds, socketPath: "東".repeat(36) } } },
    "output.otlpUds.socketPath"
  ],
  [
    "unknown compression",
    { output: { otlpUds: { ...uds, compression: "brotli" as never } } },
    "output.otlpUds.compression"
  ],
  [
    "a static header with a bad name",
    { output: { otlpHttp: { ...http, headers: { "bad name": "x" } } } },
    "output.otlpHttp.headers.bad name"
  ],
  ["a static header value with a newline", {
    output: { otlpHttp: { ...http, headers: { authorization: "x\r\ninjected: 1" } } }
  }, "output.otlpHttp.headers.authorization"],
  [
    "a static header the exporter sets",
    { output: { otlpHttp: { ...http, headers: { "Content-Encoding": "br" } } } },
    "output.otlpHttp.headers.Content-Encoding"
  ],
  [
    "a static header repeating the routing header",
    { output: { otlpHttp: { ...http, headers: { "X-Route": "x" } } } },
    "output.otlpHttp.headers.X-Route"
  ],
  ["headers on a uds output", { output: { otlpUds: { ...uds, headers: {} } as never } }, "output.otlpUds.headers"],
  ["unparsable url", { output: { otlpHttp: { ...http, url: "not a url" } } }, "output.otlpHttp.url"],
  ["both outputs", { output: { otlpUds: uds, otlpHttp: http } }, "output"],
  ["no output kind", { output: {} as never }, "output"],
  ["typo in a field", { output: { otlpUds: { ...uds, sockerPath: "/x" } as never } }, "output.otlpUds.sockerPath"],
  ["typo at the top", { enable: true } as never, "enable"]
]

describe("limits a new user may hit", () => {
  it.effect("accepted at the bounds: 256 tasks, 2^31-1 ms, a 107-byte socket path", () =>
    Effect.gen(function*() {
      const socketPath = `/${"s".repeat(106)}`
      const settings = yield* UserTracingSettings.decode({
        ...enabled,
        shutdownTimeout: 2 ** 31 - 1,
        output: { otlpUds: { ...uds, socketPath, numTasks: 256, maxBatchSize: 65_536, requestTimeout: "24 days" } }
      })
      expect(settings.output).toMatchObject({ otlpUds: { socketPath, numTasks: 256 } })
    }))

  it.effect("an https url with static headers and gzip", () =>
    Effect.gen(function*() {
      const settings = yield* UserTracingSettings.decode({
        ...enabled,
        output: {
          otlpHttp: {
            ...http,
            url: "https://otlp.example.com/v1/traces",
            headers: { authorization: "Bearer abc", "x-tenant": "café" },
            compression: "gzip"
          }
        }
      })
      expect(settings.output).toMatchObject({
        otlpHttp: { headers: { authorization: "Bearer abc", "x-tenant": "café" }, compression: "gzip" }
      })
    }))
})

describe("bad settings fail with the field path", () => {
  it.effect.each(bad)("%s", ([, input, path]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(UserTracingSettings.decode(input))
      expect(error._tag).toBe("UserTracingSettingsError")
      expect(error.path).toBe(path)
      expect(error.message.startsWith(`${path}: `)).toBe(true)
    }))

  it.effect("the layer fails in the error channel", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(settingsOf(UserTracingSettings.layer({ enabled: true })))
      expect(error).toBeInstanceOf(UserTracingSettings.UserTracingSettingsError)
      expect(error).toMatchObject({ path: "serviceName", message: "serviceName: is required when enabled" })
    }))
})

describe("layerConfig", () => {
  const fromConfig = settingsOf(UserTracingSettings.layerConfig())

  it.effect("none set: disabled", () =>
    Effect.gen(function*() {
      const settings = yield* fromEnv([])(fromConfig)
      expect(settings.enabled).toBe(false)
      expect(settings.output).toBeUndefined()
    }))

  it.effect("a socket path selects otlpUds", () =>
    Effect.gen(function*() {
      const settings = yield* fromEnv([
        ["USER_TRACING_ENABLED", "true"],
        ["USER_TRACING_SERVICE_NAME", "svc"],
        ["USER_TRACING_MAX_QUEUE_SIZE", "unbounded"],
        ["USER_TRACING_SOCKET_PATH", "/run/otlp.sock"],
        ["USER_TRACING_ROUTING_HEADER_NAME", "x-route"],
        ["USER_TRACING_NUM_TASKS", "4"],
        ["USER_TRACING_REQUEST_TIMEOUT", "2 seconds"],
        ["USER_TRACING_SHUTDOWN_TIMEOUT", "1500"]
      ])(fromConfig)
      expect(settings).toMatchObject({
        enabled: true,
        serviceName: "svc",
        maxQueueSize: null,
        output: { otlpUds: { ...uds, numTasks: 4, maxBatchSize: 512 } }
      })
      expect(Duration.toMillis(settings.shutdownTimeout)).toBe(1500)
    }))

  it.effect("a url selects otlpHttp", () =>
    Effect.gen(function*() {
      const settings = yield* fromEnv([
        ["USER_TRACING_URL", http.url],
        ["USER_TRACING_ROUTING_HEADER_NAME", "x-route"],
        ["USER_TRACING_MAX_BATCH_SIZE", "64"]
      ])(fromConfig)
      expect(settings.output).toMatchObject({ otlpHttp: { ...http, maxBatchSize: 64 } })
    }))

  it.effect("both a socket path and a url fail, naming them", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        fromEnv([
          ["USER_TRACING_SOCKET_PATH", "/run/otlp.sock"],
          ["USER_TRACING_URL", http.url],
          ["USER_TRACING_ROUTING_HEADER_NAME", "x-route"]
        ])(fromConfig)
      )
      expect(String(error)).toContain("USER_TRACING_SOCKET_PATH")
      expect(String(error)).toContain("USER_TRACING_URL")
    }))

  it.effect("an output without a routing header fails, naming the variable", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(fromEnv([["USER_TRACING_SOCKET_PATH", "/run/otlp.sock"]])(fromConfig))
      expect(String(error)).toContain("USER_TRACING_ROUTING_HEADER_NAME")
    }))

  it.effect.each(
    [
      ["USER_TRACING_NUM_TASKS", "abc", "output.otlpUds.numTasks"],
      ["USER_TRACING_NUM_TASKS", "1e9", "output.otlpUds.numTasks"],
      ["USER_TRACING_NUM_TASKS", "", "output.otlpUds.numTasks"],
      ["USER_TRACING_MAX_BATCH_SIZE", "lots", "output.otlpUds.maxBatchSize"],
      ["USER_TRACING_MAX_ATTEMPTS", "3x", "output.otlpUds.maxAttempts"],
      ["USER_TRACING_MAX_QUEUE_SIZE", "abc", "maxQueueSize"],
      ["USER_TRACING_MAX_QUEUE_BYTES", "64MB", "maxQueueBytes"],
      ["USER_TRACING_MAX_BATCH_BYTES", "four", "output.otlpUds.maxBatchBytes"],
      ["USER_TRACING_REQUEST_TIMEOUT", "30 days", "output.otlpUds.requestTimeout"],
      ["USER_TRACING_COMPRESSION", "zstd", "output.otlpUds.compression"],
      ["USER_TRACING_ENABLED", "maybe", "enabled"]
    ] as const
  )("%s=%s fails with UserTracingSettingsError naming %s", ([name, value, path]) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        fromEnv([
          ["USER_TRACING_SOCKET_PATH", "/run/otlp.sock"],
          ["USER_TRACING_ROUTING_HEADER_NAME", "x-route"],
          [name, value]
        ])(fromConfig)
      )
      expect(error).toBeInstanceOf(UserTracingSettings.UserTracingSettingsError)
      expect(error).toMatchObject({ path })
    }))

  it.effect("USER_TRACING_HEADERS is k=v,k2=v2 with percent-decoded values; USER_TRACING_COMPRESSION", () =>
    Effect.gen(function*() {
      const settings = yield* fromEnv([
        ["USER_TRACING_URL", "https://otlp.example.com/v1/traces"],
        ["USER_TRACING_ROUTING_HEADER_NAME", "x-route"],
        ["USER_TRACING_HEADERS", " authorization = Basic%20dXNlcjpwYXNz , x-tenant=caf%C3%A9,, x-eq=a%3Db"],
        ["USER_TRACING_COMPRESSION", "gzip"]
      ])(fromConfig)
      expect(settings.output).toMatchObject({
        otlpHttp: {
          headers: { authorization: "Basic dXNlcjpwYXNz", "x-tenant": "café", "x-eq": "a=b" },
          compression: "gzip"
        }
      })
    }))

  it.effect("USER_TRACING_HEADERS: a bad entry, a bad header, or a socket output fail", () =>
    Effect.gen(function*() {
      const env = (headers: string, output: readonly [string, string] = ["USER_TRACING_URL", http.url]) =>
        Effect.flip(
          fromEnv([output, ["USER_TRACING_ROUTING_HEADER_NAME", "x-route"], ["USER_TRACING_HEADERS", headers]])(
            fromConfig
          )
        )
      for (const malformed of ["novalue", "k=%E0%A4%A", "=v"]) {
        const error = yield* env(malformed)
        expect(error).toBeInstanceOf(UserTracingSettings.UserTracingSettingsError)
        expect(error).toMatchObject({
          path: "output.otlpHttp.headers",
          message: expect.stringContaining("USER_TRACING_HEADERS: a list of name=value")
        })
      }
      expect(yield* env("k=a%0Ab")).toMatchObject({ path: "output.otlpHttp.headers.k" })
      expect(yield* env("x-route=1")).toMatchObject({ path: "output.otlpHttp.headers.x-route" })
      expect(String(yield* env("k=v", ["USER_TRACING_SOCKET_PATH", "/run/otlp.sock"]))).toContain(
        "USER_TRACING_URL only"
      )
    }))

  it.effect("a bad number names the field", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        fromEnv([
          ["USER_TRACING_SOCKET_PATH", "/run/otlp.sock"],
          ["USER_TRACING_ROUTING_HEADER_NAME", "x-route"],
          ["USER_TRACING_NUM_TASKS", "1.5"]
        ])(fromConfig)
      )
      expect(error).toMatchObject({ _tag: "UserTracingSettingsError", path: "output.otlpUds.numTasks" })
    }))
})
